package api_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso/oidc/oidctest"
)

const (
	oidcClientID     = "invitegate"
	oidcClientSecret = "a-client-secret-for-the-gateway-0123456789"
)

// oidcPeople are the people at the test's identity provider, by login
// (their sub), with the claims it releases.
var oidcPeople = map[string]map[string]any{
	"nia": {"email": "nia@uni.edu", "email_verified": true, "given_name": "Nia", "family_name": "Obi",
		"groups": []string{"staff", "physics"}},
	"ola": {"email": "ola@uni.edu", "email_verified": true, "given_name": "Ola", "family_name": "Nordmann",
		"groups": []string{"students"}},
}

// oidcSite is a gateway with its real connectors, the real OpenID
// Connect provider (npm oidc-provider) on loopback, and an OIDC
// connection for uni.edu that the admin made through the API, whose
// callback the provider's client accepts.
type oidcSite struct {
	*apitest.Env
	IdP    *oidctest.Provider
	ConnID string
}

func newOIDCSite(t *testing.T, opt apitest.Options) *oidcSite {
	t.Helper()
	idp := oidctest.Start(t, oidctest.Options{ClientID: oidcClientID, ClientSecret: oidcClientSecret, Accounts: oidcPeople})
	opt.RealClock = true // the provider's tokens carry the real time
	env := apitest.New(t, opt)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", env.Logs.String())
		}
	})
	c := env.Must(env.Do("POST", "/api/v1/sso/connections", env.APIKey, map[string]any{
		"name": "Uni", "type": "oidc", "domains": []string{"uni.edu"}, "jit": true,
		"mapping": map[string]any{"preset": "keycloak"},
		"config": map[string]any{"issuer": idp.Issuer, "client_id": oidcClientID, "client_secret": oidcClientSecret,
			"scopes": []string{"openid", "email", "profile", "groups"}},
	}), http.StatusCreated).Map(t)
	id := c["id"].(string)
	redirect, _ := c["urls"].(map[string]any)["redirect_uri"].(string)
	if want := env.URL + "/sso/oidc/" + id + "/callback"; redirect != want {
		t.Fatalf("the connection's redirect_uri = %q, want %q", redirect, want)
	}
	idp.AllowRedirect(t, redirect)
	return &oidcSite{Env: env, IdP: idp, ConnID: id}
}

// startLogin presses "Sign in with your organization" with email in the
// gateway client c, and returns where the gateway sends it: the
// provider's authorization endpoint.
func (s *oidcSite) startLogin(c *http.Client, email string) string {
	s.T.Helper()
	r := s.Must(s.Form(c, "/sso/start", url.Values{"email": {email}, "return": {"/console/events"}}), http.StatusSeeOther)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, s.IdP.Issuer+"/") {
		s.T.Fatalf("the gateway sent the browser to %q, not to the provider %s", loc, s.IdP.Issuer)
	}
	return loc
}

// connection is the connection as the API shows it.
func (s *oidcSite) connection() map[string]any {
	s.T.Helper()
	return s.Must(s.Do("GET", "/api/v1/sso/connections/"+s.ConnID, s.APIKey, nil), http.StatusOK).Map(s.T)
}

// oidcRows counts what a sign-in creates.
type oidcRows struct{ users, identities, sessions, members int64 }

func (s *oidcSite) rows() oidcRows {
	s.T.Helper()
	var n oidcRows
	s.DB.R.Model(&user.User{}).Where("account_id = ?", s.AccountID).Count(&n.users)
	s.DB.R.Model(&user.UserIdentity{}).Where("account_id = ?", s.AccountID).Count(&n.identities)
	s.DB.R.Model(&session.Session{}).Count(&n.sessions)
	s.DB.R.Model(&group.Member{}).Count(&n.members)
	return n
}

// loginGroups are the names of the connection's groups the person with
// email is a member of.
func (s *oidcSite) loginGroups(email string) []string {
	s.T.Helper()
	var names []string
	if err := s.DB.R.Model(&group.Group{}).
		Joins("JOIN group_members ON group_members.group_id = groups.id").
		Where("groups.account_id = ? AND groups.source = ? AND group_members.member_key = ?", s.AccountID, group.LoginSource(s.ConnID), "email:"+email).
		Order("groups.name").Pluck("groups.name", &names).Error; err != nil {
		s.T.Fatal(err)
	}
	return names
}

// identityOf is the user the provider's (issuer, subject) resolves to.
func (s *oidcSite) identityOf(subject string) *user.User {
	s.T.Helper()
	u, err := user.OfIdentity(context.Background(), s.DB, s.AccountID, s.IdP.Issuer, subject)
	if err != nil {
		s.T.Fatalf("the identity (%s, %s): %v", s.IdP.Issuer, subject, err)
	}
	return u
}

// A refused answer is its page: the status, the refusal's code and
// title.
func wantRefusal(t *testing.T, r *apitest.Response, status int, code, title string) {
	t.Helper()
	body := string(r.Body)
	if r.Status != status || !strings.Contains(body, `data-error-code="`+code+`"`) || !strings.Contains(body, "<h1>"+html.EscapeString(title)+"</h1>") {
		t.Fatalf("want the %d page %s (%q), got %d: %.800s", status, code, title, r.Status, body)
	}
	if r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("a refused sign-in set a cookie: %s", r.Header.Get("Set-Cookie"))
	}
}

// Through the gateway's real callback route with the real provider: a
// sign-in completes once; the same callback again (its state used), the
// code of that sign-in under a new login's state, and the provider's own
// error (the person cancels at its login page) are each refused with
// their page, create nothing, and are the connection's last failure.
func TestOIDCCallbackRefusals(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			s := newOIDCSite(t, apitest.Options{Dialect: d})
			gw := s.Client()
			back := s.IdP.NewBrowser(t).SignIn(s.startLogin(gw, "nia@uni.edu"), "nia")
			if back.Query().Get("code") == "" {
				t.Fatalf("the provider sent no code: %s", back)
			}
			callback := strings.TrimPrefix(back.String(), s.URL)
			r := s.Must(s.Get(gw, callback), http.StatusSeeOther)
			if loc := r.Header.Get("Location"); loc != "/console/events" {
				t.Fatalf("after the sign-in the browser goes to %q, want /console/events", loc)
			}
			if home := s.Must(s.Get(gw, "/console"), http.StatusOK); !strings.Contains(string(home.Body), "nia@uni.edu") {
				t.Fatalf("the console does not show the signed-in person: %.500s", home.Body)
			}
			if c := s.connection(); c["last_login_at"] == nil || c["last_failure"] != "" {
				t.Fatalf("after a good sign-in the connection shows last login %v, last failure %q", c["last_login_at"], c["last_failure"])
			}
			signedIn := s.rows()

			failure := func(code, detail string) {
				t.Helper()
				c := s.connection()
				f, _ := c["last_failure"].(string)
				if !strings.HasPrefix(f, code) || !strings.Contains(f, detail) || c["last_failure_at"] == nil {
					t.Fatalf("the connection's last failure = %q (at %v), want %s naming %q", f, c["last_failure_at"], code, detail)
				}
				if strings.Contains(f, "nia") || strings.Contains(f, back.Query().Get("code")) {
					t.Fatalf("the last failure names the person or the code: %q", f)
				}
				if now := s.rows(); now != signedIn {
					t.Fatalf("a refused sign-in changed the rows: %+v, before %+v", now, signedIn)
				}
			}

			t.Run("replayed state", func(t *testing.T) {
				wantRefusal(t, s.Get(s.Client(), callback), http.StatusUnauthorized, "sso_request_unknown", "This sign-in is not known here")
				failure("sso_request_unknown", "")
			})

			t.Run("replayed code", func(t *testing.T) {
				other := s.Client()
				auth, err := url.Parse(s.startLogin(other, "nia@uni.edu"))
				if err != nil {
					t.Fatal(err)
				}
				q := back.Query()
				q.Set("state", auth.Query().Get("state"))
				wantRefusal(t, s.Get(other, "/sso/oidc/"+s.ConnID+"/callback?"+q.Encode()), http.StatusUnauthorized,
					"sso_invalid_response", "The sign-in could not be verified")
				failure("sso_invalid_response", "invalid_grant")
				// The login it came with is used up: its own answer is
				// refused too.
				var left int64
				s.DB.R.Table("sso_requests").Where("connection_id = ?", s.ConnID).Count(&left)
				if left != 0 {
					t.Fatalf("%d logins in flight left after the refused answer", left)
				}
			})

			t.Run("provider error", func(t *testing.T) {
				other := s.Client()
				auth, err := url.Parse(s.startLogin(other, "ola@uni.edu"))
				if err != nil {
					t.Fatal(err)
				}
				cancelled := s.IdP.NewBrowser(t).Cancel(auth.String())
				if cancelled.Query().Get("error") != "access_denied" || cancelled.Query().Get("state") != auth.Query().Get("state") {
					t.Fatalf("the provider's answer to a cancel: %s", cancelled)
				}
				wantRefusal(t, s.Get(other, strings.TrimPrefix(cancelled.String(), s.URL)), http.StatusUnauthorized,
					"sso_provider_error", "Your organization's sign-in failed")
				failure("sso_provider_error", "access_denied")
				if _, err := user.ByEmail(context.Background(), s.DB, s.AccountID, "ola@uni.edu"); err == nil {
					t.Fatal("a cancelled sign-in made a user")
				}
			})

			if got := s.loginGroups("nia@uni.edu"); !slices.Equal(got, []string{"physics", "staff"}) {
				t.Fatalf("nia's groups from the login: %q", got)
			}
		})
	}
}

// An SSO event's sign-in through the real provider and callback route,
// on both databases: the person is resolved by the provider's (issuer,
// subject), their groups recorded, and the event site shows them as
// "SSO login" until they enter.
func TestOIDCEventSignIn(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			s := newOIDCSite(t, apitest.Options{Dialect: d})
			start := time.Now().Add(48 * time.Hour)
			ev := s.Must(s.Do("POST", "/api/v1/events", s.APIKey, map[string]any{"name": "Summit", "starts_at": start, "ends_at": start.Add(time.Hour),
				"time_zone": "UTC", "login_method": "sso", "registration": "open"}), http.StatusCreated).Map(t)
			slug := ev["slug"].(string)
			gw := s.Client()
			r := s.Must(s.Form(gw, "/sso/start", url.Values{"email": {"ola@uni.edu"}, "purpose": {"event"}, "event": {ev["id"].(string)}, "return": {"/e/" + slug}}), http.StatusSeeOther)
			back := s.IdP.NewBrowser(t).SignIn(r.Header.Get("Location"), "ola")
			r = s.Must(s.Get(gw, strings.TrimPrefix(back.String(), s.URL)), http.StatusSeeOther)
			if loc := r.Header.Get("Location"); loc != "/e/"+slug {
				t.Fatalf("after the event sign-in the browser goes to %q", loc)
			}
			site := string(s.Must(s.Get(gw, "/e/"+slug), http.StatusOK).Body)
			if !strings.Contains(site, `id="attendee-status">SSO login</span>`) || strings.Contains(site, `id="sso-event-form"`) {
				t.Fatalf("the event site after the sign-in: %.3000s", site)
			}
			u := s.identityOf("ola")
			var a event.Attendee
			if err := s.DB.R.Where("event_id = ? AND email = ?", ev["id"], "ola@uni.edu").Take(&a).Error; err != nil ||
				a.Status != event.SSOLogin || a.Detail != event.DetailSSOLogin || a.UserID != u.ID || a.FirstName != "Ola" || a.LastName != "Nordmann" {
				t.Fatalf("the attendee row: %+v %v (user %s)", a, err, u.ID)
			}
			if got := s.loginGroups("ola@uni.edu"); !slices.Equal(got, []string{"students"}) {
				t.Fatalf("ola's groups from the login: %q", got)
			}
			if n := s.rows(); n.identities != 1 || n.users != 2 { // the bootstrapped admin and ola
				t.Fatalf("rows after one event sign-in: %+v", n)
			}
		})
	}
}
