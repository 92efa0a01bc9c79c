package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/oidc"
	"github.com/invitegate/gateway/sso/oidc/oidctest"
)

// atHash is OIDC's at_hash of an access token signed with a 256-bit alg.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// TestMintedTokens sends the connector id tokens made by the test, each
// wrong in one way, and checks that each is refused, beside the honest
// token (and the borderline ones that must pass), so a refusal is always
// the check under test.
func TestMintedTokens(t *testing.T) {
	p := oidctest.NewMinted(t, testClientID, testClientSecret)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs256 := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret}
	withHS256 := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret, SigningAlgs: []string{"RS256", "HS256"}}
	onlyES256 := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret, SigningAlgs: []string{"ES256"}}
	hmacKey := jose.SigningKey{Algorithm: jose.HS256, Key: []byte(testClientSecret)}

	// honest is what a provider would send for req; each case changes it.
	honest := func(nonce string) map[string]any {
		now := time.Now()
		return map[string]any{
			"iss": p.URL, "aud": testClientID, "sub": "person-1", "nonce": nonce,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"email": "p1@example.org", "email_verified": true, "given_name": "Pat", "family_name": "One",
			"groups": []string{"g1", "g2"},
		}
	}
	cases := []struct {
		name   string
		cfg    *oidc.Config
		token  func(claims map[string]any) string
		change func(claims map[string]any)
		want   error // nil: accepted
	}{
		{name: "honest RS256 token", cfg: rs256},
		{name: "wrong issuer", cfg: rs256, change: func(c map[string]any) { c["iss"] = "https://evil.example" }, want: connector.ErrInvalidResponse},
		{name: "issuer with a trailing slash", cfg: rs256, change: func(c map[string]any) { c["iss"] = p.URL + "/" }, want: connector.ErrInvalidResponse},
		{name: "wrong audience", cfg: rs256, change: func(c map[string]any) { c["aud"] = "another-client" }, want: connector.ErrInvalidResponse},
		{name: "several audiences, azp another client", cfg: rs256, change: func(c map[string]any) {
			c["aud"] = []string{testClientID, "another-client"}
			c["azp"] = "another-client"
		}, want: connector.ErrInvalidResponse},
		{name: "several audiences, no azp", cfg: rs256, change: func(c map[string]any) { c["aud"] = []string{testClientID, "another-client"} }, want: connector.ErrInvalidResponse},
		{name: "several audiences, azp this client", cfg: rs256, change: func(c map[string]any) {
			c["aud"] = []string{testClientID, "another-client"}
			c["azp"] = testClientID
		}},
		{name: "one audience, azp another client", cfg: rs256, change: func(c map[string]any) { c["azp"] = "another-client" }, want: connector.ErrInvalidResponse},
		{name: "alg none", cfg: rs256, token: func(c map[string]any) string { return oidctest.Unsigned(t, c) }, want: connector.ErrInvalidResponse},
		{name: "alg none with HS256 configured", cfg: withHS256, token: func(c map[string]any) string { return oidctest.Unsigned(t, c) }, want: connector.ErrInvalidResponse},
		{name: "HS256 with the client secret, RS256 configured", cfg: rs256, token: func(c map[string]any) string { return oidctest.Sign(t, hmacKey, c) }, want: connector.ErrInvalidResponse},
		{name: "HS256 with the client secret, HS256 configured", cfg: withHS256, token: func(c map[string]any) string { return oidctest.Sign(t, hmacKey, c) }},
		{name: "HS256 with another secret, HS256 configured", cfg: withHS256, token: func(c map[string]any) string {
			return oidctest.Sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("not-the-client-secret-but-as-long-as-it")}, c)
		}, want: connector.ErrInvalidResponse},
		{name: "RS256 when only ES256 is configured", cfg: onlyES256, want: connector.ErrInvalidResponse},
		{name: "signed by another key", cfg: rs256, token: func(c map[string]any) string {
			return oidctest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: p.KeyID}}, c)
		}, want: connector.ErrInvalidResponse},
		{name: "expired an hour ago", cfg: rs256, change: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, want: connector.ErrExpired},
		{name: "expired within the clock skew", cfg: rs256, change: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }},
		{name: "wrong nonce", cfg: rs256, change: func(c map[string]any) { c["nonce"] = "another-nonce" }, want: connector.ErrInvalidResponse},
		{name: "no nonce", cfg: rs256, change: func(c map[string]any) { delete(c, "nonce") }, want: connector.ErrInvalidResponse},
		{name: "no sub", cfg: rs256, change: func(c map[string]any) { delete(c, "sub") }, want: connector.ErrInvalidResponse},
		{name: "at_hash of another access token", cfg: rs256, change: func(c map[string]any) { c["at_hash"] = atHash("another-access-token") }, want: connector.ErrInvalidResponse},
		{name: "at_hash of the access token", cfg: rs256, change: func(c map[string]any) { c["at_hash"] = atHash("access-token-1") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := openConnector(t, tc.cfg, testEnv())
			req, _ := begin(t, c)
			claims := honest(req.Nonce)
			if tc.change != nil {
				tc.change(claims)
			}
			mint := tc.token
			if mint == nil {
				mint = func(c map[string]any) string { return p.SignRS256(t, c) }
			}
			code, _ := token.New()
			p.Answer(code, mint(claims), "access-token-1")
			a, err := c.Finish(context.Background(), req, mintedCallback(code, req.Key))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Finish: %v, want the token accepted", err)
				}
				if a.Subject != "person-1" || a.Issuer != p.URL || !slices.Equal(a.Attributes["groups"], []string{"g1", "g2"}) {
					t.Errorf("assertion = %+v", a)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Finish: %v (assertion %+v), want %v", err, a, tc.want)
			}
			if a != nil {
				t.Errorf("refused, yet an assertion came back: %+v", a)
			}
		})
	}
}

// mintedCallback is the browser coming back with code and state.
func mintedCallback(code, state string) *http.Request {
	q := url.Values{"code": {code}, "state": {state}}
	return httptest.NewRequest(http.MethodGet, oidc.RedirectURI(testBaseURL, testConnectionID)+"?"+q.Encode(), nil)
}
