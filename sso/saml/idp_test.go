package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"

	"github.com/invitegate/gateway/sso/connector"
)

// The test IdP is crewjam/saml's samlidp, served over real HTTP on
// loopback with keys made by the test; the gateway side is a small server
// with the two routes package sso mounts (metadata and ACS), keeping logins
// in flight in memory as sso keeps them in the database.

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	testEmail    = "alice@example.com"
	testConnID   = "conn-1"
)

// memReplay is the replay cache in memory: Once succeeds once per id.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newMemReplay() *memReplay { return &memReplay{seen: map[string]time.Time{}} }

func (m *memReplay) Once(_ context.Context, connectionID, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := connectionID + "\x00" + id
	if _, ok := m.seen[k]; ok {
		return connector.ErrReplayed
	}
	m.seen[k] = until
	return nil
}

func (m *memReplay) until(connectionID, id string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.seen[connectionID+"\x00"+id]
	return t, ok
}

// testClock is a clock a test can move.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testIDP is a running samlidp with one user.
type testIDP struct {
	srv  *samlidp.Server
	url  string
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newKeyCert(t testing.TB, cn string, notBefore time.Time) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(24 * 365 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func startIDP(t testing.TB) *testIDP {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + hs.Listener.Addr().String())
	key, cert := newKeyCert(t, "test idp", time.Now().Add(-time.Hour))
	srv, err := samlidp.New(samlidp.Options{
		URL:         *base,
		Key:         key,
		Certificate: cert,
		Store:       &samlidp.MemoryStore{},
		Logger:      log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The IdP verifies the signature of every AuthnRequest, and refuses an
	// unsigned one.
	srv.IDP.WantAuthnRequestsSigned = true
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	idp := &testIDP{srv: srv, url: base.String(), key: key, cert: cert}
	pw := testPassword
	idp.put(t, "/users/"+testUser, samlidp.User{
		PlaintextPassword: &pw, Email: testEmail, GivenName: "Alice", Surname: "Liddell",
		Groups: []string{"staff", "admins"},
	})
	return idp
}

func (idp *testIDP) put(t testing.TB, path string, v any) {
	t.Helper()
	var body []byte
	switch b := v.(type) {
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, idp.url+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s: %s %s", path, resp.Status, b)
	}
}

func (idp *testIDP) metadataXML(t testing.TB) string {
	t.Helper()
	resp, err := http.Get(idp.url + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// gateway is the SP side: one connection, its metadata and ACS routes.
type gateway struct {
	t      testing.TB
	url    string
	cfg    *Config
	conn   *Connector
	replay *memReplay
	clock  *testClock
	skew   time.Duration

	mu      sync.Mutex
	pending map[string]*connector.Request
}

type gwOptions struct {
	binding           string
	allowIDPInitiated bool
	skew              time.Duration
	// configure edits the config before the connection is opened.
	configure func(*Config)
}

// startGateway creates the connection as package sso does (Validate,
// Prepare, then a refresh from the IdP's metadata URL) and opens it.
func startGateway(t testing.TB, idp *testIDP, o gwOptions) *gateway {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	g := &gateway{t: t, url: "http://" + hs.Listener.Addr().String(), replay: newMemReplay(),
		clock: &testClock{}, pending: map[string]*connector.Request{}, skew: o.skew}
	if g.skew == 0 {
		g.skew = 2 * time.Minute
	}
	cfg := &Config{IDPMetadataURL: idp.url + "/metadata", Binding: o.binding, AllowIDPInitiated: o.allowIDPInitiated}
	if o.configure != nil {
		o.configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if err := cfg.Prepare(time.Now()); err != nil {
		t.Fatal(err)
	}
	refreshed, err := cfg.Refresh(context.Background(), http.DefaultClient)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	g.cfg = refreshed.(*Config)
	g.reopen()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sso/saml/{conn}/metadata", g.serveMetadata)
	mux.HandleFunc("POST /sso/saml/{conn}/acs", g.serveACS)
	hs.Config.Handler = mux
	hs.Start()
	t.Cleanup(hs.Close)
	return g
}

func (g *gateway) env() connector.Env {
	return connector.Env{
		AccountID: "acct-1", ConnectionID: testConnID, BaseURL: g.url,
		Now: g.clock.Now, ClockSkew: g.skew, HTTPClient: http.DefaultClient,
		Replay: g.replay, Logger: nil,
	}
}

// reopen opens the connection again from g.cfg, as sso does after the
// config changed.
func (g *gateway) reopen() {
	g.t.Helper()
	c, err := g.cfg.Open(context.Background(), g.env())
	if err != nil {
		g.t.Fatalf("open: %v", err)
	}
	g.mu.Lock()
	g.conn = c.(*Connector)
	g.mu.Unlock()
}

func (g *gateway) connector() *Connector {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conn
}

func (g *gateway) serveMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := g.connector().Metadata(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Write(md)
}

// acsResult is what the test ACS answers: the assertion, or the refusal.
type acsResult struct {
	Assertion *connector.Assertion `json:"assertion,omitempty"`
	Code      string               `json:"code,omitempty"`
	Detail    string               `json:"detail,omitempty"`
}

func (g *gateway) serveACS(w http.ResponseWriter, r *http.Request) {
	conn := g.connector()
	key := conn.RequestKey(r)
	g.mu.Lock()
	req := g.pending[key]
	delete(g.pending, key)
	g.mu.Unlock()
	a, err := conn.Finish(r.Context(), req, r)
	res := acsResult{Assertion: a}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		res.Code = codeOf(err)
		res.Detail = err.Error()
		w.WriteHeader(http.StatusUnauthorized)
	}
	json.NewEncoder(w).Encode(res)
}

func codeOf(err error) string {
	switch {
	case errors.Is(err, connector.ErrProvider):
		return "sso_provider_error"
	case errors.Is(err, connector.ErrInvalidResponse):
		return "sso_invalid_response"
	case errors.Is(err, connector.ErrExpired):
		return "sso_expired"
	case errors.Is(err, connector.ErrReplayed):
		return "sso_replayed"
	case errors.Is(err, connector.ErrUnsolicited):
		return "sso_unsolicited"
	}
	return "fault"
}

// register gives the IdP this gateway's SP metadata, as an admin pastes
// it; plain strips the encryption certificates, so the IdP sends the
// assertion in the clear.
func (g *gateway) register(t testing.TB, idp *testIDP, plain bool) {
	t.Helper()
	resp, err := http.Get(g.url + "/sso/saml/" + testConnID + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %s %s", resp.Status, md)
	}
	if plain {
		var ed crewjam.EntityDescriptor
		if err := xml.Unmarshal(md, &ed); err != nil {
			t.Fatal(err)
		}
		spd := &ed.SPSSODescriptors[0]
		var kept []crewjam.KeyDescriptor
		for _, kd := range spd.KeyDescriptors {
			if kd.Use != "encryption" {
				kept = append(kept, kd)
			}
		}
		spd.KeyDescriptors = kept
		if md, err = xml.Marshal(ed); err != nil {
			t.Fatal(err)
		}
	}
	idp.put(t, "/services/gateway", md)
}

// begin starts a login as sso does and keeps the request in flight.
func (g *gateway) begin(t testing.TB) (*connector.Request, *connector.Redirect) {
	t.Helper()
	req := &connector.Request{Key: fmt.Sprintf("key-%d", time.Now().UnixNano()), AccountID: "acct-1",
		ConnectionID: testConnID, Purpose: "console", ReturnPath: "/console"}
	rd, err := g.connector().Begin(context.Background(), req)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	g.mu.Lock()
	g.pending[req.Key] = req
	g.mu.Unlock()
	return req, rd
}

var (
	formRe   = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// browser is a Go HTTP client that does what a person's browser does with
// these pages: follows redirects, fills the IdP's login form, submits the
// self-posting forms.
type browser struct {
	c *http.Client
}

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: &http.Client{Jar: jar}}
}

// page is an HTML page's single POST form.
type page struct {
	action string
	fields url.Values
	body   string
	status int
}

func (b *browser) do(t testing.TB, method, target string, form url.Values) *page {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = b.c.Get(target)
	} else {
		resp, err = b.c.PostForm(target, form)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &page{body: string(body), status: resp.StatusCode, fields: url.Values{}}
	if m := formRe.FindStringSubmatch(p.body); m != nil {
		p.action = html.UnescapeString(m[1])
		for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
			p.fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
	}
	return p
}

// login follows the redirect to the IdP, signs in there, and returns the
// IdP's self-posting form carrying the SAMLResponse (not yet posted).
//
// samlidp's login form posts the AuthnRequest back with the HTTP-POST
// binding, which would drop an HTTP-Redirect request's query signature;
// so with that binding the person signs in at the IdP and the browser
// follows the redirect again, as it does with an IdP session.
func (b *browser) login(t testing.TB, idp *testIDP, rd *connector.Redirect) *page {
	t.Helper()
	var p *page
	if rd.Form == nil {
		p = b.do(t, http.MethodGet, rd.URL, nil)
	} else {
		f := url.Values{}
		for k, v := range rd.Form {
			f.Set(k, v)
		}
		p = b.do(t, http.MethodPost, rd.URL, f)
	}
	if p.action == "" || p.fields.Get("SAMLRequest") == "" {
		t.Fatalf("IdP did not show its login form (%d): %s", p.status, p.body)
	}
	var resp *page
	if rd.Form == nil {
		if s := b.do(t, http.MethodPost, idp.url+"/login", url.Values{"user": {testUser}, "password": {testPassword}}); s.status != http.StatusOK {
			t.Fatalf("IdP login: %d %s", s.status, s.body)
		}
		resp = b.do(t, http.MethodGet, rd.URL, nil)
	} else {
		p.fields.Set("user", testUser)
		p.fields.Set("password", testPassword)
		resp = b.do(t, http.MethodPost, p.action, p.fields)
	}
	if resp.fields.Get("SAMLResponse") == "" {
		t.Fatalf("IdP sent no SAMLResponse (%d): %s", resp.status, resp.body)
	}
	return resp
}

// post submits the IdP's form to the ACS and reads the test ACS's answer.
func (b *browser) post(t testing.TB, p *page) (int, acsResult) {
	t.Helper()
	resp, err := b.c.PostForm(p.action, p.fields)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res acsResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("ACS answer: %v", err)
	}
	return resp.StatusCode, res
}

// decodedResponse is the XML of a page's SAMLResponse.
func decodedResponse(t testing.TB, p *page) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(p.fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hasEncryptedAssertion(doc string) bool {
	return strings.Contains(doc, "EncryptedAssertion")
}
