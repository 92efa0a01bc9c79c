// Package ssotest is a connector whose behaviour a test sets (func
// fields), for testing the login flow, the API and the pages without an
// identity provider. By default it answers as a provider that signs in
// whoever the callback names: Begin sends the browser to
// https://idp.test/authorize?state=KEY, RequestKey reads "state", and
// Finish asserts the person in the form's "sub", "email", "given_name",
// "family_name" and "group" values.
package ssotest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/connector"
)

// Behaviour is what the test sets; a nil field takes the default.
type Behaviour struct {
	Begin      func(ctx context.Context, req *connector.Request) (*connector.Redirect, error)
	RequestKey func(r *http.Request) string
	Finish     func(ctx context.Context, req *connector.Request, r *http.Request) (*connector.Assertion, error)
	mu         sync.Mutex
	opened     int
	env        connector.Env
}

// Opened is how many connectors were opened (the service caches them) and
// the environment of the last.
func (b *Behaviour) Opened() (int, connector.Env) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opened, b.env
}

// Types registers the mock under each name (e.g. "saml", "oidc"), all
// sharing b.
func Types(b *Behaviour, names ...string) sso.Types {
	t := sso.Types{}
	for _, n := range names {
		t[n] = func() connector.Config { return &Config{b: b} }
	}
	return t
}

// Config is the mock's stored settings: an issuer, a secret the API must
// never show, and keys it makes itself (Preparer) and rotates
// (KeyRotator).
type Config struct {
	Issuer string   `json:"issuer"`
	Secret string   `json:"secret,omitempty"`
	Keys   []string `json:"keys,omitempty"`
	// MetadataURL makes the config a Refresher: Refresh sets Fetched to
	// the URL's body.
	MetadataURL string `json:"metadata_url,omitempty"`
	Fetched     string `json:"fetched,omitempty"`

	b *Behaviour
}

// Public is the config without its secret.
type Public struct {
	Issuer    string   `json:"issuer"`
	SecretSet bool     `json:"secret_set"`
	Keys      []string `json:"keys"`
	Fetched   string   `json:"fetched,omitempty"`
}

// Validate reports every mistake at once.
func (c *Config) Validate() error {
	var fs problem.Fields
	if c.Issuer == "" {
		fs.Add("config.issuer", "issuer is required")
	}
	if len(c.Secret) > 100 {
		fs.Add("config.secret", "secret is longer than 100 characters")
	}
	return fs.Err()
}

// Open builds the connector.
func (c *Config) Open(ctx context.Context, env connector.Env) (connector.Connector, error) {
	c.b.mu.Lock()
	c.b.opened++
	c.b.env = env
	c.b.mu.Unlock()
	return &Connector{cfg: *c, env: env}, nil
}

// Public leaves the secret out.
func (c *Config) Public() any {
	return Public{Issuer: c.Issuer, SecretSet: c.Secret != "", Keys: c.Keys, Fetched: c.Fetched}
}

// KeepSecrets keeps the stored secret when none is given.
func (c *Config) KeepSecrets(stored connector.Config) {
	if s, ok := stored.(*Config); ok {
		if c.Secret == "" {
			c.Secret = s.Secret
		}
		if c.Keys == nil {
			c.Keys = s.Keys
		}
	}
}

// Prepare makes the first key.
func (c *Config) Prepare(now time.Time) error {
	if len(c.Keys) == 0 {
		c.Keys = []string{"key-" + now.UTC().Format("20060102T150405")}
	}
	return nil
}

// RotateKey adds a key, or with two drops the first.
func (c *Config) RotateKey(now time.Time) (connector.Config, string, error) {
	n := *c
	if len(c.Keys) >= 2 {
		n.Keys = append([]string(nil), c.Keys[1:]...)
		return &n, "retired the old key", nil
	}
	n.Keys = append(append([]string(nil), c.Keys...), "key-"+now.UTC().Format("20060102T150405")+"-next")
	return &n, "added a new key", nil
}

// Refresh fetches MetadataURL.
func (c *Config) Refresh(ctx context.Context, client *http.Client) (connector.Config, error) {
	if c.MetadataURL == "" {
		return c, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.MetadataURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("metadata URL answered " + resp.Status)
	}
	buf := make([]byte, 4096)
	k, _ := resp.Body.Read(buf)
	n := *c
	n.Fetched = string(buf[:k])
	return &n, nil
}

// Connector is the opened mock.
type Connector struct {
	cfg Config
	env connector.Env
}

// Begin fills the request's protocol values and sends the browser to the
// fake provider.
func (c *Connector) Begin(ctx context.Context, req *connector.Request) (*connector.Redirect, error) {
	if c.cfg.b.Begin != nil {
		return c.cfg.b.Begin(ctx, req)
	}
	req.Nonce, req.CodeVerifier, req.AuthnRequestID = "nonce-"+req.Key[:8], "verifier", "id-"+req.Key[:8]
	return &connector.Redirect{URL: "https://idp.test/authorize?state=" + url.QueryEscape(req.Key)}, nil
}

// RequestKey reads "state".
func (c *Connector) RequestKey(r *http.Request) string {
	if c.cfg.b.RequestKey != nil {
		return c.cfg.b.RequestKey(r)
	}
	return r.FormValue("state")
}

// Finish asserts the person the form names; a request the gateway did
// not start is refused as unsolicited.
func (c *Connector) Finish(ctx context.Context, req *connector.Request, r *http.Request) (*connector.Assertion, error) {
	if c.cfg.b.Finish != nil {
		return c.cfg.b.Finish(ctx, req, r)
	}
	if req == nil {
		return nil, connector.ErrUnsolicited
	}
	if e := r.FormValue("error"); e != "" {
		return nil, fmt.Errorf("%w: the provider answered %s", connector.ErrProvider, e)
	}
	return &connector.Assertion{Issuer: c.cfg.Issuer, Subject: r.FormValue("sub"), EmailVerified: r.FormValue("unverified") == "",
		Attributes: map[string][]string{"email": {r.FormValue("email")}, "given_name": {r.FormValue("given_name")},
			"family_name": {r.FormValue("family_name")}, "groups": r.Form["group"]},
		Expires: c.env.Now().Add(5 * time.Minute)}, nil
}

// Metadata publishes the keys.
func (c *Connector) Metadata(ctx context.Context) ([]byte, error) {
	out := "<metadata issuer=\"" + c.cfg.Issuer + "\">"
	for _, k := range c.cfg.Keys {
		out += "<key>" + k + "</key>"
	}
	return []byte(out + "</metadata>"), nil
}

var (
	_ connector.Connector  = (*Connector)(nil)
	_ connector.Metadater  = (*Connector)(nil)
	_ connector.Config     = (*Config)(nil)
	_ connector.Preparer   = (*Config)(nil)
	_ connector.KeyRotator = (*Config)(nil)
	_ connector.Refresher  = (*Config)(nil)
)
