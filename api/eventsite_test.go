package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/mail/mailtest"
)

// siteFixture is a gateway whose event service (env.Events) the test drives
// directly for what organizers do (the JSON API has its own tests).
type siteFixture struct {
	env    *apitest.Env
	svc    *event.Service
	caller event.Caller
}

func newSiteFixture(t *testing.T, env *apitest.Env) *siteFixture {
	return &siteFixture{env: env, svc: env.Events,
		caller: event.Caller{AccountID: env.AccountID, Actor: audit.Actor{Kind: audit.ActorAPIKey, ID: "test"}}}
}

func (f *siteFixture) event(t *testing.T, mod func(*event.EventInput)) *event.Event {
	t.Helper()
	start := f.env.Clock.Now().Add(48 * time.Hour).Truncate(time.Minute)
	in := event.EventInput{Name: "Spring Summit", StartsAt: start, EndsAt: start.Add(3 * time.Hour), TimeZone: "Europe/Paris"}
	if mod != nil {
		mod(&in)
	}
	ev, err := f.svc.CreateEvent(context.Background(), f.caller, in)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (f *siteFixture) attendee(t *testing.T, ev *event.Event, email string) *event.Attendee {
	t.Helper()
	var a event.Attendee
	if err := f.env.DB.R.Where("event_id = ? AND email = ?", ev.ID, email).Take(&a).Error; err != nil {
		t.Fatalf("attendee %s: %v", email, err)
	}
	return &a
}

func (f *siteFixture) count(t *testing.T, model any, attendeeID string) int64 {
	t.Helper()
	var n int64
	if err := f.env.DB.R.Model(model).Where("attendee_id = ?", attendeeID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// sitePage fails unless r has the status and contains every want.
func sitePage(t *testing.T, r *apitest.Response, status int, want ...string) string {
	t.Helper()
	b := string(r.Body)
	if r.Status != status {
		t.Fatalf("status %d, want %d:\n%s", r.Status, status, b)
	}
	for _, w := range want {
		if !strings.Contains(b, w) {
			t.Fatalf("page lacks %q:\n%s", w, b)
		}
	}
	return b
}

func siteHead(env *apitest.Env, c *http.Client, path string) *apitest.Response {
	req, _ := http.NewRequest(http.MethodHead, env.URL+path, nil)
	return env.Send(c, req)
}

// siteMail waits for a received email with the subject.
func siteMail(t *testing.T, md *mailtest.Maildev, n int, subject string) mailtest.Received {
	t.Helper()
	for _, m := range md.Wait(n, 15*time.Second) {
		if m.Subject == subject {
			return m
		}
	}
	t.Fatalf("no email %q among %+v", subject, md.Messages())
	return mailtest.Received{}
}

func TestEventSiteRegistrationToAttended(t *testing.T) {
	env, md := emailEnv(t, apitest.Options{})
	f := newSiteFixture(t, env)
	ev := f.event(t, nil)
	page := "/e/" + ev.Slug
	schedule := "Europe/Paris"

	// A visitor sees the event and the registration form.
	visitor := env.Client()
	sitePage(t, env.Get(visitor, page), http.StatusOK, "Spring Summit", schedule, `id="register-form"`, `id="signin-form"`)

	// Bad input re-shows the form naming the field, keeping what was typed.
	sitePage(t, env.Form(visitor, page+"/register", url.Values{"email": {"rae@guest.test"}, "first_name": {"Rae"}}), http.StatusBadRequest,
		`id="register-error"`, "last name is required", `value="rae@guest.test"`)

	r := env.Form(visitor, page+"/register", url.Values{"email": {"Rae@Guest.test"}, "first_name": {"Rae"}, "last_name": {"Reader"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page+"?m=registered" {
		t.Fatalf("register: %d %s", r.Status, r.Header.Get("Location"))
	}
	sitePage(t, env.Get(visitor, page+"?m=registered"), http.StatusOK, "Check your inbox")
	a := f.attendee(t, ev, "rae@guest.test")
	if a.State() != (event.State{Status: event.Registered, Detail: event.DetailRegistered}) {
		t.Fatalf("after registering: %v", a.State())
	}

	// The confirmation email arrives with a confirm link.
	m := siteMail(t, md, 1, "You are registered for Spring Summit")
	if len(m.To) != 1 || m.To[0].Address != "rae@guest.test" {
		t.Fatalf("confirmation sent to %+v", m.To)
	}
	confirm := regexp.MustCompile(regexp.QuoteMeta(env.URL+page) + `/confirm/[A-Za-z0-9_-]{43}`).FindString(m.Text)
	if confirm == "" {
		t.Fatalf("no confirm link in:\n%s", m.Text)
	}
	confirm = strings.TrimPrefix(confirm, env.URL)

	// Opening it (a mail scanner, a preview) changes nothing.
	scanner := env.Client()
	for range 5 {
		sitePage(t, env.Get(scanner, confirm), http.StatusOK, `id="confirm"`, "rae@guest.test")
		if h := siteHead(env, scanner, confirm); h.Status != http.StatusOK {
			t.Fatalf("HEAD confirm link: %d", h.Status)
		}
	}
	if got := f.attendee(t, ev, "rae@guest.test"); got.Detail != event.DetailRegistered || f.count(t, &event.Login{}, a.ID) != 0 {
		t.Fatalf("opening the confirm link changed the attendee: %v", got.State())
	}
	// The button confirms and signs in.
	r = env.Form(visitor, confirm, nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page+"?m=confirmed" {
		t.Fatalf("confirm: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	checkSiteCookie(t, r, page)
	if got := f.attendee(t, ev, "rae@guest.test"); got.State() != (event.State{Status: event.Registered, Detail: event.ConfirmedEmail}) {
		t.Fatalf("after confirming: %v", got.State())
	}
	sitePage(t, env.Form(scanner, confirm, nil), http.StatusConflict, `data-error-code="event_link_used"`, "already used", "Back to Spring Summit")

	// Signing in from another device: the sign-in form emails a login link,
	// and says the same for an unknown address.
	device := env.Client()
	for _, email := range []string{"rae@guest.test", "nobody@guest.test"} {
		r := env.Form(device, page+"/signin", url.Values{"email": {email}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page+"?m=signin_sent" {
			t.Fatalf("sign-in form for %s: %d %s", email, r.Status, r.Header.Get("Location"))
		}
	}
	sitePage(t, env.Get(device, page+"?m=signin_sent"), http.StatusOK, "If that address is on this event")
	m = siteMail(t, md, 2, "Your sign-in link for Test org")
	login := regexp.MustCompile(regexp.QuoteMeta(env.URL) + `/l/[A-Za-z0-9_-]{43}`).FindString(m.Text)
	if login == "" || m.To[0].Address != "rae@guest.test" {
		t.Fatalf("login email to %+v without a link:\n%s", m.To, m.Text)
	}
	login = strings.TrimPrefix(login, env.URL)
	for range 5 {
		sitePage(t, env.Get(scanner, login), http.StatusOK, "Sign in as rae@guest.test", `id="signin"`)
		if h := siteHead(env, scanner, login); h.Status != http.StatusOK {
			t.Fatalf("HEAD login link: %d", h.Status)
		}
	}
	if n := f.count(t, &event.Login{}, a.ID); n != 1 {
		t.Fatalf("%d sign-ins after opening the login link, want the confirmation's 1", n)
	}
	r = env.Form(device, login, nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page {
		t.Fatalf("login link: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	checkSiteCookie(t, r, page)
	sitePage(t, env.Form(scanner, login, nil), http.StatusConflict, `data-error-code="event_link_used"`)

	// Opening the event page signed in changes nothing; the page's own POST
	// records the visit: before the start, a pre-event visit.
	signedIn := sitePage(t, env.Get(device, page), http.StatusOK, "Signed in as", "Rae Reader", `data-auto-enter`, `/static/event.js`)
	if strings.Contains(signedIn, `id="register-form"`) {
		t.Fatal("a signed-in attendee is offered registration")
	}
	if n := f.count(t, &event.Visit{}, a.ID); n != 0 {
		t.Fatalf("GET recorded %d visits", n)
	}
	req, _ := http.NewRequest(http.MethodPost, env.URL+page+"/visit", nil)
	req.Header.Set("Accept", "application/json")
	r = env.Send(device, req)
	var v struct {
		Kind, Status, Detail string
		StatusLabel          string `json:"status_label"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &v) != nil || v.Kind != event.VisitPreEvent || v.StatusLabel != "Attended" {
		t.Fatalf("visit: %d %s", r.Status, r.Body)
	}
	if got := f.attendee(t, ev, "rae@guest.test"); got.State() != (event.State{Status: event.Attended, Detail: event.PreEventVisit}) {
		t.Fatalf("after the visit: %v", got.State())
	}
	an, err := f.svc.Analytics(context.Background(), f.caller, ev.ID, a.ID)
	if err != nil || len(an.Visits) != 1 || len(an.Logins) != 2 {
		t.Fatalf("analytics %+v %v", an, err)
	}
	// Without the script, the button does the same and says so.
	r = env.Form(device, page+"/visit", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page+"?m=entered" {
		t.Fatalf("enter button: %d %s", r.Status, r.Header.Get("Location"))
	}
	if b := sitePage(t, env.Get(device, page+"?m=entered"), http.StatusOK, "You entered the event", "Attended"); strings.Contains(b, "data-auto-enter") {
		t.Fatal("the page after entering enters again")
	}

	// Chat: terms first, then messages; blocked from chat, refused.
	sitePage(t, env.Get(device, page), http.StatusOK, `id="accept-terms"`)
	sitePage(t, env.Form(device, page+"/chat", url.Values{"message": {"hi"}}), http.StatusConflict, "accept the chat")
	if r := env.Form(device, page+"/chat/terms", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("accept terms: %d %s", r.Status, r.Body)
	}
	if got := f.attendee(t, ev, "rae@guest.test"); got.ChatTermsAcceptedAt == nil {
		t.Fatal("terms not recorded")
	}
	if r := env.Form(device, page+"/chat", url.Values{"message": {"Hello <everyone>"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("chat: %d %s", r.Status, r.Body)
	}
	sitePage(t, env.Get(device, page), http.StatusOK, `id="chat-form"`, "Hello &lt;everyone&gt;")
	if _, err := f.svc.BlockFromChat(context.Background(), f.caller, ev.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if b := sitePage(t, env.Get(device, page), http.StatusOK, `id="chat-blocked"`); strings.Contains(b, `id="chat-form"`) {
		t.Fatal("a blocked attendee is offered the chat form")
	}
	sitePage(t, env.Form(device, page+"/chat", url.Values{"message": {"still here"}}), http.StatusForbidden, "blocked you from this event&#39;s chat")

	// Removing the attendee ends their session at once.
	if err := f.svc.Remove(context.Background(), f.caller, ev.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	sitePage(t, env.Get(device, page), http.StatusOK, `id="register-form"`)
	sitePage(t, env.Form(device, page+"/visit", nil), http.StatusUnauthorized, `data-error-code="event_signed_out"`)
}

func checkSiteCookie(t *testing.T, r *apitest.Response, path string) {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "ig_event" {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != path || len(c.Value) != 43 || c.MaxAge <= 0 {
				t.Fatalf("site cookie %+v", c)
			}
			return
		}
	}
	t.Fatalf("no site cookie in %v", r.Header)
}

func TestEventSiteRefusals(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	f := newSiteFixture(t, env)
	ctx := context.Background()
	ev := f.event(t, func(in *event.EventInput) { in.Registration = event.RegistrationInviteOnly; in.Slug = "closed-door" })
	page := "/e/" + ev.Slug
	c := env.Client()

	t.Run("unknown event", func(t *testing.T) {
		sitePage(t, env.Get(c, "/e/no-such-event"), http.StatusNotFound, "Event not found")
	})
	t.Run("invite only", func(t *testing.T) {
		if b := sitePage(t, env.Get(c, page), http.StatusOK, `id="invite-only"`, `id="signin-form"`); strings.Contains(b, `id="register-form"`) {
			t.Fatal("an invite-only event offers registration")
		}
		sitePage(t, env.Form(c, page+"/register", url.Values{"email": {"x@guest.test"}, "first_name": {"X"}, "last_name": {"Y"}}),
			http.StatusForbidden, "Registration is by invitation only")
		var n int64
		env.DB.R.Model(&event.Attendee{}).Where("event_id = ?", ev.ID).Count(&n)
		if n != 0 {
			t.Fatalf("%d attendees after a refused registration", n)
		}
	})
	t.Run("no email on this gateway", func(t *testing.T) {
		sitePage(t, env.Form(c, page+"/signin", url.Values{"email": {"x@guest.test"}}), http.StatusConflict, "email delivery is not configured")
	})

	a, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: "ina@guest.test", Profile: event.Profile{FirstName: "Ina", LastName: "Vited"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("expired link", func(t *testing.T) {
		l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		path := strings.TrimPrefix(l.URL, env.URL)
		defer env.Clock.Set(env.Clock.Now())
		env.Clock.Set(l.ExpiresAt.Add(time.Second))
		sitePage(t, env.Get(c, path), http.StatusGone, `data-error-code="event_link_expired"`, "This link has expired", "Back to Spring Summit")
		sitePage(t, env.Form(c, path, nil), http.StatusGone, `data-error-code="event_link_expired"`)
	})
	t.Run("invalid link", func(t *testing.T) {
		sitePage(t, env.Get(c, "/l/"+strings.Repeat("A", 43)), http.StatusNotFound, "This link is not valid")
		sitePage(t, env.Get(c, page+"/confirm/"+strings.Repeat("A", 43)), http.StatusNotFound, "This link is not valid")
	})

	l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	device := env.Client()
	env.Must(env.Form(device, strings.TrimPrefix(l.URL, env.URL), nil), http.StatusSeeOther)
	sitePage(t, env.Get(device, page), http.StatusOK, "Signed in as", "Ina Vited")

	t.Run("unregister asks first", func(t *testing.T) {
		b, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: "una@guest.test", Profile: event.Profile{FirstName: "Una", LastName: "R"}})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, b.ID)
		u := env.Client()
		env.Must(env.Form(u, strings.TrimPrefix(l.URL, env.URL), nil), http.StatusSeeOther)
		sitePage(t, env.Get(u, page+"/unregister"), http.StatusOK, "Unregister from Spring Summit?")
		if got := f.attendee(t, ev, "una@guest.test"); got.Status != event.Invited {
			t.Fatalf("opening the unregister page changed the status to %v", got.Status)
		}
		r := env.Form(u, page+"/unregister", nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page+"?m=unregistered" {
			t.Fatalf("unregister: %d %s", r.Status, r.Body)
		}
		if got := f.attendee(t, ev, "una@guest.test"); got.Status != event.Unregistered {
			t.Fatalf("after unregistering: %v", got.Status)
		}
		sitePage(t, env.Form(u, page+"/visit", nil), http.StatusUnauthorized, "Please sign in")
	})

	t.Run("signed out", func(t *testing.T) {
		s := env.Client()
		l, _ := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
		env.Must(env.Form(s, strings.TrimPrefix(l.URL, env.URL), nil), http.StatusSeeOther)
		r := env.Form(s, page+"/signout", nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page+"?m=signed_out" {
			t.Fatalf("sign out: %d %s", r.Status, r.Body)
		}
		sitePage(t, env.Get(s, page), http.StatusOK, `id="signin-form"`)
		// The device that stayed signed in still is.
		sitePage(t, env.Get(device, page), http.StatusOK, "Signed in as")
	})

	t.Run("blocked", func(t *testing.T) {
		if _, err := f.svc.Block(ctx, f.caller, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		sitePage(t, env.Get(device, page), http.StatusForbidden, "You are blocked from this event")
		sitePage(t, env.Form(device, page+"/visit", nil), http.StatusForbidden, `data-error-code="attendee_blocked"`)
	})

	t.Run("console sign-in links still work at /l", func(t *testing.T) {
		admin := env.SignIn(env.Admin)
		sitePage(t, env.Get(admin, "/console"), http.StatusOK)
	})
}

// TestEventSiteEnteringInBrowser opens a login link in a real browser: the
// link's page and the event page are only looked at, and the event page's
// script records the visit once per tab.
func TestEventSiteEnteringInBrowser(t *testing.T) {
	env := apitest.New(t, apitest.Options{RealClock: true})
	f := newSiteFixture(t, env)
	ctx := context.Background()
	ev := f.event(t, nil)
	a, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: "bea@guest.test", Profile: event.Profile{FirstName: "Bea", LastName: "Browser"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserProfile(t, env)
	b.open(l.URL)
	b.waitFor(10*time.Second, "the login link's button", `document.getElementById("signin")`)
	if n := f.count(t, &event.Login{}, a.ID); n != 0 {
		t.Fatalf("opening the login link signed in %d times", n)
	}
	b.click("signin")
	b.waitFor(10*time.Second, "the entered notice", `document.getElementById("entered") && !document.getElementById("entered").hidden`)
	if got := b.str(`document.getElementById("entered").dataset.kind`); got != event.VisitPreEvent {
		t.Fatalf("entered as %q: %s", got, b.describe())
	}
	if got := b.str(`document.getElementById("attendee-status").textContent`); got != "Attended" {
		t.Fatalf("status shown %q", got)
	}
	if got := f.attendee(t, ev, "bea@guest.test"); got.State() != (event.State{Status: event.Attended, Detail: event.PreEventVisit}) {
		t.Fatalf("after entering: %v", got.State())
	}
	// A reload in the same tab is the same visit.
	b.open(env.URL + "/e/" + ev.Slug)
	b.waitFor(10*time.Second, "the event page", `document.getElementById("enter-form")`)
	time.Sleep(300 * time.Millisecond)
	if n := f.count(t, &event.Visit{}, a.ID); n != 1 {
		t.Fatalf("%d visits after a reload, want 1", n)
	}
}

// A client sending the site's registration and sign-in forms over and over
// is refused with a clear page once past the limit; another client is not.
func TestEventSiteFormsAreLimitedPerClient(t *testing.T) {
	e := apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.Limits.SiteFormsPerMinute = 3 }})
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	e.Must(e.Do("POST", "/api/v1/events", e.APIKey, map[string]any{"name": "Limits", "slug": "limits",
		"starts_at": start, "ends_at": start.Add(time.Hour), "time_zone": "UTC", "registration": "open"}), http.StatusCreated)
	c := e.Client()
	for i := 0; i < 3; i++ {
		r := e.Form(c, "/e/limits/register", url.Values{"email": {fmt.Sprintf("p%d@example.org", i)}, "first_name": {"P"}, "last_name": {"Person"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := e.Form(c, "/e/limits/signin", url.Values{"email": {"p0@example.org"}})
	if r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), "Too many requests") {
		t.Fatalf("fourth form: %d %s", r.Status, r.Body)
	}
	r = e.Form(c, "/e/limits/register", url.Values{"email": {"late@example.org"}, "first_name": {"Late"}, "last_name": {"Comer"}})
	if r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), "wait a minute") {
		t.Fatalf("fourth form: %d %s", r.Status, r.Body)
	}
	var n int64
	e.DB.R.Table("attendees").Where("email = ?", "late@example.org").Count(&n)
	if n != 0 {
		t.Fatal("the refused registration added the person")
	}
}
