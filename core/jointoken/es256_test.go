package jointoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Strings that encoding/json escapes or rewrites, plus ordinary ones.
var awkward = []string{
	"", "plain", `quote " and back\slash`, "<script>&amp;</script>", "tab\tnew\nline\rret\bbs\fff",
	"\x00\x01\x1f\x7f", "line\u2028para\u2029end", "invalid \xff\xfe utf-8 \xc3", "truncated \xe2\x82",
	"Zoë Ünïcødé 日本語 🎉", "\u00a0nbsp", strings.Repeat("long ", 200),
}

func TestClaimsEncodeAsEncodingJSON(t *testing.T) {
	d := func(sec int64) *jwt.NumericDate { n := jwt.NumericDate(sec); return &n }
	cases := []Claims{
		{},
		{Privileges: []string{}},
		{Claims: jwt.Claims{Issuer: "https://gw.test", Audience: jwt.Audience{"demo-room"}, Subject: "u1", ID: "j1",
			Expiry: d(1700000120), NotBefore: d(1699999995), IssuedAt: d(1700000000)},
			Email: "a@b.test", Name: "A B", Resource: "r1", Role: "viewer", Privileges: []string{"view", "chat"}},
		{Claims: jwt.Claims{Audience: jwt.Audience{"a", "b<&>"}, Expiry: d(-5)}},
		{Claims: jwt.Claims{Audience: jwt.Audience{}}},
	}
	for _, s := range awkward {
		cases = append(cases, Claims{Claims: jwt.Claims{Issuer: s, Subject: s, Audience: jwt.Audience{s}, ID: s},
			Email: s, Name: s, Resource: s, Role: s, Privileges: []string{s, s}})
		cases = append(cases, Claims{Claims: jwt.Claims{Audience: jwt.Audience{s, "x"}}, Name: s})
	}
	for i, c := range cases {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendClaims(nil, &c); string(got) != string(want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestES256TokensVerifyWithGoJose(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "0190f0a4-6c1e-7c3a-9d2b-8a0e5c4f1b2a"
	sig, err := newES256(key, kid)
	if err != nil {
		t.Fatal(err)
	}
	keys := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}}}
	now := time.Now()
	// Enough signatures that some r or s has leading zero bytes (1 in 128
	// per signature), which the fixed-size encoding must keep.
	for i := 0; i < 1000; i++ {
		name := awkward[i%len(awkward)]
		c := Claims{Email: "guest@example.org", Name: name, Resource: "r1", Role: "viewer", Privileges: []string{"view"}}
		c.Issuer, c.Subject, c.Audience, c.ID = "https://gw.test", "u1", jwt.Audience{"demo-room"}, "j"
		c.IssuedAt, c.Expiry = jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(TTL))
		tok, err := sig.sign(&c)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not a compact JWS: %q", tok)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || len(raw) != 64 {
			t.Fatalf("signature is %d bytes (%v), want r||s of 64", len(raw), err)
		}
		got, err := Verify(tok, keys, "https://gw.test", "demo-room", now)
		if err != nil {
			t.Fatalf("token %d does not verify: %v", i, err)
		}
		// encoding/json would have written the name the same way.
		var wantName string
		if j, _ := json.Marshal(name); json.Unmarshal(j, &wantName) != nil {
			t.Fatal("name does not round-trip through encoding/json")
		}
		if got.Name != wantName || got.Subject != "u1" || got.Role != "viewer" || got.Email != "guest@example.org" {
			t.Fatalf("claims changed on the way: %+v", got)
		}
		if i == 0 {
			// RFC 6979: the same claims give the same token, and it verifies.
			if again, err := sig.sign(&c); err != nil || again != tok {
				t.Fatalf("signing the same claims twice: %v, tokens differ: %v", err, again != tok)
			}
			parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			h := parsed.Headers[0]
			if h.KeyID != kid || h.Algorithm != "ES256" || h.ExtraHeaders["typ"] != "JWT" {
				t.Fatalf("header: %+v", h)
			}
			// Any change to the signed bytes is refused.
			p := []byte(parts[1])
			p[3] ^= 1
			if _, err := Verify(parts[0]+"."+string(p)+"."+parts[2], keys, "https://gw.test", "demo-room", now); err == nil {
				t.Fatal("a token with altered claims verified")
			}
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			wrong := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &other.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}}}
			if _, err := Verify(tok, wrong, "https://gw.test", "demo-room", now); err == nil {
				t.Fatal("a token verified with another key")
			}
		}
	}
}

func TestFillKeepsLeadingZeros(t *testing.T) {
	var dst [4]byte
	if !fill(dst[:], []byte{0x00, 0x80, 0x01}) || fill(dst[:], []byte{0x80}) || fill(dst[:], nil) || dst != [4]byte{0, 0, 0x80, 0x01} {
		t.Fatalf("got %x", dst)
	}
	if fill(dst[:], []byte{1, 2, 3, 4, 5}) {
		t.Fatal("a value longer than the field was accepted")
	}
}
