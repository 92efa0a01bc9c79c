package sso

import (
	"fmt"
	"slices"
	"strings"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/oidc"
	"github.com/invitegate/gateway/sso/saml"
)

// Types is a registry of connection types: each type's name ("saml",
// "oidc") and the constructor of its empty Config, which a stored or
// submitted config is decoded into.
type Types map[string]func() connector.Config

// DefaultTypes are the protocols the gateway speaks, one line each: adding
// a protocol is its package and a line here.
func DefaultTypes() Types {
	return Types{
		"saml": func() connector.Config { return &saml.Config{} },
		"oidc": func() connector.Config { return &oidc.Config{} },
	}
}

// Names are the registered type names, sorted.
func (t Types) Names() []string {
	out := make([]string, 0, len(t))
	for n := range t {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// newConfig is an empty Config of the type, or a refusal naming the types
// there are.
func (t Types) newConfig(typ string) (connector.Config, error) {
	mk, ok := t[typ]
	if !ok || mk == nil {
		known := "none are available in this gateway"
		if n := t.Names(); len(n) > 0 {
			known = "use one of: " + strings.Join(n, ", ")
		}
		return nil, problem.Field("type", fmt.Sprintf("unknown type %q: %s", clip(typ, 20), known))
	}
	return mk(), nil
}
