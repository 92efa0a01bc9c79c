package oidc_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/oidc"
	"github.com/invitegate/gateway/sso/oidc/oidctest"
)

// finishMinted runs one login whose id token carries claims (plus the
// protocol claims) and whose userinfo answers info (nil: refuses).
func finishMinted(t *testing.T, p *oidctest.Minted, cfg *oidc.Config, claims, info map[string]any) (*connector.Assertion, error) {
	t.Helper()
	c := openConnector(t, cfg, testEnv())
	req, _ := begin(t, c)
	now := time.Now()
	all := map[string]any{"iss": p.URL, "aud": testClientID, "sub": "person-1", "nonce": req.Nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		all[k] = v
	}
	p.SetUserInfo(info)
	code, _ := token.New()
	p.Answer(code, p.SignRS256(t, all), "access-token-1")
	return c.Finish(context.Background(), req, mintedCallback(code, req.Key))
}

func TestClaimsBecomeAttributes(t *testing.T) {
	p := oidctest.NewMinted(t, testClientID, testClientSecret)
	cfg := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret}
	a, err := finishMinted(t, p, cfg, map[string]any{
		"email": "p1@example.org", "given_name": "Pat", "family_name": "One", "groups": []any{"g1", 7, true},
		"email_verified": "true", "employee_number": 12345678901234567, "ratio": 0.5, "admin": false,
		"address": map[string]any{"country": "NZ"}, "nickname": nil,
	}, nil)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	want := map[string][]string{
		"groups": {"g1", "7", "true"}, "employee_number": {"12345678901234567"}, "ratio": {"0.5"},
		"admin": {"false"}, "address": {`{"country":"NZ"}`}, "sub": {"person-1"},
	}
	for name, vals := range want {
		if !slices.Equal(a.Attributes[name], vals) {
			t.Errorf("attribute %s = %q, want %q", name, a.Attributes[name], vals)
		}
	}
	if _, ok := a.Attributes["nickname"]; ok {
		t.Error("a null claim became an attribute")
	}
	if !a.EmailVerified {
		t.Error(`email_verified "true" (a string) not taken as verified`)
	}
	if exp := a.Expires.Unix(); exp < time.Now().Add(59*time.Minute).Unix() || exp > time.Now().Add(61*time.Minute).Unix() {
		t.Errorf("Expires = %s, want the id token's exp (in an hour)", a.Expires)
	}
}

func TestEmailVerifiedAbsentIsFalse(t *testing.T) {
	p := oidctest.NewMinted(t, testClientID, testClientSecret)
	cfg := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret, UserInfo: oidc.UserInfoNever}
	a, err := finishMinted(t, p, cfg, map[string]any{"email": "p1@example.org"}, nil)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if a.EmailVerified {
		t.Error("EmailVerified true without an email_verified claim")
	}
}

func TestUserInfo(t *testing.T) {
	p := oidctest.NewMinted(t, testClientID, testClientSecret)
	auto := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret}
	full := map[string]any{"email": "p1@example.org", "given_name": "Pat", "family_name": "One", "groups": []string{"g1"}}

	t.Run("not asked when the id token has every mapped claim", func(t *testing.T) {
		// userinfo refuses (nil): asking it would fail the login.
		if _, err := finishMinted(t, p, auto, full, nil); err != nil {
			t.Fatalf("Finish: %v", err)
		}
	})
	t.Run("asked for a missing claim, the id token winning where both speak", func(t *testing.T) {
		a, err := finishMinted(t, p, auto, map[string]any{"email": "from-token@example.org"},
			map[string]any{"sub": "person-1", "email": "from-userinfo@example.org", "email_verified": true,
				"given_name": "Pat", "groups": []string{"g1", "g2"}, "iss": "https://evil.example"})
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if !slices.Equal(a.Attributes["email"], []string{"from-token@example.org"}) || !slices.Equal(a.Attributes["groups"], []string{"g1", "g2"}) ||
			!slices.Equal(a.Attributes["given_name"], []string{"Pat"}) || !a.EmailVerified || !slices.Equal(a.Attributes["iss"], []string{p.URL}) {
			t.Errorf("attributes = %v, verified %v", a.Attributes, a.EmailVerified)
		}
	})
	t.Run("userinfo about someone else", func(t *testing.T) {
		_, err := finishMinted(t, p, auto, map[string]any{"email": "p1@example.org"},
			map[string]any{"sub": "person-2", "groups": []string{"admins"}})
		if !errors.Is(err, connector.ErrInvalidResponse) {
			t.Fatalf("Finish: %v, want ErrInvalidResponse", err)
		}
	})
	t.Run("userinfo failing", func(t *testing.T) {
		_, err := finishMinted(t, p, auto, map[string]any{"email": "p1@example.org"}, nil)
		if !errors.Is(err, connector.ErrProvider) {
			t.Fatalf("Finish: %v, want ErrProvider", err)
		}
	})
	t.Run("always", func(t *testing.T) {
		always := *auto
		always.UserInfo = oidc.UserInfoAlways
		a, err := finishMinted(t, p, &always, full, map[string]any{"sub": "person-1", "locale": "en-NZ"})
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if !slices.Equal(a.Attributes["locale"], []string{"en-NZ"}) {
			t.Errorf("attributes = %v, want userinfo's locale", a.Attributes)
		}
	})
}
