// Package apitest starts a real gateway on a fresh database for tests and
// benchmarks: the gateway app.Build builds for `gateway serve`, started,
// behind an httptest server, with a bootstrapped account, its API key and
// helpers to call the API the way a client would.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/clocktest"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso"
)

// Env is a running gateway. A test of a gateway started otherwise (the
// real binary) makes one with T, URL and APIKey to call it with the same
// helpers.
type Env struct {
	T   testing.TB
	URL string
	// DB, Sessions, Events and Jobs are parts of the gateway under test,
	// built by app.Build as `gateway serve` builds it.
	DB        *store.DB
	HTTP      *httptest.Server
	APIKey    string
	AccountID string
	Admin     *user.User
	Clock     *clocktest.Clock
	Sessions  *session.Service
	// Events is the gateway's event service, for tests that act as
	// attendees do on the event site.
	Events *event.Service
	Logs   *bytes.Buffer
	// Jobs runs confirmed jobs (in the background unless HoldJobs).
	Jobs *job.Runner
	// Mail is the gateway's email service (its page view log, Views, is
	// what a test syncs before reading delivery states).
	Mail *mail.Service

	dsn string
}

// Options change the environment before it starts.
type Options struct {
	Dialect string // store.SQLite (default) or store.Postgres
	// Config edits the gateway's configuration before it is built, as an
	// operator's file would: limits, trusted proxies, mail (an SMTP server
	// the test started). Every service is the one the gateway builds.
	Config func(*app.Config)
	// RealClock uses time.Now instead of the settable clock.
	RealClock bool
	// HoldJobs leaves confirmed jobs (bulk invites) queued until the test
	// calls RunJobs, instead of running them in the background at once.
	HoldJobs bool
	// HoldMail leaves queued email in the outbox: its workers are not
	// started (with mail configured through Config).
	HoldMail bool
	// TLS serves the gateway over https with a test certificate (its base
	// URL https://...), as behind TLS in production; Client and Do trust
	// the certificate.
	TLS bool
	// SSOTypes replaces the gateway's SSO connection types (a connector
	// whose behaviour the test sets, sso/ssotest).
	SSOTypes sso.Types
	// ReplicaOf starts the gateway as another replica of that environment:
	// its own gateway on the same database (PostgreSQL: replicas share
	// nothing else), with the same clock, account and API key (Dialect is
	// then that environment's).
	ReplicaOf *Env
}

// New starts a gateway for the test; it stops with the test.
func New(t testing.TB, opt Options) *Env {
	t.Helper()
	e := opt.start(t)
	now := e.Clock.Now
	if opt.RealClock {
		now = time.Now
	}
	ctx := context.Background()
	// The URL must be known before the gateway is built (links carry it).
	e.HTTP = httptest.NewUnstartedServer(nil)
	addr := e.HTTP.Listener.Addr().String()
	e.URL = "http://" + addr
	if opt.TLS {
		e.URL = "https://" + addr
	}
	cfg := app.Defaults()
	cfg.Listen, cfg.BaseURL, cfg.Database.DSN = addr, e.URL, e.dsn
	cfg.Bootstrap.AccountName, cfg.Bootstrap.AdminEmail = "Test org", "admin@org.test"
	if opt.Config != nil {
		opt.Config(cfg)
	}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: e.Logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := app.Build(ctx, cfg, app.Options{Now: now, Logger: log, HoldJobs: opt.HoldJobs, HoldMail: opt.HoldMail, SSOTypes: opt.SSOTypes})
	if err != nil {
		e.HTTP.Listener.Close()
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	e.DB, e.Sessions, e.Events, e.Jobs, e.Mail = g.DB, g.Sessions, g.Events, g.Jobs, g.Mail
	if opt.ReplicaOf == nil {
		boot, err := g.Bootstrap(ctx)
		if err != nil {
			e.HTTP.Listener.Close()
			t.Fatal(err)
		}
		e.APIKey, e.AccountID, e.Admin = boot.APIKey, boot.Account.ID, boot.Admin
	}
	if err := g.Start(ctx); err != nil {
		e.HTTP.Listener.Close()
		t.Fatal(err)
	}
	e.HTTP.Config.Handler = g.Handler
	if opt.TLS {
		e.HTTP.StartTLS()
	} else {
		e.HTTP.Start()
	}
	t.Cleanup(e.HTTP.Close)
	return e
}

// start is the environment's database and clock, and for a replica the
// account of the environment it is a replica of.
func (opt Options) start(t testing.TB) *Env {
	t.Helper()
	if r := opt.ReplicaOf; r != nil {
		return &Env{T: t, dsn: r.dsn, APIKey: r.APIKey, AccountID: r.AccountID, Admin: r.Admin, Clock: r.Clock, Logs: &bytes.Buffer{}}
	}
	if opt.Dialect == "" {
		opt.Dialect = store.SQLite
	}
	clock := clocktest.New(time.Now().UTC())
	return &Env{T: t, dsn: storetest.DSN(t, opt.Dialect), Clock: clock, Logs: &bytes.Buffer{}}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// RunJobs runs every queued job to its end now (with HoldJobs) and returns
// how many ran.
func (e *Env) RunJobs() int {
	e.T.Helper()
	n, err := e.Jobs.RunPending(context.Background())
	if err != nil {
		e.T.Fatalf("run jobs: %v", err)
	}
	return n
}

// Response is an HTTP answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response (%d) is not JSON: %v: %s", r.Status, err, r.Body)
	}
}

// Map decodes the body into a map.
func (r *Response) Map(t testing.TB) map[string]any {
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// ErrorCode returns error.code of a JSON error body, or "".
func (r *Response) ErrorCode() string {
	code, _ := r.errorOf()
	return code
}

// ErrorField returns error.field of a JSON error body (the input at
// fault), or "".
func (r *Response) ErrorField() string {
	_, field := r.errorOf()
	return field
}

func (r *Response) errorOf() (code, field string) {
	var b struct {
		Error struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &b)
	return b.Error.Code, b.Error.Field
}

// Client is a browser-like HTTP client with its own cookie jar that does not
// follow redirects, so tests see each step.
func (e *Env) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: e.transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// transport trusts the test certificate when the gateway serves https.
func (e *Env) transport() http.RoundTripper {
	if e.HTTP != nil && e.HTTP.TLS != nil {
		return e.HTTP.Client().Transport
	}
	return http.DefaultTransport
}

// Do sends a request with an API key (or none when key is "") and a JSON body.
func (e *Env) Do(method, path, key string, body any) *Response {
	e.T.Helper()
	return e.Call(&http.Client{Transport: e.transport()}, method, path, key, body)
}

// Call is Do with a client: a browser's, whose cookies sign it in.
func (e *Env) Call(c *http.Client, method, path, key string, body any) *Response {
	e.T.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.Send(c, req)
}

// Send sends a prepared request with a client.
func (e *Env) Send(c *http.Client, req *http.Request) *Response {
	e.T.Helper()
	resp, err := c.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Form posts a form with a client, the way a browser button does.
func (e *Env) Form(c *http.Client, path string, form url.Values) *Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.Send(c, req)
}

// Get fetches a page with a client.
func (e *Env) Get(c *http.Client, path string) *Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
	return e.Send(c, req)
}

// Must checks the status, failing with the body otherwise.
func (e *Env) Must(r *Response, status int) *Response {
	e.T.Helper()
	if r.Status != status {
		e.T.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// Resource creates a resource through the API and returns its id.
func (e *Env) Resource(body map[string]any) string {
	e.T.Helper()
	r := e.Must(e.Do("POST", "/api/v1/resources", e.APIKey, body), http.StatusCreated)
	return r.Map(e.T)["id"].(string)
}

// Invite creates an invitation and returns (invitation id, link path /i/...).
func (e *Env) Invite(resourceID, email, role string) (string, string) {
	e.T.Helper()
	r := e.Must(e.Do("POST", "/api/v1/resources/"+resourceID+"/invitations", e.APIKey,
		map[string]any{"email": email, "first_name": "Guest", "last_name": "Person", "role": role}), http.StatusCreated)
	m := r.Map(e.T)
	return m["id"].(string), strings.TrimPrefix(m["link"].(string), e.URL)
}

// ConsoleUser adds a console user and returns a client signed in as them.
func (e *Env) ConsoleUser(email, role string) (*user.User, *http.Client) {
	e.T.Helper()
	r := e.Must(e.Do("POST", "/api/v1/users", e.APIKey, map[string]any{"email": email, "first_name": "C", "last_name": "User", "console_role": role}), http.StatusCreated)
	var u user.User
	r.JSON(e.T, &u)
	return &u, e.SignIn(&u)
}

// SignIn returns a client signed in as a console user via a login link.
func (e *Env) SignIn(u *user.User) *http.Client {
	e.T.Helper()
	tok, err := e.Sessions.IssueLoginLink(context.Background(), u.AccountID, u.ID, audit.System)
	if err != nil {
		e.T.Fatal(err)
	}
	c := e.Client()
	r := e.Form(c, "/l/"+tok, nil)
	if r.Status != http.StatusSeeOther {
		e.T.Fatalf("sign in: %d %s", r.Status, r.Body)
	}
	return c
}

// DirectoryGroup has a group source named after the group sync one group,
// listing the people with emails, as a group source plugin's scheduled
// sync does (the gateway serves no API that writes groups). It returns the
// group's id.
func (e *Env) DirectoryGroup(name string, emails ...string) string {
	e.T.Helper()
	ctx := context.Background()
	_, err := group.Apply(ctx, e.DB, e.AccountID, name, []group.SourceGroup{{ExternalID: name, Name: name}}, func(emit func(group.SourceMember) error) error {
		for _, m := range emails {
			if err := emit(group.SourceMember{GroupExternalID: name, Email: m, Name: m}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.T.Fatal(err)
	}
	gs, err := group.List(ctx, e.DB.R, e.AccountID)
	if err != nil {
		e.T.Fatal(err)
	}
	for _, g := range gs {
		if g.Source == name {
			return g.ID
		}
	}
	e.T.Fatalf("group %s was not synced", name)
	return ""
}

// SecondAccount creates another account with its own admin API key.
func (e *Env) SecondAccount() (accountID, apiKey string) {
	e.T.Helper()
	ctx := context.Background()
	a, err := account.Create(ctx, e.DB, "Other org")
	if err != nil {
		e.T.Fatal(err)
	}
	key, _, err := account.CreateAPIKey(ctx, e.DB, a.ID, "other", audit.System)
	if err != nil {
		e.T.Fatal(err)
	}
	return a.ID, key
}
