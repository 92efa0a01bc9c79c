package oidctest

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

// Minted is a provider whose tokens the test makes itself, to send the
// gateway id tokens no honest provider would, or one token as fast as a
// benchmark asks: discovery, a JWKS with one RSA key, a token endpoint
// (client_secret_basic) answering each code with the token the test
// registered for it, and a userinfo endpoint answering what the test set.
// Logins run against the real oidc-provider (Start); this is for the
// attack cases and the benchmarks.
type Minted struct {
	*httptest.Server
	// Key signs SignRS256's tokens; the JWKS publishes it as KeyID.
	Key   *rsa.PrivateKey
	KeyID string

	clientID, clientSecret string

	mu       sync.Mutex
	answers  map[string][]byte // code → token response body
	every    []byte            // answer to any other code
	userinfo map[string]any
}

// NewMinted starts the provider on loopback, for a client with this id
// and secret; it stops with the test.
func NewMinted(t testing.TB, clientID, clientSecret string) *Minted {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Minted{Key: key, KeyID: "k1", clientID: clientID, clientSecret: clientSecret, answers: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                p.URL,
			"authorization_endpoint":                p.URL + "/authorize",
			"token_endpoint":                        p.URL + "/token",
			"jwks_uri":                              p.URL + "/jwks",
			"userinfo_endpoint":                     p.URL + "/userinfo",
			"id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.Key.PublicKey, KeyID: p.KeyID, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", p.token)
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

func (p *Minted) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != p.clientID || secret != p.clientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	code := r.PostFormValue("code")
	p.mu.Lock()
	body, found := p.answers[code]
	delete(p.answers, code)
	if !found {
		body = p.every
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if body == nil {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"unknown code"}`))
		return
	}
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func tokenResponse(idToken, accessToken string) []byte {
	b, _ := json.Marshal(map[string]any{"access_token": accessToken, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
	return b
}

// Answer registers the token endpoint's answer to code (used once).
func (p *Minted) Answer(code, idToken, accessToken string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[code] = tokenResponse(idToken, accessToken)
}

// AnswerEvery makes the token endpoint answer every code not registered
// with Answer with these tokens.
func (p *Minted) AnswerEvery(idToken, accessToken string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.every = tokenResponse(idToken, accessToken)
}

// SetUserInfo is what the userinfo endpoint answers (nil: 401).
func (p *Minted) SetUserInfo(info map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.userinfo = info
}

// SignRS256 signs claims with the provider's key.
func (p *Minted) SignRS256(t testing.TB, claims map[string]any) string {
	t.Helper()
	return Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: p.Key, KeyID: p.KeyID}}, claims)
}

// Sign makes a JWT of claims signed with key.
func Sign(t testing.TB, key jose.SigningKey, claims map[string]any) string {
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

// Unsigned is claims as a JWT with alg none (go-jose will not make one).
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}
