// Package oidc is the OpenID Connect relying party of the gateway's SSO
// (coreos/go-oidc and golang.org/x/oauth2): the authorization code flow
// with PKCE (S256), state and nonce kept server-side by package sso, and an
// id token checked for its exact issuer, audience, authorized party,
// signing algorithm, expiry and nonce before its claims become an
// Assertion.
package oidc

import (
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso/connector"
)

// Config is one OIDC connection as stored and edited through the API.
//
// There is deliberately no way to skip the issuer check (go-oidc's
// SkipIssuerCheck or InsecureIssuerURLContext): a multi-tenant provider's
// other tenants sign tokens with the same keys, so the issuer is what tells
// them apart.
type Config struct {
	// Issuer is the provider's issuer URL exactly as its discovery
	// document and id tokens spell it (a trailing slash matters).
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// ClientSecret authenticates the gateway at the token endpoint (and
	// verifies HS256 id tokens when that algorithm is configured). Never
	// returned by the API.
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes asked for; empty means openid email profile. Must hold openid.
	Scopes []string `json:"scopes,omitempty"`
	// SigningAlgs are the only algorithms an id token may be signed with;
	// empty means RS256. "none" is never accepted, and of the HMAC
	// algorithms only HS256 when listed, verified with the client secret.
	SigningAlgs []string `json:"signing_algs,omitempty"`
	// UserInfo says when the userinfo endpoint is asked: "auto" (default)
	// when the id token lacks a claim the connection's mapping reads,
	// "always", or "never".
	UserInfo string `json:"userinfo,omitempty"`
	// AuthParams are extra authorization request parameters (prompt,
	// login_hint, domain_hint, hd, acr_values, max_age, ...). The ones the
	// flow itself sets cannot be overridden.
	AuthParams map[string]string `json:"auth_params,omitempty"`

	// unknown holds the JSON names that are not fields of Config, so a
	// misspelt (or invented) setting is refused instead of ignored.
	unknown []string
}

// UserInfo modes.
const (
	UserInfoAuto   = "auto"
	UserInfoAlways = "always"
	UserInfoNever  = "never"
)

// defaultScopes are asked for when a connection names none.
var defaultScopes = []string{"openid", "email", "profile"}

// asymmetricAlgs are the public-key algorithms go-oidc verifies against the
// provider's JWKS.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

// reservedParams are set by the flow (or would change where the answer
// goes), so an extra auth param may not name them.
var reservedParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "response_mode", "request", "request_uri",
}

var _ connector.Config = (*Config)(nil)

// UnmarshalJSON decodes the config and remembers names it does not know,
// for Validate to report.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	known := []string{"issuer", "client_id", "client_secret", "scopes", "signing_algs", "userinfo", "auth_params"}
	p.unknown = nil
	for name := range all {
		if !slices.Contains(known, name) {
			p.unknown = append(p.unknown, name)
		}
	}
	slices.Sort(p.unknown)
	*c = Config(p)
	return nil
}

// Validate reports every mistake at once.
func (c *Config) Validate() error {
	var f problem.Fields
	for _, name := range c.unknown {
		f.Add("config."+name, "not a setting of an OIDC connection")
	}
	if msg := issuerProblem(c.Issuer); msg != "" {
		f.Add("config.issuer", msg)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		f.Add("config.client_id", "required: the client (application) id the provider gave this gateway")
	}
	if c.ClientSecret == "" {
		f.Add("config.client_secret", "required: the client secret the provider gave this gateway")
	}
	c.validateScopes(&f)
	c.validateAlgs(&f)
	switch c.UserInfo {
	case "", UserInfoAuto, UserInfoAlways, UserInfoNever:
	default:
		f.Add("config.userinfo", `must be "auto", "always" or "never"`)
	}
	for name := range c.AuthParams {
		switch {
		case strings.TrimSpace(name) == "":
			f.Add("config.auth_params", "a parameter name is empty")
		case slices.Contains(reservedParams, name):
			f.Add("config.auth_params", name+" is set by the sign-in flow and cannot be changed")
		}
	}
	return f.Err()
}

// issuerProblem says what is wrong with an issuer URL, or "". Plain http
// is allowed only on loopback, where nobody can sit in between.
func issuerProblem(issuer string) string {
	if issuer == "" {
		return "required: the provider's issuer URL, e.g. https://login.example.com/realms/main"
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "must be an absolute URL such as https://login.example.com"
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "must not carry a query, fragment or user name"
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "must use https (plain http only on loopback, for testing)"
		}
	default:
		return "must use https"
	}
	return ""
}

func (c *Config) validateScopes(f *problem.Fields) {
	if len(c.Scopes) == 0 {
		return
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			f.Add("config.scopes", "each scope is one word with no spaces")
			return
		}
	}
	if !slices.Contains(c.Scopes, "openid") {
		f.Add("config.scopes", "must include openid")
	}
}

func (c *Config) validateAlgs(f *problem.Fields) {
	for _, a := range c.SigningAlgs {
		switch {
		case slices.Contains(asymmetricAlgs, a):
		case a == "HS256":
			if c.ClientSecret == "" {
				f.Add("config.signing_algs", "HS256 id tokens are verified with the client secret, which is not set")
			}
		case strings.EqualFold(a, "none"):
			f.Add("config.signing_algs", "unsigned id tokens (none) are never accepted")
		default:
			f.Add("config.signing_algs", a+" is not supported; use "+strings.Join(asymmetricAlgs, ", ")+" or HS256")
		}
	}
}

// scopes is what the authorization request asks for.
func (c *Config) scopes() []string {
	if len(c.Scopes) == 0 {
		return slices.Clone(defaultScopes)
	}
	return slices.Clone(c.Scopes)
}

// algs is the id token's allowed signing algorithms.
func (c *Config) algs() []string {
	if len(c.SigningAlgs) == 0 {
		return []string{"RS256"}
	}
	return slices.Clone(c.SigningAlgs)
}

func (c *Config) userInfoMode() string {
	if c.UserInfo == "" {
		return UserInfoAuto
	}
	return c.UserInfo
}

// Public is the config as the API shows it: the defaults filled in, the
// client secret only as a flag.
type Public struct {
	Issuer          string            `json:"issuer"`
	ClientID        string            `json:"client_id"`
	ClientSecretSet bool              `json:"client_secret_set"`
	Scopes          []string          `json:"scopes"`
	SigningAlgs     []string          `json:"signing_algs"`
	UserInfo        string            `json:"userinfo"`
	AuthParams      map[string]string `json:"auth_params,omitempty"`
}

// Public leaves the client secret out.
func (c *Config) Public() any {
	return Public{
		Issuer: c.Issuer, ClientID: c.ClientID, ClientSecretSet: c.ClientSecret != "",
		Scopes: c.scopes(), SigningAlgs: c.algs(), UserInfo: c.userInfoMode(), AuthParams: c.AuthParams,
	}
}

// KeepSecrets takes the stored client secret when the update leaves it
// empty, but only for the same issuer and client: a secret is never sent
// to a provider it was not issued by.
func (c *Config) KeepSecrets(stored connector.Config) {
	s, ok := stored.(*Config)
	if !ok || c.ClientSecret != "" {
		return
	}
	if s.Issuer == c.Issuer && s.ClientID == c.ClientID {
		c.ClientSecret = s.ClientSecret
	}
}
