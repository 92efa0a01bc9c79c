package lti_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/lti/ltitest"
)

// A rotation publishes the new key at once and signs with it only after
// the lead time; the old key stays published until its last token has
// expired. Every signature verifies with the published set.
func TestToolKeyRotation(t *testing.T) {
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	ctx := context.Background()
	k := f.svc.Keys
	kids := func() []string {
		set, err := k.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, key := range set.Keys {
			if key.Algorithm != "RS256" || key.Use != "sig" || !key.IsPublic() {
				t.Fatalf("published key %+v is not a public RS256 signing key", key)
			}
			out = append(out, key.KeyID)
		}
		return out
	}
	signer := func() string {
		tok, err := k.Sign(ctx, []byte(`{"iss":"tool"}`))
		if err != nil {
			t.Fatal(err)
		}
		set, _ := k.JWKS(ctx)
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		kid := jws.Signatures[0].Header.KeyID
		keys := set.Key(kid)
		if len(keys) != 1 {
			t.Fatalf("signed with %q, which is not published", kid)
		}
		if _, err := jws.Verify(keys[0].Key); err != nil {
			t.Fatalf("signature does not verify with the published key: %v", err)
		}
		return kid
	}
	first := kids()
	if len(first) != 1 || signer() != first[0] {
		t.Fatalf("first start: published %v", first)
	}
	r, err := k.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(); len(got) != 2 || got[0] != r.KID && got[1] != r.KID {
		t.Fatalf("after rotating: published %v, want the old and the new %s", got, r.KID)
	}
	if signer() != first[0] {
		t.Fatal("the new key signs before the lead time")
	}
	f.clock.Advance(time.Hour + 31*time.Second)
	if signer() != r.KID {
		t.Fatal("the new key does not sign after the lead time")
	}
	if len(kids()) != 2 {
		t.Fatal("the old key left the set before its tokens expired")
	}
	f.clock.Advance(lti.SignedTTL)
	if got := kids(); len(got) != 1 || got[0] != r.KID {
		t.Fatalf("after the old key's tokens expired: published %v", got)
	}
	_, pemText, err := k.PublicPEM(ctx)
	if err != nil || !strings.HasPrefix(pemText, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("public key: %q %v", pemText, err)
	}
}

// The platform's key set is fetched once, refetched on an unknown kid,
// but never sooner than a minute after the last fetch.
func TestPlatformKeySetRefetch(t *testing.T) {
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	ctx := context.Background()
	launch := func(sign ltitest.SignOptions) error {
		state, nonce := f.login(t)
		c := f.plat.Claims(ltitest.User{Sub: "s1", Email: "a@uni.test", Roles: []string{}}, ltitest.Link{ID: "rl"}, nonce)
		_, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.plat.Sign(c, sign), State: state})
		return err
	}
	fetches := func(want int64) {
		t.Helper()
		if got := f.plat.JWKSFetches(); got != want {
			t.Fatalf("%d key set fetches, want %d", got, want)
		}
	}
	if err := launch(ltitest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := launch(ltitest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	fetches(1)

	// The platform rotates: its new kid is unknown, and within the minute
	// the set is not fetched again.
	f.plat.RotateKey()
	if err := launch(ltitest.SignOptions{}); codeOf(err) != lti.ErrKidUnknown.Code {
		t.Fatalf("new kid within the minute: %v", err)
	}
	fetches(1)
	f.clock.Advance(61 * time.Second)
	if err := launch(ltitest.SignOptions{}); err != nil {
		t.Fatalf("new kid after the minute: %v", err)
	}
	fetches(2)

	// A kid the platform never published: refetched once after the
	// minute, refused, and not fetched again at once.
	kid, key := f.plat.UnpublishedKey()
	f.clock.Advance(61 * time.Second)
	for i := 0; i < 3; i++ {
		if err := launch(ltitest.SignOptions{Kid: kid, Key: key}); codeOf(err) != lti.ErrKidUnknown.Code {
			t.Fatalf("unpublished kid: %v", err)
		}
	}
	fetches(3)
}

// The header check reads alg and kid before any key is fetched.
func TestHeaderRefusedBeforeFetch(t *testing.T) {
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	state, nonce := f.login(t)
	c := f.plat.Claims(ltitest.User{Sub: "s1", Roles: []string{}}, ltitest.Link{ID: "rl"}, nonce)
	payload, _ := json.Marshal(c)
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`))
	tok := h + "." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
	if _, err := f.svc.Launch(context.Background(), lti.LaunchRequest{IDToken: tok, State: state}); codeOf(err) != lti.ErrKidMissing.Code {
		t.Fatalf("no kid: %v", err)
	}
	if f.plat.JWKSFetches() != 0 {
		t.Fatal("a token without kid made the tool fetch the key set")
	}
}
