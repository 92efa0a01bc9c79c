package saml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

// The test IdP is crewjam/saml's samlidp (samltest), served over real HTTP
// on loopback with keys made by the test; the gateway side is a small server
// with the two routes package sso mounts (metadata and ACS), keeping logins
// in flight in memory as sso keeps them in the database.

const testConnID = "conn-1"

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
func startGateway(t testing.TB, idp *samltest.IDP, o gwOptions) *gateway {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	g := &gateway{t: t, url: "http://" + hs.Listener.Addr().String(), replay: newMemReplay(),
		clock: &testClock{}, pending: map[string]*connector.Request{}, skew: o.skew}
	if g.skew == 0 {
		g.skew = 2 * time.Minute
	}
	cfg := &Config{IDPMetadataURL: idp.EntityID(), Binding: o.binding, AllowIDPInitiated: o.allowIDPInitiated}
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
func (g *gateway) register(t testing.TB, idp *samltest.IDP, plain bool) {
	t.Helper()
	idp.Register(t, "gateway", samltest.FetchSPMetadata(t, g.url+"/sso/saml/"+testConnID+"/metadata"), plain)
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

// postACSForm submits the IdP's form to the ACS and reads the test ACS's
// answer.
func postACSForm(t testing.TB, b *samltest.Browser, p *samltest.Page) (int, acsResult) {
	t.Helper()
	resp, err := b.Client.PostForm(p.Action, p.Fields)
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

func hasEncryptedAssertion(doc string) bool {
	return strings.Contains(doc, "EncryptedAssertion")
}
