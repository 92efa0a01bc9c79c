// Package ltitest is an LTI 1.3 platform written from the specifications
// (1EdTech Security Framework 1.0, LTI Core 1.3) for tests of the tool: it
// has its own RSA keys and serves them as a JWKS over HTTP, starts the
// third-party-initiated login from a course page (in an iframe, as an LMS
// shows a tool), answers the tool's authentication request with the
// auto-posted id_token form, and signs tokens a test shapes itself (any
// algorithm, key or header) for the launches a tool must refuse.
package ltitest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Roles of LTI Core 1.3 (§A.2.2, context roles).
const (
	RoleInstructor = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
	RoleLearner    = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
)

// User is a person of the platform; the login hint names them.
type User struct {
	Sub, Email, GivenName, FamilyName string
	Roles                             []string
	// Claims are added to (or replace) the launch's claims, as a
	// platform's own claims and custom parameters are.
	Claims map[string]any
}

// Link is a resource link in a course; the LTI message hint names it.
type Link struct {
	ID, Title, ContextID, ContextTitle string
	// Custom are the link's custom parameters (those of a deep linking
	// response's content item).
	Custom map[string]string
	// DeepLinking makes the hint start a deep linking request from the
	// course instead of a launch of the link.
	DeepLinking bool
}

// Platform is a running test platform.
type Platform struct {
	t      testing.TB
	Server *httptest.Server
	// Issuer is the platform's iss: its URL.
	Issuer, ClientID, DeploymentID string
	// Tool is where the tool lives: its login URL and the launch URL its
	// redirect_uri must be, and the target link URI of every launch.
	ToolLogin, ToolLaunch, TargetLinkURI string
	// Now is the clock of the tokens it signs.
	Now func() time.Time
	// ToolJWKSURL is where the tool's keys are read, to verify its client
	// assertions and deep linking responses (default ToolURL/lti/jwks);
	// ToolHTTP reads them (default Options.ToolHTTP).
	ToolJWKSURL string
	ToolHTTP    *http.Client
	// PageSize is the members per page of the NRPS endpoint (0: all on one).
	PageSize int
	// TokenTTL is the lifetime of the access tokens it grants (default 1 hour).
	TokenTTL time.Duration

	mu        sync.Mutex
	users     map[string]User
	links     map[string]Link
	keys      []signingKey // published; the first signs
	jwksFetch atomic.Int64
	// toolOrigin is the tool's origin, which the storage frame serves.
	toolOrigin string
	reg        registrar
	storage    storageLog
	toolURL    string
	svc        *services
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// Options describe the platform's registration with the tool.
type Options struct {
	ClientID, DeploymentID string
	// ToolURL is the tool's base URL: its login is ToolURL/lti/login, its
	// launch ToolURL/lti/launch.
	ToolURL string
	Now     func() time.Time
	// Host serves the platform at this host instead of 127.0.0.1 (the
	// browser test puts it on another site than the tool: "localhost").
	Host string
	// ToolHTTP reads the tool's key set (default http.DefaultClient; a
	// tool over https with a test certificate needs a client trusting it).
	ToolHTTP *http.Client
}

// New starts a platform; it stops when the test ends.
func New(t testing.TB, o Options) *Platform {
	t.Helper()
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Platform{t: t, ClientID: o.ClientID, DeploymentID: o.DeploymentID, Now: o.Now,
		ToolLogin: o.ToolURL + "/lti/login", ToolLaunch: o.ToolURL + "/lti/launch", TargetLinkURI: o.ToolURL + "/lti/launch",
		users: map[string]User{}, links: map[string]Link{},
		toolURL: o.ToolURL, ToolJWKSURL: o.ToolURL + "/lti/jwks", ToolHTTP: o.ToolHTTP, svc: newServices()}
	if p.ToolHTTP == nil {
		p.ToolHTTP = http.DefaultClient
	}
	p.keys = []signingKey{p.newKey()}
	if u, err := url.Parse(o.ToolURL); err == nil {
		p.toolOrigin = u.Scheme + "://" + u.Host
	}
	mux := http.NewServeMux()
	p.mountRegistration(mux)
	p.mountStorage(mux)
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	mux.HandleFunc("GET /auth", p.serveAuth)
	mux.HandleFunc("POST /auth", p.serveAuth)
	mux.HandleFunc("GET /course", p.serveCourse)
	p.routeServices(mux)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Server.Close)
	p.Issuer = p.Server.URL
	if o.Host != "" {
		u, _ := url.Parse(p.Server.URL)
		p.Issuer = "http://" + o.Host + ":" + u.Port()
	}
	return p
}

// AuthURL is the platform's OIDC authorization endpoint.
func (p *Platform) AuthURL() string { return p.Issuer + "/auth" }

// JWKSURL is where the platform publishes its keys.
func (p *Platform) JWKSURL() string { return p.Issuer + "/jwks" }

// TokenURL is the platform's OAuth 2 token endpoint (services.go).
func (p *Platform) TokenURL() string { return p.Issuer + "/token" }

// JWKSFetches counts the requests for the platform's key set.
func (p *Platform) JWKSFetches() int64 { return p.jwksFetch.Load() }

// AddUser makes a person the login hint names.
func (p *Platform) AddUser(hint string, u User) {
	p.mu.Lock()
	p.users[hint] = u
	p.mu.Unlock()
}

// AddLink makes a resource link the message hint names.
func (p *Platform) AddLink(hint string, l Link) {
	p.mu.Lock()
	p.links[hint] = l
	p.mu.Unlock()
}

func (p *Platform) newKey() signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	return signingKey{kid: "k-" + base64.RawURLEncoding.EncodeToString(b), key: k}
}

// RotateKey publishes a new key, which signs from now on; the old one
// stays published. It returns the new kid.
func (p *Platform) RotateKey() string {
	k := p.newKey()
	p.mu.Lock()
	p.keys = append([]signingKey{k}, p.keys...)
	p.mu.Unlock()
	return k.kid
}

// UnpublishedKey is a key the platform does not publish, with its kid.
func (p *Platform) UnpublishedKey() (string, *rsa.PrivateKey) {
	k := p.newKey()
	return k.kid, k.key
}

// PublicPEM is the signing key's public key in PEM, what an attacker who
// tries HS256 with the public key as the secret would use.
func (p *Platform) PublicPEM() []byte {
	k := p.signing()
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	if err != nil {
		p.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PublicKey is the signing key's public key, as a verifier that trusts
// the platform holds it.
func (p *Platform) PublicKey() *rsa.PublicKey { return &p.signing().key.PublicKey }

func (p *Platform) signing() signingKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[0]
}

func (p *Platform) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	p.jwksFetch.Add(1)
	p.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range p.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

// LoginURL is the tool's login initiation for a person (login hint) and a
// link (message hint), as the platform's course page starts it.
func (p *Platform) LoginURL(loginHint, messageHint string) string {
	q := url.Values{"iss": {p.Issuer}, "login_hint": {loginHint}, "target_link_uri": {p.TargetLinkURI},
		"lti_message_hint": {messageHint}, "client_id": {p.ClientID}, "lti_deployment_id": {p.DeploymentID}}
	return p.ToolLogin + "?" + q.Encode()
}

var coursePage = template.Must(template.New("course").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Course</title></head>
<body><h1 id="course">{{.Title}}</h1>
{{if .Storage}}<iframe id="lti_storage" name="lti_storage" src="/storage" hidden></iframe>
<iframe id="tool" name="tool" data-src="{{.Login}}" width="1000" height="800" allow="clipboard-write"></iframe>
<script>
document.getElementById("lti_storage").addEventListener("load", function () {
  var t = document.getElementById("tool");
  t.src = t.dataset.src;
});
</script>
{{else}}<iframe id="tool" name="tool" src="{{.Login}}" width="1000" height="800" allow="clipboard-write"></iframe>{{end}}
</body></html>`))

// serveCourse is the course page: the tool in an iframe, its login
// started by the frame's address (?user=login hint&link=message hint).
// With storage=1 the page also holds the platform's storage frame, and
// the login offers it (lti_storage_target), once the frame is ready.
func (p *Platform) serveCourse(w http.ResponseWriter, r *http.Request) {
	hint, link := r.URL.Query().Get("user"), r.URL.Query().Get("link")
	p.mu.Lock()
	l := p.links[link]
	p.mu.Unlock()
	storage := r.URL.Query().Get("storage") == "1"
	login := p.LoginURL(hint, link)
	if storage {
		login = p.StorageLoginURL(hint, link)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	coursePage.Execute(w, map[string]any{"Title": l.ContextTitle, "Login": login, "Storage": storage})
}

var postForm = template.Must(template.New("post").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Launching</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}"><input type="hidden" name="id_token" value="{{.IDToken}}"><input type="hidden" name="state" value="{{.State}}"><noscript><button>Continue</button></noscript></form>
</body></html>`))

// serveAuth is the platform's authorization endpoint (Security Framework
// §5.1.1.2): it checks the tool's authentication request and answers with
// a page that posts the id_token and state back to the redirect_uri.
func (p *Platform) serveAuth(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f := r.Form
	for k, want := range map[string]string{"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
		"prompt": "none", "client_id": p.ClientID, "redirect_uri": p.ToolLaunch} {
		if f.Get(k) != want {
			http.Error(w, fmt.Sprintf("invalid_request: %s is %q, want %q", k, f.Get(k), want), http.StatusBadRequest)
			return
		}
	}
	if f.Get("nonce") == "" || f.Get("state") == "" {
		http.Error(w, "invalid_request: nonce and state are required", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	u, okU := p.users[f.Get("login_hint")]
	l, okL := p.links[f.Get("lti_message_hint")]
	p.mu.Unlock()
	if !okU || !okL {
		http.Error(w, "login_required: unknown login_hint or lti_message_hint", http.StatusBadRequest)
		return
	}
	claims := p.Claims(u, l, f.Get("nonce"))
	if l.DeepLinking {
		claims = p.DeepLinkingClaims(u, l, f.Get("nonce"))
	}
	for k, v := range u.Claims {
		claims[k] = v
	}
	tok := p.Sign(claims, SignOptions{})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	postForm.Execute(w, map[string]string{"Action": f.Get("redirect_uri"), "IDToken": tok, "State": f.Get("state")})
}

// Claims are the claims of a resource link launch of u on l (LTI Core
// §5.3), as a map a test may change before signing.
func (p *Platform) Claims(u User, l Link, nonce string) map[string]any {
	now := p.Now()
	const c = "https://purl.imsglobal.org/spec/lti/claim/"
	out := map[string]any{
		"iss": p.Issuer, "aud": p.ClientID, "sub": u.Sub, "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"email": u.Email, "given_name": u.GivenName, "family_name": u.FamilyName, "name": u.GivenName + " " + u.FamilyName,
		c + "message_type":    "LtiResourceLinkRequest",
		c + "version":         "1.3.0",
		c + "deployment_id":   p.DeploymentID,
		c + "target_link_uri": p.TargetLinkURI,
		c + "resource_link":   map[string]any{"id": l.ID, "title": l.Title},
		c + "context":         map[string]any{"id": l.ContextID, "title": l.ContextTitle, "type": []string{"http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"}},
		c + "roles":           u.Roles,
		"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": map[string]any{
			"context_memberships_url": p.MembershipsURL(l.ContextID), "service_versions": []string{"2.0"}},
	}
	if l.Custom != nil {
		out[c+"custom"] = l.Custom
	}
	return out
}

// SignOptions shape a token the way a broken or hostile platform would.
type SignOptions struct {
	// Alg is "RS256" (default), "RS512", "HS256" (keyed with the public
	// key's PEM, the algorithm confusion attack) or "none".
	Alg string
	// Kid overrides the key id; NoKid leaves it out.
	Kid   string
	NoKid bool
	// Key signs instead of the platform's key (a wrong signature).
	Key *rsa.PrivateKey
}

// Sign signs claims as the platform (or as o says).
func (p *Platform) Sign(claims map[string]any, o SignOptions) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		p.t.Fatal(err)
	}
	k := p.signing()
	kid := k.kid
	if o.Kid != "" {
		kid = o.Kid
	}
	if o.NoKid {
		kid = ""
	}
	if o.Alg == "none" {
		h, _ := json.Marshal(map[string]string{"alg": "none", "kid": kid, "typ": "JWT"})
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	key := jose.SigningKey{Algorithm: jose.RS256, Key: k.key}
	switch o.Alg {
	case "RS512":
		key.Algorithm = jose.RS512
	case "HS256":
		key = jose.SigningKey{Algorithm: jose.HS256, Key: p.PublicPEM()}
	}
	if o.Key != nil {
		key.Key = o.Key
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(key, opts)
	if err != nil {
		p.t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		p.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}
