package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso/oidc"
	"github.com/invitegate/gateway/sso/oidc/oidctest"
)

// oidcEnv is a gateway with an OIDC connection to a real provider (npm
// oidc-provider) on loopback: the connection is made first, since its id
// is in the redirect URI the provider registers, then pointed at the
// provider once it runs.
type oidcEnv struct {
	*apitest.Env
	provider *oidctest.Provider
	connID   string
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	env := apitest.New(t, apitest.Options{RealClock: true})
	cfg := func(issuer string) map[string]any {
		return map[string]any{"issuer": issuer, "client_id": "gateway", "client_secret": "gateway-secret",
			"scopes": []string{"openid", "email", "profile", "groups"}}
	}
	c := env.Must(env.Do("POST", "/api/v1/sso/connections", env.APIKey, map[string]any{"name": "Uni", "type": "oidc",
		"domains": []string{"uni.edu"}, "jit": true, "config": cfg("http://127.0.0.1:9")}), http.StatusCreated).Map(t)
	id := c["id"].(string)
	p := oidctest.Start(t, oidctest.Options{ClientID: "gateway", ClientSecret: "gateway-secret",
		RedirectURI: oidc.RedirectURI(env.URL, id),
		Accounts: map[string]map[string]any{
			"nia": {"email": "nia@uni.edu", "email_verified": true, "given_name": "Nia", "family_name": "Obi", "groups": []string{"staff", "physics"}},
		}})
	env.Must(env.Do("PATCH", "/api/v1/sso/connections/"+id, env.APIKey, map[string]any{"config": cfg(p.Issuer)}), http.StatusOK)
	return &oidcEnv{Env: env, provider: p, connID: id}
}

// providerSignIn takes the browser through the provider's login and
// consent pages, as the person would.
func (b *browserTab) providerSignIn(login string) {
	b.t.Helper()
	b.waitFor(15*time.Second, "the provider's login page", `document.querySelector('input[name="login"]') !== null`)
	b.do("sign in at the provider",
		chromedp.SendKeys(`input[name="login"]`, login),
		chromedp.SendKeys(`input[name="password"]`, "any password"),
		chromedp.Click(`button[type="submit"]`))
	b.waitFor(15*time.Second, "the provider's consent page", `!location.href.includes("/interaction/") || document.querySelector('input[name="login"]') === null`)
	if b.truth(`location.href.includes("/interaction/")`) {
		b.do("allow the gateway", chromedp.Click(`button[type="submit"]`))
	}
}

// In a real browser, through a real OpenID Connect provider: a new person
// types their work email on the console's sign-in page, signs in at the
// provider and lands in the console, provisioned, with the provider's
// identity and groups; then signs in to an SSO event's site, where they
// become an attendee by SSO login.
func TestBrowserOIDCSignIn(t *testing.T) {
	e := newOIDCEnv(t)
	ctx := context.Background()

	b := newBrowserProfile(t, e.Env)
	b.open(e.URL + "/console")
	b.waitFor(10*time.Second, "the console sign-in page", `document.getElementById("sso-console-form")`)
	b.do("type the work email and go on",
		chromedp.SendKeys(chromedp.ID("sso-console-email"), "nia@uni.edu"),
		chromedp.Click(chromedp.ID("sso-console")))
	b.providerSignIn("nia")
	b.waitFor(15*time.Second, "the console, signed in", `location.pathname === "/console" && document.querySelector("form.signout span") && document.querySelector("form.signout span").textContent === "nia@uni.edu"`)

	u, err := user.ByEmail(ctx, e.DB, e.AccountID, "nia@uni.edu")
	if err != nil || u.ConsoleRole != user.RoleMember || u.FirstName != "Nia" || u.LastName != "Obi" {
		t.Fatalf("the person provisioned: %+v %v", u, err)
	}
	var ids []user.UserIdentity
	if err := e.DB.R.Where("user_id = ?", u.ID).Find(&ids).Error; err != nil || len(ids) != 1 || ids[0].Issuer != e.provider.Issuer || ids[0].Subject != "nia" {
		t.Fatalf("identities %+v %v, want one of issuer %s, subject nia", ids, err, e.provider.Issuer)
	}
	var groups []string
	if err := e.DB.R.Model(&group.Group{}).Joins("JOIN group_members m ON m.group_id = groups.id").
		Where("groups.source = ? AND m.email = ?", group.LoginSource(e.connID), "nia@uni.edu").Order("groups.name").Pluck("groups.name", &groups).Error; err != nil ||
		strings.Join(groups, ",") != "physics,staff" {
		t.Fatalf("login groups %v %v, want physics,staff", groups, err)
	}
	conn := e.Must(e.Do("GET", "/api/v1/sso/connections/"+e.connID, e.APIKey, nil), http.StatusOK).Map(t)
	if conn["last_login_at"] == nil {
		t.Fatalf("the connection shows no successful login: %v", conn)
	}

	// The event site: the same provider session signs the person in.
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	ev := e.Must(e.Do("POST", "/api/v1/events", e.APIKey, map[string]any{"name": "Summit", "starts_at": start, "ends_at": start.Add(time.Hour),
		"time_zone": "UTC", "login_method": "sso", "registration": "open"}), http.StatusCreated).Map(t)
	slug := ev["slug"].(string)
	b.open(e.URL + "/e/" + slug)
	b.waitFor(10*time.Second, "the event's organization sign-in", `document.getElementById("sso-event-form")`)
	b.do("sign in to the event with the organization",
		chromedp.SendKeys(chromedp.ID("sso-event-email"), "nia@uni.edu"),
		chromedp.Click(chromedp.ID("sso-event")))
	if b.truth(`location.href.startsWith("` + e.provider.Issuer + `")`) {
		b.providerSignIn("nia")
	}
	b.waitFor(15*time.Second, "the event page, signed in", `location.pathname === "/e/`+slug+`" && document.getElementById("sso-event-form") === null`)
	// Added by the SSO login, then, having landed on the event's page
	// before it starts, a pre-event visitor.
	// The visit is recorded beside the page, so it is waited for.
	var a event.Attendee
	var err2 error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err2 = e.DB.R.Where("event_id = ? AND email = ?", ev["id"], "nia@uni.edu").Take(&a).Error; err2 == nil && a.Status == event.Attended {
			break
		}
	}
	if err := err2; err != nil ||
		a.RegistrationType != event.RegSSO || a.Status != event.Attended || a.Detail != event.PreEventVisit || a.UserID != u.ID {
		t.Fatalf("attendee %+v %v, want one registered by SSO, attended before the event, of user %s", a, err, u.ID)
	}
	var logins []event.Login
	if err := e.DB.R.Where("attendee_id = ?", a.ID).Find(&logins).Error; err != nil || len(logins) != 1 || logins[0].Method != event.LoginSSO {
		t.Fatalf("the attendee's sign-ins %+v %v, want one by SSO", logins, err)
	}
}

// Through the real callback route: a state used once is refused the
// second time, as is a callback carrying the provider's error; neither
// signs anyone in or creates anyone, and the connection records the
// failure.
func TestOIDCCallbackRefusals(t *testing.T) {
	e := newOIDCEnv(t)
	browser := e.Client()
	r := e.Form(browser, "/sso/start", url.Values{"email": {"nia@uni.edu"}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), e.provider.Issuer) {
		t.Fatalf("start: %d %s", r.Status, r.Header.Get("Location"))
	}
	back := e.provider.NewBrowser(t).SignIn(r.Header.Get("Location"), "nia")
	callback := "/sso/oidc/" + e.connID + "/callback?" + back.RawQuery
	if r := e.Get(browser, callback); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console" {
		t.Fatalf("the first callback: %d %s %.500s", r.Status, r.Header.Get("Location"), r.Body)
	}
	again := e.Get(e.Client(), callback)
	if again.Status < 400 || again.Status >= 500 || !strings.Contains(string(again.Body), "sso_request_unknown") {
		t.Fatalf("the same callback again: %d %.1500s", again.Status, again.Body)
	}
	if c := again.Header.Values("Set-Cookie"); len(c) > 0 && strings.Contains(strings.Join(c, ";"), "ig_session=") && !strings.Contains(strings.Join(c, ";"), "ig_session=;") {
		t.Fatalf("a refused callback set a session cookie: %v", c)
	}

	// The provider answers with an error (the person cancelled).
	r = e.Form(browser, "/sso/start", url.Values{"email": {"ola@uni.edu"}})
	loc, _ := url.Parse(r.Header.Get("Location"))
	denied := e.Get(e.Client(), "/sso/oidc/"+e.connID+"/callback?"+url.Values{"state": {loc.Query().Get("state")}, "error": {"access_denied"},
		"error_description": {"the person cancelled"}}.Encode())
	if denied.Status < 400 || denied.Status >= 500 || !strings.Contains(string(denied.Body), "sso_provider_error") {
		t.Fatalf("the provider's error: %d %.1500s", denied.Status, denied.Body)
	}
	if _, err := user.ByEmail(context.Background(), e.DB, e.AccountID, "ola@uni.edu"); err == nil {
		t.Fatal("a refused login created its person")
	}
	conn := e.Must(e.Do("GET", "/api/v1/sso/connections/"+e.connID, e.APIKey, nil), http.StatusOK).Map(t)
	if f, _ := conn["last_failure"].(string); !strings.Contains(f, "sso_provider_error") {
		t.Fatalf("the connection's last failure: %v", conn["last_failure"])
	}
}
