package sso

import (
	"fmt"
	"slices"
	"strings"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso/connector"
)

// Types is the registry of connection types: each type's name ("saml",
// "oidc") and the constructor of its empty Config, which a stored or
// submitted config is decoded into. It is one line per protocol, built
// where the gateway is wired (cmd/gateway/app), so adding a protocol is its
// package and one line there.
type Types map[string]func() connector.Config

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
