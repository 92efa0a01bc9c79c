package sso

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso/connector"
)

// Mapping says which of the provider's attributes (SAML) or claims (OIDC)
// carry a person's email, names and groups: a preset for a known provider,
// each field overridable by name. An empty field takes the preset's name.
type Mapping struct {
	// Preset is "entra" (Entra ID and ADFS), "okta", "keycloak", "google"
	// or "" (or "generic": generic names).
	Preset    string `json:"preset,omitempty"`
	Email     string `json:"email,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	// Groups "-" reads no groups, whatever the preset says.
	Groups string `json:"groups,omitempty"`
}

// Names are the attribute or claim names a mapping reads, worked out for
// a protocol.
type Names struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	// Groups is "" when the connection reads no groups.
	Groups string `json:"groups"`
}

// NoGroups in Mapping.Groups turns a preset's groups off.
const NoGroups = "-"

// Claim names of OpenID Connect's standard claims, and the Entra/ADFS
// claim type URIs SAML assertions carry.
const (
	wsClaims   = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	msGroupURI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
)

// presets are each provider's names, by protocol ("saml", "oidc").
var presets = map[string]map[string]Names{
	"": {
		"saml": {Email: "email", FirstName: "firstName", LastName: "lastName", Groups: "groups"},
		"oidc": {Email: "email", FirstName: "given_name", LastName: "family_name", Groups: "groups"},
	},
	"entra": {
		"saml": {Email: wsClaims + "emailaddress", FirstName: wsClaims + "givenname", LastName: wsClaims + "surname", Groups: msGroupURI},
		"oidc": {Email: "email", FirstName: "given_name", LastName: "family_name", Groups: "groups"},
	},
	"okta": {
		"saml": {Email: "email", FirstName: "firstName", LastName: "lastName", Groups: "groups"},
		"oidc": {Email: "email", FirstName: "given_name", LastName: "family_name", Groups: "groups"},
	},
	// Keycloak's built-in SAML mappers send X.500 attribute names; its
	// group list mapper's default attribute is "member".
	"keycloak": {
		"saml": {Email: "urn:oid:1.2.840.113549.1.9.1", FirstName: "urn:oid:2.5.4.42", LastName: "urn:oid:2.5.4.4", Groups: "member"},
		"oidc": {Email: "email", FirstName: "given_name", LastName: "family_name", Groups: "groups"},
	},
	// Google sends no groups in either protocol.
	"google": {
		"saml": {Email: "email", FirstName: "firstName", LastName: "lastName"},
		"oidc": {Email: "email", FirstName: "given_name", LastName: "family_name"},
	},
}

// presetNames are the preset names a mapping may give.
var presetNames = []string{"entra", "okta", "keycloak", "google"}

// Presets are the preset names a mapping may give ("" aside: generic
// names).
func Presets() []string { return append([]string(nil), presetNames...) }

const maxAttrName = 512

// validate reports every mistake in the mapping, fields named
// "mapping.<json name>".
func (m *Mapping) validate() error {
	var fs problem.Fields
	m.Preset = strings.ToLower(strings.TrimSpace(m.Preset))
	if m.Preset == "generic" {
		m.Preset = ""
	}
	if _, ok := presets[m.Preset]; !ok {
		fs.Add("mapping.preset", fmt.Sprintf("unknown preset %q: use one of %s, or leave it empty for generic names", m.Preset, strings.Join(presetNames, ", ")))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"email", &m.Email}, {"first_name", &m.FirstName}, {"last_name", &m.LastName}, {"groups", &m.Groups}} {
		*f.v = strings.TrimSpace(*f.v)
		if len(*f.v) > maxAttrName {
			fs.Add("mapping."+f.name, fmt.Sprintf("an attribute name is at most %d characters", maxAttrName))
		}
	}
	return fs.Err()
}

// Names are the names the mapping reads for the protocol typ: the
// preset's, overridden field by field.
func (m Mapping) Names(typ string) Names {
	p, ok := presets[m.Preset]
	if !ok {
		p = presets[""]
	}
	n, ok := p[typ]
	if !ok {
		n = p["oidc"]
	}
	for _, f := range []struct{ over, dst *string }{{&m.Email, &n.Email}, {&m.FirstName, &n.FirstName}, {&m.LastName, &n.LastName}, {&m.Groups, &n.Groups}} {
		if *f.over != "" {
			*f.dst = *f.over
		}
	}
	if n.Groups == NoGroups {
		n.Groups = ""
	}
	return n
}

// claims are the names as a connector's Env.Claims lists them.
func (n Names) claims() []string {
	var out []string
	for _, c := range []string{n.Email, n.FirstName, n.LastName, n.Groups} {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// ErrNoEmail refuses an assertion without the attribute the mapping reads
// the email from.
var ErrNoEmail = problem.New(problem.Unauthorized, "sso_no_email",
	"your organization's sign-in service did not say your email address, which this gateway needs; ask your administrator to release it")

// Apply reads a checked assertion through the names: the person's
// identity (issuer, subject, email, names) and the groups asserted. An
// assertion without the email attribute is refused, naming the attribute
// expected (for the admin's log and the page).
func (n Names) Apply(as *connector.Assertion) (user.Identity, []string, error) {
	first := func(name string) string {
		for _, v := range as.Attributes[name] {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
		return ""
	}
	in := user.Identity{Issuer: as.Issuer, Subject: as.Subject, Email: first(n.Email),
		FirstName: clip(first(n.FirstName), user.MaxName), LastName: clip(first(n.LastName), user.MaxName)}
	if in.Email == "" {
		e := *ErrNoEmail
		e.Message = fmt.Sprintf("your organization's sign-in service did not send the attribute %q with your email address; ask your administrator to release it or to change the connection's mapping", n.Email)
		return in, nil, &e
	}
	if _, err := user.NormalizeEmail(in.Email); err != nil {
		e := *ErrNoEmail
		e.Message = fmt.Sprintf("the attribute %q your organization's sign-in service sent is not an email address; ask your administrator to check the connection's mapping", n.Email)
		return in, nil, &e
	}
	var groups []string
	if n.Groups != "" {
		groups = as.Attributes[n.Groups]
	}
	return in, groups, nil
}

// clip cuts s to n characters: a provider's long name is shortened, not
// a reason to refuse the person.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
