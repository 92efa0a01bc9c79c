package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/limit"
	"github.com/invitegate/gateway/core/store"
)

// behindProxy makes the test's loopback a trusted proxy, so each request
// names its client in X-Forwarded-For.
func behindProxy(c *app.Config) { c.TrustedProxies = []string{"127.0.0.1"} }

// visitor is a browser at one client address.
type visitor struct {
	env *apitest.Env
	c   *http.Client
	ip  string
}

func newVisitor(env *apitest.Env, ip string) *visitor {
	return &visitor{env: env, c: env.Client(), ip: ip}
}

// on is the same browser talking to another replica.
func (v *visitor) on(env *apitest.Env) *visitor { return &visitor{env: env, c: v.c, ip: v.ip} }

func (v *visitor) send(method, path, accept string) *apitest.Response {
	v.env.T.Helper()
	req, _ := http.NewRequest(method, v.env.URL+path, nil)
	req.Header.Set("X-Forwarded-For", v.ip)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return v.env.Send(v.c, req)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// linkRoutes are the routes that take a token, each with a fresh random
// token: invite links, login links, confirmation links of the event.
func linkRoutes(slug string) []struct{ method, path string } {
	var out []struct{ method, path string }
	for _, p := range []string{"/i/", "/l/", "/e/" + slug + "/confirm/"} {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			out = append(out, struct{ method, path string }{m, p + randomToken()})
		}
	}
	return out
}

// tokenSite is a gateway with a room, an event with an invited attendee,
// and links of both.
type tokenSite struct {
	env  *apitest.Env
	f    *siteFixture
	room string
	ev   *event.Event
	att  *event.Attendee
}

func newTokenSite(t *testing.T, opt apitest.Options) *tokenSite {
	opt.Config = behindProxy
	env := apitest.New(t, opt)
	f := newSiteFixture(t, env)
	s := &tokenSite{env: env, f: f, room: env.Resource(map[string]any{"type": "room", "title": "Room"}), ev: f.event(t, nil)}
	a, err := f.svc.Invite(context.Background(), f.caller, s.ev.ID, event.InviteInput{Email: "ina@guest.test", Profile: event.Profile{FirstName: "Ina", LastName: "Vited"}})
	if err != nil {
		t.Fatal(err)
	}
	s.att = a
	return s
}

// loginLink is a new login link path for the attendee.
func (s *tokenSite) loginLink(t *testing.T) string {
	t.Helper()
	l, err := s.f.svc.GenerateLoginLink(context.Background(), s.f.caller, s.ev.ID, s.att.ID)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(l.URL, s.env.URL)
}

// miss sends n requests with random tokens across every token route, each
// of which must say the link is not valid.
func (s *tokenSite) miss(t *testing.T, v *visitor, n int) {
	t.Helper()
	for i := 0; i < n; {
		for _, r := range linkRoutes(s.ev.Slug) {
			if i == n {
				return
			}
			i++
			if got := v.send(r.method, r.path, ""); got.Status != http.StatusNotFound {
				t.Fatalf("unknown token %d, %s %s: %d, want 404: %s", i, r.method, r.path[:3], got.Status, got.Body)
			}
		}
	}
}

// mustLimit checks that every token route refuses v with 429, as a page
// and as JSON, saying to wait.
func (s *tokenSite) mustLimit(t *testing.T, v *visitor, wait string) {
	t.Helper()
	for _, r := range linkRoutes(s.ev.Slug) {
		got := v.send(r.method, r.path, "")
		if got.Status != http.StatusTooManyRequests {
			t.Fatalf("%s %s from a limited client: %d, want 429: %s", r.method, r.path[:3], got.Status, got.Body)
		}
		if got.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s: 429 without Retry-After", r.method, r.path[:3])
		}
		if r.method == http.MethodHead {
			continue
		}
		if pageCode(got) != "too_many_unknown_links" || !strings.Contains(string(got.Body), "Too many attempts") || !strings.Contains(string(got.Body), "wait "+wait) {
			t.Fatalf("%s %s: the 429 page does not say to wait %s: %s", r.method, r.path[:3], wait, got.Body)
		}
	}
	got := v.send(http.MethodGet, "/i/"+randomToken(), "application/json")
	if got.Status != http.StatusTooManyRequests || got.ErrorCode() != "too_many_unknown_links" || !strings.Contains(got.Map(t)["error"].(map[string]any)["message"].(string), "wait "+wait) {
		t.Fatalf("JSON answer to a limited client: %d %s", got.Status, got.Body)
	}
}

func TestUnknownLinksAreLimitedPerClient(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			s := newTokenSite(t, apitest.Options{Dialect: d})
			env := s.env
			attacker, owner := newVisitor(env, "203.0.113.5"), newVisitor(env, "198.51.100.2")
			_, own := env.Invite(s.room, "attacker@x.test", "viewer")
			_, ownerInvite := env.Invite(s.room, "owner@x.test", "viewer")

			// 20 unknown tokens a minute by default, on the three kinds
			// together; answers for links that exist are not counted, nor
			// is a malformed token counted differently.
			s.miss(t, attacker, 10)
			if r := attacker.send(http.MethodGet, own, ""); r.Status != http.StatusOK || pageState(r) != "lobby" {
				t.Fatalf("own link under the limit: %d %s", r.Status, r.Body)
			}
			if r := attacker.send(http.MethodGet, "/i/short", ""); r.Status != http.StatusNotFound {
				t.Fatalf("malformed token: %d", r.Status)
			}
			env.Clock.Advance(30 * time.Second)
			s.miss(t, attacker, 9)
			s.mustLimit(t, attacker, "30 seconds")
			// A limited client is refused whatever token it sends, or a
			// refusal would tell valid tokens from the others.
			if r := attacker.send(http.MethodGet, own, ""); r.Status != http.StatusTooManyRequests {
				t.Fatalf("a limited client's valid link: %d, want 429", r.Status)
			}

			// Another client is untouched, on every kind of link.
			if r := owner.send(http.MethodGet, ownerInvite, ""); r.Status != http.StatusOK || pageState(r) != "lobby" {
				t.Fatalf("another client's invite link: %d %s", r.Status, r.Body)
			}
			login := s.loginLink(t)
			if r := owner.send(http.MethodGet, login, ""); r.Status != http.StatusOK {
				t.Fatalf("another client's login link: %d %s", r.Status, r.Body)
			}
			if r := owner.send(http.MethodPost, login, ""); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/e/"+s.ev.Slug {
				t.Fatalf("another client's sign-in: %d %s", r.Status, r.Header.Get("Location"))
			}
			if r := owner.send(http.MethodGet, "/e/"+s.ev.Slug+"/confirm/"+randomToken(), ""); r.Status != http.StatusNotFound {
				t.Fatalf("another client's unknown confirmation link: %d, want 404", r.Status)
			}

			if d == store.Postgres {
				var hits int
				env.DB.R.Raw("SELECT hits FROM limit_counts WHERE scope = 'unknown_link' AND client = ?", attacker.ip).Scan(&hits)
				if hits != 20 {
					t.Fatalf("shared count of the attacker %d, want 20", hits)
				}
			} else {
				var n int64
				env.DB.R.Model(&limit.Count{}).Count(&n)
				if n != 0 {
					t.Fatalf("%d rows in limit_counts on SQLite, whose counts stay in the process", n)
				}
			}

			// The window began at the first unknown token: a minute later the
			// client is let in again, and counted from zero.
			env.Clock.Advance(30*time.Second - time.Millisecond)
			if r := attacker.send(http.MethodGet, own, ""); r.Status != http.StatusTooManyRequests {
				t.Fatalf("just before the window ends: %d, want 429", r.Status)
			}
			env.Clock.Advance(time.Millisecond)
			if r := attacker.send(http.MethodGet, own, ""); r.Status != http.StatusOK {
				t.Fatalf("after the window: own link %d, want 200", r.Status)
			}
			s.miss(t, attacker, 20)
			s.mustLimit(t, attacker, "60 seconds")
		})
	}
}

func TestUnknownLinkLimitIsConfigurable(t *testing.T) {
	env := apitest.New(t, apitest.Options{Config: func(c *app.Config) {
		behindProxy(c)
		c.Limits.UnknownLinks = limit.Rule{Max: 3, Window: 10 * time.Minute}
	}})
	v := newVisitor(env, "2001:db8::7")
	for i := range 3 {
		if r := v.send(http.MethodGet, "/l/"+randomToken(), ""); r.Status != http.StatusNotFound {
			t.Fatalf("unknown link %d: %d", i+1, r.Status)
		}
	}
	r := v.send(http.MethodGet, "/l/"+randomToken(), "")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "600" || !strings.Contains(string(r.Body), "wait 10 minutes") {
		t.Fatalf("4th unknown link with a limit of 3 in 10 minutes: %d Retry-After %q: %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	env.Clock.Advance(9 * time.Minute)
	if r := v.send(http.MethodGet, "/l/"+randomToken(), ""); r.Status != http.StatusTooManyRequests {
		t.Fatalf("9 minutes into a 10-minute window: %d", r.Status)
	}
	env.Clock.Advance(time.Minute)
	if r := v.send(http.MethodGet, "/l/"+randomToken(), ""); r.Status != http.StatusNotFound {
		t.Fatalf("after the window: %d", r.Status)
	}
}

// Replicas on one PostgreSQL database count a client together.
func TestUnknownLinkCountsAreSharedByReplicas(t *testing.T) {
	s := newTokenSite(t, apitest.Options{Dialect: store.Postgres})
	a := s.env
	b := apitest.New(t, apitest.Options{ReplicaOf: a, Config: behindProxy})
	attacker := newVisitor(a, "203.0.113.77")
	owner := newVisitor(b, "198.51.100.20")

	// Ten on each: neither replica counted the limit itself.
	s.miss(t, attacker, 10)
	(&tokenSite{env: b, ev: s.ev}).miss(t, attacker.on(b), 10)
	s.mustLimit(t, attacker, "60 seconds")
	(&tokenSite{env: b, ev: s.ev}).mustLimit(t, attacker.on(b), "60 seconds")

	// The owner of a valid link is served by either replica meanwhile.
	_, link := a.Invite(s.room, "owner@x.test", "viewer")
	if r := owner.send(http.MethodGet, link, ""); r.Status != http.StatusOK || pageState(r) != "lobby" {
		t.Fatalf("another client's link on the other replica: %d %s", r.Status, r.Body)
	}
	if r := owner.on(a).send(http.MethodPost, s.loginLink(t), ""); r.Status != http.StatusSeeOther {
		t.Fatalf("another client's login link: %d %s", r.Status, r.Body)
	}

	// A replica that has not counted the client yet answers it once more,
	// then knows the shared count.
	c := apitest.New(t, apitest.Options{ReplicaOf: a, Config: behindProxy})
	third := &tokenSite{env: c, ev: s.ev}
	third.miss(t, attacker.on(c), 1)
	third.mustLimit(t, attacker.on(c), "60 seconds")

	a.Clock.Advance(time.Minute)
	for _, env := range []*apitest.Env{a, b, c} {
		if r := attacker.on(env).send(http.MethodGet, link, ""); r.Status != http.StatusOK {
			t.Fatalf("after the window, on %s: %d", env.URL, r.Status)
		}
	}
}
