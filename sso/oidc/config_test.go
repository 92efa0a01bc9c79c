package oidc_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso/oidc"
	"github.com/invitegate/gateway/sso/oidc/oidctest"
)

// decode reads a config as the API hands it over.
func decode(t *testing.T, js string) *oidc.Config {
	t.Helper()
	var c oidc.Config
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return &c
}

func fieldsOf(err error) map[string]string {
	out := map[string]string{}
	if p, ok := problem.As(err); ok {
		for _, d := range p.Details {
			out[d.Field] += d.Message + ";"
		}
	}
	return out
}

func TestValidate(t *testing.T) {
	ok := `"issuer":"https://login.example.com","client_id":"c","client_secret":"s"`
	cases := []struct {
		name string
		json string
		want []string // fields at fault; none: valid
	}{
		{"minimal", `{` + ok + `}`, nil},
		{"every setting", `{` + ok + `,"scopes":["openid","email","groups"],"signing_algs":["RS256","ES256","HS256"],"userinfo":"always","auth_params":{"prompt":"select_account"}}`, nil},
		{"loopback http", `{"issuer":"http://127.0.0.1:9000","client_id":"c","client_secret":"s"}`, nil},
		{"empty", `{}`, []string{"config.issuer", "config.client_id", "config.client_secret"}},
		{"plain http", `{"issuer":"http://login.example.com","client_id":"c","client_secret":"s"}`, []string{"config.issuer"}},
		{"relative issuer", `{"issuer":"login.example.com","client_id":"c","client_secret":"s"}`, []string{"config.issuer"}},
		{"issuer with query", `{"issuer":"https://login.example.com/?tenant=x","client_id":"c","client_secret":"s"}`, []string{"config.issuer"}},
		{"alg none", `{` + ok + `,"signing_algs":["none"]}`, []string{"config.signing_algs"}},
		{"alg None", `{` + ok + `,"signing_algs":["RS256","None"]}`, []string{"config.signing_algs"}},
		{"HS512", `{` + ok + `,"signing_algs":["HS512"]}`, []string{"config.signing_algs"}},
		{"HS256 without secret", `{"issuer":"https://login.example.com","client_id":"c","signing_algs":["HS256"]}`, []string{"config.client_secret", "config.signing_algs"}},
		{"scopes without openid", `{` + ok + `,"scopes":["email"]}`, []string{"config.scopes"}},
		{"scope with a space", `{` + ok + `,"scopes":["openid email"]}`, []string{"config.scopes"}},
		{"userinfo mode", `{` + ok + `,"userinfo":"sometimes"}`, []string{"config.userinfo"}},
		{"reserved auth param", `{` + ok + `,"auth_params":{"redirect_uri":"https://evil.example"}}`, []string{"config.auth_params"}},
		{"no issuer check cannot be asked for", `{` + ok + `,"insecure_skip_issuer_check":true}`, []string{"config.insecure_skip_issuer_check"}},
		{"every mistake at once", `{"issuer":"ftp://x","userinfo":"x","signing_algs":["none"],"scopes":["email"]}`,
			[]string{"config.issuer", "config.client_id", "config.client_secret", "config.scopes", "config.signing_algs", "config.userinfo"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := decode(t, tc.json).Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v, want valid", err)
				}
				return
			}
			if problem.KindOf(err) != problem.Invalid {
				t.Fatalf("Validate: %v, want an Invalid problem", err)
			}
			got := fieldsOf(err)
			var names []string
			for f := range got {
				names = append(names, f)
			}
			slices.Sort(names)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("fields at fault = %v, want %v (%v)", names, want, got)
			}
		})
	}
}

func TestPublicHidesTheSecret(t *testing.T) {
	c := decode(t, `{"issuer":"https://login.example.com","client_id":"c","client_secret":"very-secret"}`)
	b, err := json.Marshal(c.Public())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	if strings.Contains(string(b), "very-secret") || got["client_secret_set"] != true {
		t.Errorf("Public = %s, want no secret and client_secret_set true", b)
	}
	if !slices.Equal(c.Public().(oidc.Public).Scopes, []string{"openid", "email", "profile"}) ||
		!slices.Equal(c.Public().(oidc.Public).SigningAlgs, []string{"RS256"}) || got["userinfo"] != "auto" {
		t.Errorf("Public = %s, want the defaults shown", b)
	}
	c.ClientSecret = ""
	if c.Public().(oidc.Public).ClientSecretSet {
		t.Error("client_secret_set true without a secret")
	}
}

func TestKeepSecrets(t *testing.T) {
	stored := decode(t, `{"issuer":"https://login.example.com","client_id":"c","client_secret":"stored-secret"}`)
	cases := []struct {
		name, update, want string
	}{
		{"edit without the secret keeps it", `{"issuer":"https://login.example.com","client_id":"c","scopes":["openid","groups"]}`, "stored-secret"},
		{"a new secret replaces it", `{"issuer":"https://login.example.com","client_id":"c","client_secret":"new"}`, "new"},
		{"another issuer does not get it", `{"issuer":"https://other.example.com","client_id":"c"}`, ""},
		{"another client does not get it", `{"issuer":"https://login.example.com","client_id":"d"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := decode(t, tc.update)
			u.KeepSecrets(stored)
			if u.ClientSecret != tc.want {
				t.Errorf("client secret after KeepSecrets = %q, want %q", u.ClientSecret, tc.want)
			}
		})
	}
}

// A config stored and read back is the same config (and the stored JSON
// holds the secret, which only Public leaves out).
func TestConfigRoundTrip(t *testing.T) {
	c := decode(t, `{"issuer":"https://login.example.com","client_id":"c","client_secret":"s","signing_algs":["ES256"],"auth_params":{"prompt":"login"}}`)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back := decode(t, string(b))
	if err := back.Validate(); err != nil {
		t.Fatalf("stored config no longer valid: %v (%s)", err, b)
	}
	if back.ClientSecret != "s" || back.AuthParams["prompt"] != "login" || !slices.Equal(back.SigningAlgs, []string{"ES256"}) {
		t.Errorf("read back %+v from %s", back, b)
	}
}

func TestBeginSendsAuthParams(t *testing.T) {
	p := oidctest.NewMinted(t, testClientID, testClientSecret)
	cfg := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret,
		Scopes: []string{"openid", "email"}, AuthParams: map[string]string{"prompt": "select_account", "domain_hint": "example.org"}}
	c, err := cfg.Open(context.Background(), testEnv())
	if err != nil {
		t.Fatal(err)
	}
	req, redirect := begin(t, c)
	u, err := url.Parse(redirect.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != p.URL+"/authorize" || q.Get("prompt") != "select_account" || q.Get("domain_hint") != "example.org" ||
		q.Get("scope") != "openid email" || q.Get("client_id") != testClientID || q.Get("response_type") != "code" || q.Get("state") != req.Key {
		t.Errorf("authorization URL = %s", redirect.URL)
	}
	// Every login gets its own nonce and verifier.
	req2, _ := begin(t, c)
	if req2.Nonce == req.Nonce || req2.CodeVerifier == req.CodeVerifier {
		t.Error("two logins share a nonce or a PKCE verifier")
	}
}
