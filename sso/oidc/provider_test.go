package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/oidc"
	"github.com/invitegate/gateway/sso/oidc/oidctest"
)

const (
	testBaseURL      = "http://gateway.test"
	testConnectionID = "conn-1"
	testClientID     = "gateway-client"
	testClientSecret = "a-client-secret-long-enough-for-hs256-0123456789"
)

var mappedClaims = []string{"email", "given_name", "family_name", "groups"}

// realProvider starts oidc-provider with a client for the test gateway and
// two people: ada (verified email, two groups) and bob (unverified email).
func realProvider(t *testing.T) *oidctest.Provider {
	t.Helper()
	return oidctest.Start(t, oidctest.Options{
		ClientID: testClientID, ClientSecret: testClientSecret,
		RedirectURI: oidc.RedirectURI(testBaseURL, testConnectionID),
		Accounts: map[string]map[string]any{
			"ada": {"email": "ada@example.org", "email_verified": true, "given_name": "Ada",
				"family_name": "Lovelace", "name": "Ada Lovelace", "groups": []string{"staff", "engineers"}},
			"bob": {"email": "bob@example.org", "email_verified": false, "given_name": "Bob",
				"family_name": "Builder", "groups": []string{}},
		},
	})
}

func testEnv() connector.Env {
	return connector.Env{
		AccountID: "acct-1", ConnectionID: testConnectionID, BaseURL: testBaseURL,
		Now: time.Now, ClockSkew: 2 * time.Minute,
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Claims:     mappedClaims,
	}
}

func openConnector(t *testing.T, cfg *oidc.Config, env connector.Env) connector.Connector {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c, err := cfg.Open(context.Background(), env)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

// begin starts a login as package sso would: a fresh key, Begin fills in
// the nonce and verifier.
func begin(t *testing.T, c connector.Connector) (*connector.Request, *connector.Redirect) {
	t.Helper()
	key, _ := token.New()
	req := &connector.Request{Key: key, AccountID: "acct-1", ConnectionID: testConnectionID,
		Purpose: "console", ReturnPath: "/console", ExpiresAt: time.Now().Add(10 * time.Minute)}
	redirect, err := c.Begin(context.Background(), req)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return req, redirect
}

func callback(u *url.URL) *http.Request {
	return httptest.NewRequest(http.MethodGet, u.String(), nil)
}

func realConfig(p *oidctest.Provider) *oidc.Config {
	return &oidc.Config{Issuer: p.Issuer, ClientID: testClientID, ClientSecret: testClientSecret,
		Scopes: []string{"openid", "email", "profile", "groups"}}
}

func TestRealProviderLogin(t *testing.T) {
	p := realProvider(t)
	c := openConnector(t, realConfig(p), testEnv())
	req, redirect := begin(t, c)

	auth, err := url.Parse(redirect.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := auth.Query()
	if q.Get("state") != req.Key || q.Get("nonce") != req.Nonce || req.Nonce == "" {
		t.Errorf("authorization URL state/nonce = %q/%q, want the request's %q/%q", q.Get("state"), q.Get("nonce"), req.Key, req.Nonce)
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || req.CodeVerifier == "" {
		t.Errorf("authorization URL without a PKCE S256 challenge: %s", redirect.URL)
	}
	if q.Get("redirect_uri") != testBaseURL+"/sso/oidc/"+testConnectionID+"/callback" {
		t.Errorf("redirect_uri = %q", q.Get("redirect_uri"))
	}

	back := p.NewBrowser(t).SignIn(redirect.URL, "ada")
	if got := c.RequestKey(callback(back)); got != req.Key {
		t.Fatalf("RequestKey = %q, want the state %q", got, req.Key)
	}
	before := time.Now()
	a, err := c.Finish(context.Background(), req, callback(back))
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if a.Issuer != p.Issuer || a.Subject != "ada" {
		t.Errorf("issuer, subject = %q, %q; want %q, ada", a.Issuer, a.Subject, p.Issuer)
	}
	if !a.EmailVerified {
		t.Error("EmailVerified = false for a verified email")
	}
	want := map[string][]string{
		"email": {"ada@example.org"}, "given_name": {"Ada"}, "family_name": {"Lovelace"},
		"groups": {"staff", "engineers"}, "email_verified": {"true"},
	}
	for name, vals := range want {
		if !slices.Equal(a.Attributes[name], vals) {
			t.Errorf("attribute %s = %q, want %q", name, a.Attributes[name], vals)
		}
	}
	if a.Expires.Before(before) || a.Expires.After(before.Add(24*time.Hour)) {
		t.Errorf("Expires = %s, want the id token's expiry soon after %s", a.Expires, before)
	}

	// The code is single-use at the provider: the same answer again fails.
	if _, err := c.Finish(context.Background(), req, callback(back)); !errors.Is(err, connector.ErrInvalidResponse) || !containsAll(err.Error(), "invalid_grant") {
		t.Errorf("replayed code: %v, want ErrInvalidResponse from the token endpoint", err)
	}
}

func TestRealProviderRefusals(t *testing.T) {
	p := realProvider(t)
	c := openConnector(t, realConfig(p), testEnv())

	t.Run("wrong nonce", func(t *testing.T) {
		req, redirect := begin(t, c)
		back := p.NewBrowser(t).SignIn(redirect.URL, "ada")
		req.Nonce = "a-nonce-of-another-login"
		if _, err := c.Finish(context.Background(), req, callback(back)); !errors.Is(err, connector.ErrInvalidResponse) || !containsAll(err.Error(), "nonce") {
			t.Errorf("Finish: %v, want ErrInvalidResponse for the nonce", err)
		}
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		req, redirect := begin(t, c)
		back := p.NewBrowser(t).SignIn(redirect.URL, "ada")
		req.CodeVerifier = "x" + req.CodeVerifier[1:]
		if _, err := c.Finish(context.Background(), req, callback(back)); !errors.Is(err, connector.ErrInvalidResponse) || !containsAll(err.Error(), "invalid_grant") {
			t.Errorf("Finish: %v, want ErrInvalidResponse from the token endpoint", err)
		}
	})
	t.Run("answer to another login", func(t *testing.T) {
		_, redirect := begin(t, c)
		other, _ := begin(t, c)
		back := p.NewBrowser(t).SignIn(redirect.URL, "ada")
		if _, err := c.Finish(context.Background(), other, callback(back)); !errors.Is(err, connector.ErrInvalidResponse) || !containsAll(err.Error(), "state") {
			t.Errorf("Finish: %v, want ErrInvalidResponse for the state", err)
		}
	})
	t.Run("unsolicited", func(t *testing.T) {
		_, redirect := begin(t, c)
		back := p.NewBrowser(t).SignIn(redirect.URL, "ada")
		if _, err := c.Finish(context.Background(), nil, callback(back)); !errors.Is(err, connector.ErrUnsolicited) {
			t.Errorf("Finish: %v, want ErrUnsolicited", err)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		req, _ := begin(t, c)
		u, _ := url.Parse(oidc.RedirectURI(testBaseURL, testConnectionID) + "?error=access_denied&error_description=End-User+aborted&state=" + url.QueryEscape(req.Key))
		_, err := c.Finish(context.Background(), req, callback(u))
		if !errors.Is(err, connector.ErrProvider) || !containsAll(err.Error(), "access_denied", "End-User aborted") {
			t.Errorf("Finish: %v, want ErrProvider naming the error and its description", err)
		}
	})
	t.Run("expired login", func(t *testing.T) {
		req, redirect := begin(t, c)
		back := p.NewBrowser(t).SignIn(redirect.URL, "ada")
		req.ExpiresAt = time.Now().Add(-time.Second)
		if _, err := c.Finish(context.Background(), req, callback(back)); !errors.Is(err, connector.ErrExpired) {
			t.Errorf("Finish: %v, want ErrExpired", err)
		}
	})
}

func TestRealProviderUnverifiedEmail(t *testing.T) {
	p := realProvider(t)
	c := openConnector(t, realConfig(p), testEnv())
	req, redirect := begin(t, c)
	a, err := c.Finish(context.Background(), req, callback(p.NewBrowser(t).SignIn(redirect.URL, "bob")))
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if a.Subject != "bob" || a.EmailVerified || !slices.Equal(a.Attributes["email"], []string{"bob@example.org"}) {
		t.Errorf("assertion = %+v, want bob with an unverified email", a)
	}
}

// oidc-provider puts only sub in the id token of a code flow and the
// scopes' claims in userinfo, so what the mapping reads comes from
// userinfo; with userinfo "never" it is missing.
func TestRealProviderUserInfoModes(t *testing.T) {
	p := realProvider(t)
	cfg := realConfig(p)
	cfg.UserInfo = oidc.UserInfoNever
	c := openConnector(t, cfg, testEnv())
	req, redirect := begin(t, c)
	a, err := c.Finish(context.Background(), req, callback(p.NewBrowser(t).SignIn(redirect.URL, "ada")))
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if _, ok := a.Attributes["email"]; ok || a.EmailVerified {
		t.Errorf("userinfo never: attributes %v, verified %v; want no email from the id token alone", a.Attributes, a.EmailVerified)
	}
}

func TestRealProviderDiscoveryIssuerMustMatch(t *testing.T) {
	p := realProvider(t)
	cfg := realConfig(p)
	cfg.Issuer = p.Issuer + "/"
	if _, err := cfg.Open(context.Background(), testEnv()); !errors.Is(err, connector.ErrProvider) {
		t.Errorf("Open with %q (discovery says %q): %v, want ErrProvider", cfg.Issuer, p.Issuer, err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
