package oidc_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// mintedProvider is a provider whose tokens the test makes itself, to send
// the connector id tokens no honest provider would: discovery, a JWKS with
// one RSA key, a token endpoint answering each code with the token the
// test registered for it, and a userinfo endpoint answering what the test
// set. Only for the attack cases and the benchmark; logins run against the
// real oidc-provider.
type mintedProvider struct {
	*httptest.Server
	key *rsa.PrivateKey
	kid string

	mu       sync.Mutex
	answers  map[string][]byte // code → token response body
	fallback []byte            // answer for any other code (benchmark)
	userinfo map[string]any
}

func newMintedProvider(t testing.TB) *mintedProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &mintedProvider{key: key, kid: "k1", answers: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"issuer":                                p.URL,
			"authorization_endpoint":                p.URL + "/authorize",
			"token_endpoint":                        p.URL + "/token",
			"jwks_uri":                              p.URL + "/jwks",
			"userinfo_endpoint":                     p.URL + "/userinfo",
			"id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		}
		writeJSON(w, doc)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != testClientID || secret != testClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]string{"error": "invalid_client"})
			return
		}
		code := r.PostFormValue("code")
		p.mu.Lock()
		body, found := p.answers[code]
		delete(p.answers, code)
		if !found {
			body = p.fallback
		}
		p.mu.Unlock()
		if body == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant","error_description":"unknown code"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		info := p.userinfo
		p.mu.Unlock()
		if info == nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		writeJSON(w, info)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// tokenResponse is the token endpoint's answer carrying idToken.
func tokenResponse(idToken, accessToken string) []byte {
	b, _ := json.Marshal(map[string]any{"access_token": accessToken, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
	return b
}

// answer registers the token endpoint's answer to code.
func (p *mintedProvider) answer(code, idToken, accessToken string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[code] = tokenResponse(idToken, accessToken)
}

// signRS256 signs claims with the provider's key.
func (p *mintedProvider) signRS256(t testing.TB, claims map[string]any) string {
	return sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: p.key, KeyID: p.kid}}, claims)
}

func sign(t testing.TB, key jose.SigningKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned is claims as a JWT with alg none (go-jose will not make one).
func unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}
