package api_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/user"
)

// signInAtProvider goes through the real provider's pages in the tab:
// its login page (the person's login, any password) and its consent
// page.
func (b *browserTab) signInAtProvider(issuer, login string) {
	b.t.Helper()
	b.waitFor(15*time.Second, "the provider's login page", `location.origin === `+strconv.Quote(issuer)+
		` && document.querySelector('form input[name="prompt"][value="login"]')`)
	b.do("sign in at the provider",
		chromedp.SendKeys(`input[name="login"]`, login),
		chromedp.SendKeys(`input[name="password"]`, "any password"),
		chromedp.Click(`form button[type="submit"]`))
	b.waitFor(15*time.Second, "the provider's consent page", `location.origin === `+strconv.Quote(issuer)+
		` && document.querySelector('form input[name="prompt"][value="consent"]')`)
	b.do("consent at the provider", chromedp.Click(`form button[type="submit"]`))
}

// In a real browser with the real OpenID Connect provider: the admin's
// connection (made through the API) signs a new person in to the console
// from its sign-in page, through the provider's login and consent pages
// and the gateway's callback (provisioned, with the provider's names and
// groups), and another person in to an SSO event's site ("SSO login",
// then Attended as the page enters the event).
func TestBrowserOIDCSignIn(t *testing.T) {
	s := newOIDCSite(t, apitest.Options{})

	nia := newBrowserProfile(t, s.Env)
	nia.open(s.URL + "/console")
	nia.waitFor(10*time.Second, "the console sign-in page", `document.getElementById("sso-console-form")`)
	nia.do("type the work email and go on",
		chromedp.SendKeys(chromedp.ID("sso-console-email"), "nia@uni.edu"),
		chromedp.Click(chromedp.ID("sso-console")))
	nia.signInAtProvider(s.IdP.Issuer, "nia")
	nia.waitFor(15*time.Second, "the console, signed in", `location.origin === `+strconv.Quote(s.URL)+
		` && location.pathname === "/console" && document.querySelector("form.signout span") && document.querySelector("form.signout span").textContent === "nia@uni.edu"`)
	if nia.truth(`document.getElementById("sso-console-form")`) {
		t.Fatal("the console still offers the organization sign-in to a signed-in person")
	}

	u := s.identityOf("nia")
	if u.Email != "nia@uni.edu" || u.FirstName != "Nia" || u.LastName != "Obi" || u.ConsoleRole != user.RoleMember {
		t.Fatalf("the provisioned user: %+v", u)
	}
	if got := s.loginGroups("nia@uni.edu"); !slices.Equal(got, []string{"physics", "staff"}) {
		t.Fatalf("nia's groups from the groups claim: %q, want physics, staff", got)
	}
	if c := s.connection(); c["last_login_at"] == nil {
		t.Fatalf("the connection shows no last login: %v", c)
	}

	start := time.Now().Add(48 * time.Hour)
	ev := s.Must(s.Do("POST", "/api/v1/events", s.APIKey, map[string]any{"name": "Summit", "starts_at": start, "ends_at": start.Add(time.Hour),
		"time_zone": "UTC", "login_method": "sso", "registration": "open"}), http.StatusCreated).Map(t)
	slug := ev["slug"].(string)

	ola := newBrowserProfile(t, s.Env)
	ola.open(s.URL + "/e/" + slug)
	ola.waitFor(10*time.Second, "the event's sign-in", `document.getElementById("sso-event-form")`)
	ola.do("type the work email and go on",
		chromedp.SendKeys(chromedp.ID("sso-event-email"), "ola@uni.edu"),
		chromedp.Click(chromedp.ID("sso-event")))
	ola.signInAtProvider(s.IdP.Issuer, "ola")
	ola.waitFor(15*time.Second, "the event site, signed in", `location.origin === `+strconv.Quote(s.URL)+
		` && location.pathname === "/e/`+slug+`" && document.getElementById("attendee-name")`)
	if got := ola.str(`document.getElementById("attendee-name").textContent.trim()`); got != "Ola Nordmann" {
		t.Fatalf("the event site shows the attendee as %q, want Ola Nordmann", got)
	}
	if ola.truth(`document.getElementById("sso-event-form")`) {
		t.Fatal("the event page still asks the signed-in attendee to sign in")
	}
	// The sign-in made her "SSO login"; the page she lands on then enters
	// the event by itself (before its start: a pre-event visit), as it
	// does for every signed-in attendee.
	ola.waitFor(10*time.Second, "the page to enter the event", `document.getElementById("entered").dataset.kind === "pre_event"`)
	if got := ola.str(`document.getElementById("attendee-status").textContent.trim()`); got != "Attended" {
		t.Fatalf("after entering, the event site shows status %q, want Attended", got)
	}

	var a event.Attendee
	if err := s.DB.R.Where("event_id = ? AND email = ?", ev["id"], "ola@uni.edu").Take(&a).Error; err != nil ||
		a.RegistrationType != event.RegSSO || a.Status != event.Attended || a.Detail != event.PreEventVisit {
		t.Fatalf("the attendee row: %+v %v", a, err)
	}
	var steps []string
	s.DB.R.Model(&audit.Entry{}).Where("target_kind = ? AND target_id = ?", "attendee", a.ID).Order("at, id").Pluck("action", &steps)
	if !slices.Equal(steps, []string{"attendee.sso_login", "attendee.signed_in", "attendee.visit_pre_event"}) {
		t.Fatalf("the attendee's history: %q, want the SSO login, its site session, then the pre-event visit", steps)
	}
	o := s.identityOf("ola")
	if o.Email != "ola@uni.edu" || o.FirstName != "Ola" || o.LastName != "Nordmann" || o.ConsoleRole != "" {
		t.Fatalf("the event sign-in's user: %+v (an event sign-in gives no console role)", o)
	}
	if a.UserID != o.ID {
		t.Fatalf("the attendee is user %s, the identity user %s", a.UserID, o.ID)
	}
	if got := s.loginGroups("ola@uni.edu"); !slices.Equal(got, []string{"students"}) {
		t.Fatalf("ola's groups from the groups claim: %q, want students", got)
	}
	var identities int64
	s.DB.R.Model(&user.UserIdentity{}).Where("account_id = ? AND issuer = ?", s.AccountID, s.IdP.Issuer).Count(&identities)
	if identities != 2 {
		t.Fatalf("%d identities of the provider, want one per person", identities)
	}
}
