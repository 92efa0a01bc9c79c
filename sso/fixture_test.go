package sso_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/ssotest"
)

// fixture is an account with its admin, the SSO service on a moving
// clock, and a mock connector registered as "oidc" and "saml".
type fixture struct {
	db      *store.DB
	svc     *sso.Service
	events  *event.Service
	b       *ssotest.Behaviour
	account string
	admin   audit.Actor

	mu  sync.Mutex
	now time.Time
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	boot, err := account.EnsureFirst(ctx, db, "Acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, b: &ssotest.Behaviour{}, account: boot.Account.ID,
		admin: audit.Actor{Kind: audit.ActorUser, ID: boot.Admin.ID}, now: time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)}
	sessions, err := session.New(ctx, db, session.Options{Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.events = &event.Service{DB: db, Now: f.clock, Sessions: sessions}
	f.svc, err = sso.New(sso.Options{DB: db, Types: ssotest.Types(f.b, "oidc", "saml"), Sessions: sessions, Events: f.events,
		BaseURL: "https://gw.test", Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func ptr[T any](v T) *T { return &v }

// connection creates an OIDC mock connection serving domains.
func (f *fixture) connection(t *testing.T, mod func(in *sso.Input), domains ...string) *sso.View {
	t.Helper()
	in := sso.Input{Name: ptr("Acme IdP"), Type: ptr("oidc"), Domains: &domains, JIT: ptr(true),
		Config: []byte(`{"issuer":"https://idp.test","secret":"s3cret"}`)}
	if mod != nil {
		mod(&in)
	}
	v, err := f.svc.Create(context.Background(), f.account, f.admin, in)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testBrowser is the login cookie of the browser the tests' logins start
// in and finish from.
var testBrowser, _ = token.New()

// start begins a login in testBrowser and returns its key (the state the
// provider carries back).
func (f *fixture) start(t testing.TB, in sso.StartInput) string {
	t.Helper()
	if in.Browser == "" {
		in.Browser = testBrowser
	}
	rd, err := f.svc.Start(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(rd.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("state")
}

// callback is the provider's answer for the key, naming a person.
func callback(key string, person url.Values) *http.Request {
	q := url.Values{"state": {key}}
	for k, v := range person {
		q[k] = v
	}
	return httptest.NewRequest(http.MethodGet, "/sso/oidc/x/callback?"+q.Encode(), nil)
}

func person(sub, email string, groups ...string) url.Values {
	v := url.Values{"sub": {sub}, "email": {email}, "given_name": {"Ann"}, "family_name": {"Lee"}}
	if len(groups) > 0 {
		v["group"] = groups
	}
	return v
}

func code(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return ""
}

func count(t testing.TB, db *store.DB, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.R.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
