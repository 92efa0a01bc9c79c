package api_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/api/browsertest"
	"github.com/invitegate/gateway/core/audit"
)

// These tests drive the pages in a real headless Chromium the way people do:
// each browser profile is one person's device, with its own cookies.

// browserTimeout bounds every browser test; a stuck page fails, never hangs.
const browserTimeout = 45 * time.Second

// browserTab is one tab of one browser profile (a person's device), with
// test helpers that fail the test and describe the page when a step fails.
type browserTab struct {
	t   *testing.T
	ctx context.Context
	env *apitest.Env
}

// newBrowserProfile starts a fresh browser profile: a separate device with
// its own cookies, whose actions stop at the test's deadline.
func newBrowserProfile(t *testing.T, env *apitest.Env) *browserTab {
	t.Helper()
	ctx := browsertest.New(t)
	ctx, cancel := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(cancel)
	return &browserTab{t: t, ctx: ctx, env: env}
}

// newTab opens another tab in the same browser: same profile, same cookies.
func (b *browserTab) newTab() *browserTab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a second tab: %v", err)
	}
	return &browserTab{t: b.t, ctx: ctx, env: b.env}
}

func (b *browserTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page: %s)", what, err, b.describe())
	}
}

func (b *browserTab) open(url string) {
	b.t.Helper()
	b.do("open "+url, chromedp.Navigate(url))
}

func (b *browserTab) click(id string) {
	b.t.Helper()
	b.do("click #"+id, chromedp.Click(chromedp.ID(id)))
}

// browserRun runs an action that returns a value.
func browserRun[T any](b *browserTab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v (page: %s)", what, err, b.describe())
	}
	return v
}

// browserEval evaluates a JavaScript expression on the current page.
func browserEval[T any](b *browserTab, expr string) T {
	b.t.Helper()
	return browserRun(b, expr, chromedp.Evaluate[T](expr))
}

func (b *browserTab) str(expr string) string {
	b.t.Helper()
	return browserEval[string](b, expr)
}

func (b *browserTab) truth(expr string) bool {
	b.t.Helper()
	return browserEval[bool](b, "!!("+expr+")")
}

// state is the invite page's data-state.
func (b *browserTab) state() string {
	b.t.Helper()
	b.waitFor(10*time.Second, "the invite page", `document.querySelector("[data-state]")`)
	return b.str(`document.querySelector("[data-state]").dataset.state`)
}

// waitFor waits until a JavaScript condition holds on the page, across
// navigations (an evaluation during a page load is retried).
func (b *browserTab) waitFor(within time.Duration, what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.t.Fatalf("waited %s for %s: %s (last error: %v)", within, what, b.describe(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// describe tells where the tab is and what it shows, for failure messages.
func (b *browserTab) describe() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`location.href + " :: " + (document.body ? document.body.innerText.replace(/\s+/g, " ").slice(0, 400) : "")`))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return s
}

// signInAsAdmin opens a one-time login link and presses "Sign in".
func (b *browserTab) signInAsAdmin() {
	b.t.Helper()
	tok, err := b.env.Sessions.IssueLoginLink(context.Background(), b.env.AccountID, b.env.Admin.ID, audit.System)
	if err != nil {
		b.t.Fatal(err)
	}
	b.open(b.env.URL + "/l/" + tok)
	b.click("signin")
	b.waitFor(10*time.Second, "the console home", `location.pathname === "/console" && document.getElementById("new-resource")`)
	if got := b.str(`document.querySelector("form.signout span").textContent`); got != b.env.Admin.Email {
		b.t.Fatalf("console signed in as %q, want %q", got, b.env.Admin.Email)
	}
}

// enterThroughLobby opens an invite link, checks it shows the lobby, types
// the email and presses Enter.
func (b *browserTab) enterThroughLobby(link, email string) {
	b.t.Helper()
	b.open(link)
	if st := b.state(); st != "lobby" {
		b.t.Fatalf("invite page state = %q, want lobby (%s)", st, b.describe())
	}
	b.do("type the email and press Enter",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.Click(chromedp.ID("enter")),
	)
}

// waitRoom waits for the demo room page of the resource and checks that the
// join token left the address bar.
func (b *browserTab) waitRoom(rid string) {
	b.t.Helper()
	want := b.env.URL + "/demo/rooms/" + rid
	b.waitFor(10*time.Second, "the demo room", fmt.Sprintf(
		`location.pathname === %q && document.getElementById("role")`, "/demo/rooms/"+rid))
	if u := b.str(`location.href`); u != want {
		b.t.Fatalf("room address = %q, want %q (no join token in it)", u, want)
	}
}

type browserRoom struct {
	Role       string `json:"role"`
	RoleText   string `json:"roleText"`
	Who        string `json:"who"`
	Privileges string `json:"privileges"`
}

func (b *browserTab) room() browserRoom {
	b.t.Helper()
	return browserEval[browserRoom](b, `({
		role: document.getElementById("role").dataset.role,
		roleText: document.getElementById("role").textContent.trim(),
		who: document.getElementById("who").textContent.trim(),
		privileges: document.getElementById("privileges").textContent.trim()
	})`)
}

// browserOpenRoom creates an invitable room through the API.
func browserOpenRoom(env *apitest.Env, body map[string]any) string {
	env.T.Helper()
	b := map[string]any{"type": "room", "chat_collaboration": true}
	for k, v := range body {
		b[k] = v
	}
	return env.Resource(b)
}

// The whole path of the feature: the owner makes a room and an invite in the
// console and copies the link; the guest's device enters as Speaker; another
// device is refused; the guest's device comes back.
func TestBrowserOwnerInvitesGuestWhoEntersAsSpeaker(t *testing.T) {
	env := apitest.New(t, apitest.Options{RealClock: true})
	owner := newBrowserProfile(t, env)

	// The owner signs in and creates a room from the console home page.
	owner.signInAsAdmin()
	owner.do("fill and submit the new resource form",
		chromedp.SendKeys(chromedp.CSS(`#new-resource input[name=title]`), "Physics 101"),
		chromedp.SetValue(chromedp.CSS(`#new-resource select[name=type]`), "room"),
		chromedp.Click(chromedp.CSS(`#new-resource button[type=submit]`)),
	)
	owner.waitFor(10*time.Second, "the new room's console page",
		`location.pathname.startsWith("/console/resources/") && document.getElementById("invite-form")`)
	rid := strings.TrimPrefix(owner.str(`location.pathname`), "/console/resources/")
	var res struct {
		Title string `json:"title"`
		Type  string `json:"type"`
	}
	env.Must(env.Do("GET", "/api/v1/resources/"+rid, env.APIKey, nil), http.StatusOK).JSON(t, &res)
	if res.Title != "Physics 101" || res.Type != "room" {
		t.Fatalf("created resource = %+v, want the room Physics 101", res)
	}

	// The invite form: the confirmation shows the link.
	if owner.truth(`!document.getElementById("link-confirm").hidden`) {
		t.Fatalf("the link confirmation shows before any invite was made")
	}
	owner.do("fill and submit the invite form",
		chromedp.SendKeys(chromedp.ID("invite-email"), "ada@guest.test"),
		chromedp.SendKeys(chromedp.ID("invite-first"), "Ada"),
		chromedp.SendKeys(chromedp.ID("invite-last"), "Lovelace"),
		chromedp.SetValue(chromedp.ID("invite-role"), "speaker"),
		chromedp.Click(chromedp.ID("invite-submit")),
	)
	owner.waitFor(10*time.Second, "the link confirmation",
		`!document.getElementById("link-confirm").hidden && document.getElementById("invite-link").value !== ""`)
	link := owner.str(`document.getElementById("invite-link").value`)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(env.URL) + `/i/[A-Za-z0-9_-]{43}$`).MatchString(link) {
		t.Fatalf("confirmation link = %q, want %s/i/<32 bytes base64url>", link, env.URL)
	}
	var list struct {
		Invitations []struct {
			Email     string `json:"email"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			Role      string `json:"role"`
		} `json:"invitations"`
	}
	env.Must(env.Do("GET", "/api/v1/resources/"+rid+"/invitations", env.APIKey, nil), http.StatusOK).JSON(t, &list)
	if len(list.Invitations) != 1 {
		t.Fatalf("invitations after the form: %+v, want one", list.Invitations)
	}
	if i := list.Invitations[0]; i.Email != "ada@guest.test" || i.FirstName != "Ada" || i.LastName != "Lovelace" || i.Role != "speaker" {
		t.Fatalf("invitation made by the form = %+v", i)
	}

	// Copy: the clipboard holds the link afterwards, read back through the
	// Clipboard API with the clipboard permissions granted to the origin.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(owner.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name},
			Setting:    browser.PermissionSettingGranted,
			Origin:     env.URL,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	owner.do("put something else on the clipboard",
		chromedp.Evaluate[chromedp.Void](`navigator.clipboard.writeText("not the link")`, chromedp.EvalAwaitPromise))
	if got := owner.str(`document.getElementById("copy-link").textContent`); got != "Copy" {
		t.Fatalf("copy button before the click says %q, want Copy", got)
	}
	owner.click("copy-link")
	owner.waitFor(5*time.Second, `the button to say "Copied"`, `document.getElementById("copy-link").textContent === "Copied"`)
	copied := browserRun(owner, "read the clipboard",
		chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if copied != link {
		t.Fatalf("clipboard after Copy = %q, want the link %q", copied, link)
	}
	// A second invite from the same page shows its own link, not yet copied.
	owner.do("submit a second invite",
		chromedp.SendKeys(chromedp.ID("invite-email"), "bob@guest.test"),
		chromedp.SendKeys(chromedp.ID("invite-first"), "Bob"),
		chromedp.SendKeys(chromedp.ID("invite-last"), "Babbage"),
		chromedp.Click(chromedp.ID("invite-submit")),
	)
	owner.waitFor(10*time.Second, "the second link",
		fmt.Sprintf(`document.getElementById("invite-link").value !== %q`, link))
	if got := owner.str(`document.getElementById("copy-link").textContent`); got != "Copy" {
		t.Fatalf("copy button for a new, uncopied link says %q, want Copy", got)
	}

	// The guest, on a device of her own: lobby, email, Enter, room as Speaker.
	guest := newBrowserProfile(t, env)
	guest.enterThroughLobby(link, "ada@guest.test")
	guest.waitRoom(rid)
	room := guest.room()
	if room.Role != "speaker" || room.RoleText != "Speaker" {
		t.Fatalf("room shows role %q (%q), want speaker (Speaker)", room.Role, room.RoleText)
	}
	if room.Who != "Ada Lovelace <ada@guest.test>" {
		t.Fatalf("room shows who = %q, want Ada Lovelace <ada@guest.test>", room.Who)
	}
	if room.Privileges == "" {
		t.Fatalf("room shows no privileges for a speaker")
	}

	// Another device opening the same link is refused.
	other := newBrowserProfile(t, env)
	other.open(link)
	other.waitFor(10*time.Second, "an error page", `document.querySelector("section.error-page[data-error-code]")`)
	if code := other.str(`document.querySelector("section.error-page").dataset.errorCode`); code != "used_on_another_device" {
		t.Fatalf("another device sees error %q, want used_on_another_device (%s)", code, other.describe())
	}
	if other.truth(`document.getElementById("enter")`) {
		t.Fatalf("another device is offered an Enter button")
	}

	// The guest's own device comes back: one button, and in again.
	guest.open(link)
	if st := guest.state(); st != "returning" {
		t.Fatalf("returning device sees state %q, want returning (%s)", st, guest.describe())
	}
	if guest.truth(`document.getElementById("email")`) {
		t.Fatalf("returning device is asked for the email again")
	}
	guest.click("enter")
	guest.waitRoom(rid)
	if room := guest.room(); room.Role != "speaker" || room.Who != "Ada Lovelace <ada@guest.test>" {
		t.Fatalf("room after re-entry shows %+v, want Ada Lovelace as speaker", room)
	}
}

// Before the session opens the page counts down, then opens the lobby by
// itself: the test only watches, it never reloads.
func TestBrowserCountdownSwitchesToLobby(t *testing.T) {
	env := apitest.New(t, apitest.Options{RealClock: true})
	// The browser starts first, so its start-up does not eat the countdown.
	b := newBrowserProfile(t, env)
	// 4 to 5 seconds ahead, on a whole second as the API shows it.
	starts := time.Now().Add(4 * time.Second).Truncate(time.Second).Add(time.Second)
	rid := browserOpenRoom(env, map[string]any{"title": "Later today", "starts_at": starts.UTC().Format(time.RFC3339)})
	_, path := env.Invite(rid, "carol@guest.test", "viewer")

	b.open(env.URL + path)
	if st := b.state(); st != "countdown" {
		t.Fatalf("state before the start = %q, want countdown (%s)", st, b.describe())
	}
	if b.truth(`document.getElementById("enter") || document.getElementById("email")`) {
		t.Fatalf("the countdown page offers a way in before the start")
	}
	b.waitFor(3*time.Second, "the countdown clock", `/^\d\d:\d\d:\d\d$/.test(document.getElementById("countdown-clock").textContent)`)
	first := b.str(`document.getElementById("countdown-clock").textContent`)
	if !regexp.MustCompile(`^00:00:0[1-9]$`).MatchString(first) {
		t.Fatalf("countdown clock = %q, want 00:00:0N", first)
	}
	// The clock ticks down.
	b.waitFor(3*time.Second, "the clock to tick", fmt.Sprintf(
		`document.getElementById("countdown-clock") && document.getElementById("countdown-clock").textContent < %q`, first))

	// The page opens the lobby by itself, and not before the start.
	b.waitFor(15*time.Second, "the lobby", `document.querySelector("[data-state=lobby]") && document.getElementById("email")`)
	if now := time.Now(); now.Before(starts) {
		t.Fatalf("lobby shown at %s, before the start %s", now.Format(time.RFC3339Nano), starts.Format(time.RFC3339))
	}
}

// A guest inside the room as viewer redeems a moderator invite in another
// tab; the room tab shows Moderator without being reloaded. Signed in to the
// room by the first redemption, the guest is not asked for their email
// again.
func TestBrowserRoleUpgradeWithoutLeaving(t *testing.T) {
	env := apitest.New(t, apitest.Options{RealClock: true})
	rid := browserOpenRoom(env, map[string]any{"title": "Seminar"})
	_, viewerPath := env.Invite(rid, "dan@guest.test", "viewer")
	_, modPath := env.Invite(rid, "dan@guest.test", "moderator")

	first := newBrowserProfile(t, env)
	first.enterThroughLobby(env.URL+viewerPath, "dan@guest.test")
	first.waitRoom(rid)
	viewer := first.room()
	if viewer.Role != "viewer" || viewer.RoleText != "Viewer" {
		t.Fatalf("room shows %+v, want viewer", viewer)
	}
	// A mark that a reload would wipe.
	first.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__stayed = "yes"`))

	second := first.newTab()
	second.open(env.URL + modPath)
	if st := second.state(); st != "direct" {
		t.Fatalf("the second link's page state = %q, want direct (%s)", st, second.describe())
	}
	if got := second.str(`document.getElementById("signed-in-as").textContent`); got != "dan@guest.test" {
		t.Fatalf("the page says signed in as %q, want dan@guest.test", got)
	}
	second.click("enter")
	second.waitRoom(rid)
	if r := second.room(); r.Role != "moderator" {
		t.Fatalf("second tab's room shows %+v, want moderator", r)
	}

	first.waitFor(10*time.Second, "the first tab to show Moderator",
		`document.getElementById("role").dataset.role === "moderator"`)
	r := first.room()
	if r.RoleText != "Moderator" {
		t.Fatalf("first tab shows role text %q, want Moderator", r.RoleText)
	}
	if r.Privileges == viewer.Privileges {
		t.Fatalf("first tab's privileges did not change with the role: %q", r.Privileges)
	}
	if mark := first.str(`String(window.__stayed)`); mark != "yes" {
		t.Fatalf("the first tab was reloaded (mark = %q); the upgrade must reach it in place", mark)
	}
}

// A wrong email in the lobby says so on the lobby page, and the link still works.
func TestBrowserLobbyWrongEmail(t *testing.T) {
	env := apitest.New(t, apitest.Options{RealClock: true})
	rid := browserOpenRoom(env, map[string]any{"title": "Office hours"})
	_, path := env.Invite(rid, "erin@guest.test", "viewer")

	b := newBrowserProfile(t, env)
	b.enterThroughLobby(env.URL+path, "mallory@guest.test")
	b.waitFor(10*time.Second, "the lobby's error", `document.getElementById("lobby-error")`)
	if code := b.str(`document.getElementById("lobby-error").dataset.errorCode`); code != "email_mismatch" {
		t.Fatalf("lobby error code = %q, want email_mismatch", code)
	}
	if msg := b.str(`document.getElementById("lobby-error").textContent.trim()`); msg == "" {
		t.Fatalf("the lobby error has no message")
	}
	if st := b.state(); st != "lobby" {
		t.Fatalf("after a wrong email the page state = %q, want lobby", st)
	}
	if v := b.str(`document.getElementById("email").value`); v != "mallory@guest.test" {
		t.Fatalf("email field after the refusal = %q, want what was typed", v)
	}

	// The refusal used nothing up: the right email enters.
	b.do("retype the email and press Enter",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""`),
		chromedp.SendKeys(chromedp.ID("email"), "erin@guest.test"),
		chromedp.Click(chromedp.ID("enter")),
	)
	b.waitRoom(rid)
	if r := b.room(); r.Role != "viewer" || !strings.Contains(r.Who, "erin@guest.test") {
		t.Fatalf("room after the right email shows %+v", r)
	}
}

func TestBrowserAdminAddsCoOwner(t *testing.T) {
	env := apitest.New(t, apitest.Options{RealClock: true})
	rid := browserOpenRoom(env, map[string]any{"title": "Team room"})
	member, _ := env.ConsoleUser("colleague@org.test", "member")

	b := newBrowserProfile(t, env)
	b.signInAsAdmin()
	b.open(env.URL + "/console/resources/" + rid)
	b.waitFor(10*time.Second, "the collaborator form", `document.getElementById("collaborator-form")`)
	b.do("choose the colleague as co-owner and submit",
		chromedp.SetValue(chromedp.CSS(`#collaborator-form select[name=user]`), member.ID),
		chromedp.SetValue(chromedp.CSS(`#collaborator-form select[name=role]`), "co_owner"),
		chromedp.Click(chromedp.CSS(`#collaborator-form button[type=submit]`)),
	)
	b.waitFor(10*time.Second, "the colleague listed as co-owner",
		`[...document.querySelectorAll("#collaborators tbody tr")].some(r => r.textContent.includes("colleague@org.test") && r.textContent.includes("Co-owner"))`)
	r := env.Must(env.Do("GET", "/api/v1/resources/"+rid+"/collaborators", env.APIKey, nil), 200)
	if !strings.Contains(string(r.Body), member.ID) || !strings.Contains(string(r.Body), `"co_owner"`) {
		t.Fatalf("collaborators after the form: %s", r.Body)
	}
}
