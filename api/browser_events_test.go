package api_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/api/browsertest"
	"github.com/invitegate/gateway/core/mail/mailtest"
)

// The event path across three people: the organizer in the console, an
// attendee on the event site with their mailbox, and the speaker's mailbox.

// eventsBrowserTimeout bounds each browser profile of the events test: it
// waits for mail and for the other profile, so it gets longer than one page.
const eventsBrowserTimeout = 120 * time.Second

func newEventsProfile(t *testing.T, env *apitest.Env) *browserTab {
	t.Helper()
	ctx, cancel := context.WithTimeout(browsertest.New(t), eventsBrowserTimeout)
	t.Cleanup(cancel)
	return &browserTab{t: t, ctx: ctx, env: env}
}

// speakerPNG writes a 500x500 PNG (the recommended size) and returns its path.
func speakerPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 500, 500))
	for y := 0; y < 500; y++ {
		for x := 0; x < 500; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x / 2), G: uint8(y / 2), B: 160, A: 255})
		}
	}
	path := filepath.Join(t.TempDir(), "speaker.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// mailTo waits for the first message to an address.
func mailTo(t *testing.T, md *mailtest.Maildev, to string, within time.Duration) mailtest.Received {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, m := range md.Messages() {
			for _, a := range m.To {
				if a.Address == to {
					return m
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email to %s within %s (%d messages in the mailbox)", to, within, len(md.Messages()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rowJS finds the All users row of an email address.
func rowJS(email string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#attendees tbody tr")].find(r => r.querySelector("td.email").textContent.trim() === %q)`, email)
}

type browserRowView struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	Label   string   `json:"label"`
	Detail  string   `json:"detail"`
	Email   string   `json:"email"`
	Roles   string   `json:"roles"`
	Actions []string `json:"actions"`
	Blocked bool     `json:"blocked"`
	Text    string   `json:"text"`
}

// row reads the row of an email as the organizer sees it.
func (b *browserTab) row(email string) browserRowView {
	b.t.Helper()
	return browserEval[browserRowView](b, `(() => { const r = `+rowJS(email)+`; return {
		id: r.dataset.attendee,
		status: r.dataset.status,
		label: r.querySelector(".status-label").textContent.trim(),
		detail: r.querySelector(".tip .detail-label").textContent.trim(),
		email: r.querySelector(".tip .email-text").textContent.trim(),
		roles: r.querySelector("td.roles") ? r.querySelector("td.roles").textContent.trim() : "",
		actions: [...r.querySelectorAll("[data-ev-action]")].map(b => b.dataset.evAction),
		blocked: !!r.querySelector(".chat-blocked"),
		text: r.innerText.replace(/\s+/g, " ")
	}; })()`)
}

// rowAction opens a row's actions menu and chooses one.
func (b *browserTab) rowAction(id, action string) {
	b.t.Helper()
	row := fmt.Sprintf(`#attendees tr[data-attendee=%q]`, id)
	// A row being refreshed after the last action is about to be replaced.
	b.waitFor(10*time.Second, "the row to settle", fmt.Sprintf(`(r => r && !r.hasAttribute("aria-busy"))(document.querySelector(%q))`, row))
	b.do("open the actions menu and choose "+action,
		chromedp.Click(chromedp.CSS(row+" details.menu summary")),
		chromedp.WaitVisible(chromedp.CSS(row+fmt.Sprintf(` button[data-ev-action=%q]`, action))),
		chromedp.Click(chromedp.CSS(row+fmt.Sprintf(` button[data-ev-action=%q]`, action))),
	)
}

var confirmLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/e/summit-by-browser/confirm/[A-Za-z0-9_-]{43}`)

func TestBrowserOrganizerInvitesSpeakerAndFollowsAttendee(t *testing.T) {
	env, md := emailEnv(t, apitest.Options{RealClock: true})
	org := newEventsProfile(t, env)
	org.signInAsAdmin()

	// The organizer creates the event in the console, its times given in
	// the event's time zone.
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	starts := time.Now().In(paris).Add(10 * 24 * time.Hour).Truncate(time.Hour)
	ends := starts.Add(2 * time.Hour)
	org.do("follow the Events link", chromedp.Click(chromedp.CSS(`header nav a[href="/console/events"]`)))
	org.waitFor(10*time.Second, "the events page", `location.pathname === "/console/events" && document.getElementById("new-event")`)
	org.do("fill and submit the new event form",
		chromedp.SendKeys(chromedp.ID("event-name"), "Summit by browser"),
		chromedp.SendKeys(chromedp.ID("event-slug"), "summit-by-browser"),
		chromedp.SetValue(chromedp.ID("event-starts"), starts.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.ID("event-ends"), ends.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.ID("event-tz"), "Europe/Paris"),
		chromedp.SetValue(chromedp.ID("event-registration"), "open"),
		chromedp.Click(chromedp.ID("event-create")),
	)
	org.waitFor(10*time.Second, "the new event's All users page",
		`location.pathname.startsWith("/console/events/") && document.getElementById("invite-form")`)
	eventID := strings.TrimPrefix(org.str(`location.pathname`), "/console/events/")
	var ev struct {
		Name     string    `json:"name"`
		Slug     string    `json:"slug"`
		StartsAt time.Time `json:"starts_at"`
		EndsAt   time.Time `json:"ends_at"`
		TimeZone string    `json:"time_zone"`
	}
	env.Must(env.Do("GET", "/api/v1/events/"+eventID, env.APIKey, nil), http.StatusOK).JSON(t, &ev)
	if ev.Name != "Summit by browser" || ev.Slug != "summit-by-browser" || ev.TimeZone != "Europe/Paris" ||
		!ev.StartsAt.Equal(starts) || !ev.EndsAt.Equal(ends) {
		t.Fatalf("event made by the form = %+v, want it from %s to %s Paris time", ev, starts, ends)
	}

	// The organizer invites a speaker with an image and a bio.
	bio := "Sam has run the summit's workshops since 2019."
	org.do("fill the invite form as a speaker with an image",
		chromedp.SendKeys(chromedp.ID("invite-email"), "sam@speaker.test"),
		chromedp.SendKeys(chromedp.ID("invite-first"), "Sam"),
		chromedp.SendKeys(chromedp.ID("invite-last"), "Speaker"),
		chromedp.Click(chromedp.ID("invite-speaker")),
		chromedp.WaitVisible(chromedp.ID("invite-image")),
		chromedp.SetUploadFiles(chromedp.ID("invite-image"), []string{speakerPNG(t)}),
		chromedp.SendKeys(chromedp.ID("invite-title"), "Workshop lead"),
		chromedp.SendKeys(chromedp.ID("invite-company"), "Example Labs"),
		chromedp.SendKeys(chromedp.ID("invite-bio"), bio),
	)
	org.waitFor(10*time.Second, "the chosen image's size", `document.querySelector("#invite-form [data-image-info]").textContent.includes("500x500 pixels")`)
	if got, want := org.str(`document.getElementById("invite-bio-count").textContent`), fmt.Sprintf("%d / 2,500 characters", len(bio)); got != want {
		t.Fatalf("bio counter = %q, want %q", got, want)
	}
	org.click("invite-send")
	org.waitFor(15*time.Second, "the speaker's row", rowJS("sam@speaker.test"))
	sam := org.row("sam@speaker.test")
	if sam.Label != "Invited" || sam.Detail != "Invited to register" || sam.Roles != "Attendee, Speaker" {
		t.Fatalf("speaker's row = %+v", sam)
	}
	if msg := org.str(`document.getElementById("notice").textContent`); !strings.Contains(msg, "Invited Sam Speaker") {
		t.Fatalf("notice after inviting = %q", msg)
	}
	org.waitFor(10*time.Second, "the speaker's image in the row", fmt.Sprintf(
		`(() => { const i = document.querySelector('#attendees tr[data-attendee=%q] img.avatar'); return i && i.complete && i.naturalWidth === 500; })()`, sam.ID))
	var speaker struct {
		Speaker   bool            `json:"speaker"`
		Bio       string          `json:"bio"`
		Title     string          `json:"title"`
		Company   string          `json:"company"`
		ImageRef  string          `json:"image_ref"`
		LastEmail *map[string]any `json:"last_email"`
	}
	env.Must(env.Do("GET", "/api/v1/events/"+eventID+"/attendees/"+sam.ID, env.APIKey, nil), http.StatusOK).JSON(t, &speaker)
	if !speaker.Speaker || speaker.Bio != bio || speaker.Title != "Workshop lead" || speaker.Company != "Example Labs" || speaker.ImageRef == "" || speaker.LastEmail == nil {
		t.Fatalf("speaker as stored = %+v", speaker)
	}
	if m := mailTo(t, md, "sam@speaker.test", 15*time.Second); !strings.Contains(m.Text, "Summit by browser") {
		t.Fatalf("the speaker's invitation does not name the event: %s", m.Text)
	}
	// The Speakers tab lists them with their bio.
	org.do("open the Speakers tab", chromedp.Click(chromedp.CSS(`#tabs a[href$="tab=speakers"]`)))
	org.waitFor(10*time.Second, "the Speakers tab", `location.search === "?tab=speakers" && document.querySelector("#attendees td.bio")`)
	if txt := org.row("sam@speaker.test").Text; !strings.Contains(txt, bio) || !strings.Contains(txt, "Workshop lead, Example Labs") {
		t.Fatalf("speaker's row in the Speakers tab = %q", txt)
	}

	// An attendee registers on the event site, on a device of their own.
	ann := newEventsProfile(t, env)
	ann.open(env.URL + "/e/summit-by-browser")
	ann.do("fill and submit the registration form",
		chromedp.SendKeys(chromedp.ID("register-email"), "ann@attendee.test"),
		chromedp.SendKeys(chromedp.ID("register-first"), "Ann"),
		chromedp.SendKeys(chromedp.ID("register-last"), "Attendee"),
		chromedp.Click(chromedp.ID("register")),
	)
	ann.waitFor(10*time.Second, "the registration notice", `document.querySelector("#notice[data-notice=registered]")`)

	// The confirmation email arrives; its link confirms and signs in.
	m := mailTo(t, md, "ann@attendee.test", 15*time.Second)
	link := confirmLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("the confirmation email has no confirmation link:\n%s", m.Text)
	}
	ann.open(link)
	ann.click("confirm")
	ann.waitFor(10*time.Second, "the signed-in event page", `location.pathname === "/e/summit-by-browser" && document.getElementById("attendee")`)
	// The page enters the event by itself: a visit before the start.
	ann.waitFor(10*time.Second, "the visit", `!document.getElementById("entered").hidden && document.getElementById("entered").dataset.kind === "pre_event"`)

	// The organizer sees the attendee as Attended, pre-event visit, with the
	// confirmation email's fate on hover.
	org.open(env.URL + "/console/events/" + eventID + "?search=ann")
	org.waitFor(10*time.Second, "the attendee's row", rowJS("ann@attendee.test"))
	annRow := org.row("ann@attendee.test")
	if annRow.Status != "attended" || annRow.Label != "Attended" || annRow.Detail != "Pre-event visit" {
		t.Fatalf("attendee's row = %+v, want Attended with detail Pre-event visit", annRow)
	}
	if !strings.HasPrefix(annRow.Email, "Last email: ") {
		t.Fatalf("attendee's row says of the last email %q", annRow.Email)
	}
	if got := strings.Join(annRow.Actions, ","); got != "edit,view_analytics,remove" {
		t.Fatalf("attendee's actions before the chat = %s, want edit,view_analytics,remove", got)
	}
	if org.truth(rowJS("sam@speaker.test")) {
		t.Fatalf("the search for ann also shows the speaker")
	}
	// The detail shows on hover (and on keyboard focus).
	tip := fmt.Sprintf(`document.querySelector('#attendees tr[data-attendee=%q] .tip')`, annRow.ID)
	if org.str(`getComputedStyle(`+tip+`).display`) != "none" {
		t.Fatalf("the status tooltip shows without hover")
	}
	org.do("focus the status", chromedp.Focus(chromedp.CSS(fmt.Sprintf(`#attendees tr[data-attendee=%q] .status-tip`, annRow.ID))))
	if org.str(`getComputedStyle(`+tip+`).display`) == "none" {
		t.Fatalf("the status tooltip stays hidden on focus")
	}

	// View analytics: the visit, before the event.
	org.rowAction(annRow.ID, "view_analytics")
	org.waitFor(10*time.Second, "the analytics dialog", `document.getElementById("analytics-dialog").open && document.getElementById("analytics-summary")`)
	if s := org.str(`document.getElementById("analytics-summary").textContent`); !strings.HasPrefix(s, "1 visit (1 before the event, 0 during it)") {
		t.Fatalf("analytics summary = %q", s)
	}
	org.do("close the analytics", chromedp.Click(chromedp.CSS(`#analytics-dialog [data-close]`)))

	// The attendee opens the chat and accepts its terms.
	ann.click("accept-terms")
	ann.waitFor(10*time.Second, "the open chat", `document.getElementById("chat-form")`)

	// The organizer blocks them from the chat; the row says so.
	org.open(env.URL + "/console/events/" + eventID + "?search=ann")
	org.waitFor(10*time.Second, "the attendee's row", rowJS("ann@attendee.test"))
	if got := strings.Join(org.row("ann@attendee.test").Actions, ","); got != "edit,view_analytics,remove,block_from_chat" {
		t.Fatalf("attendee's actions after accepting the chat's terms = %s", got)
	}
	org.rowAction(annRow.ID, "block_from_chat")
	org.waitFor(10*time.Second, "the row to show the chat block", rowJS("ann@attendee.test")+`.querySelector(".chat-blocked")`)
	annRow = org.row("ann@attendee.test")
	if !annRow.Blocked || annRow.Label != "Attended" || strings.Contains(strings.Join(annRow.Actions, ","), "block_from_chat") {
		t.Fatalf("attendee's row after the block = %+v", annRow)
	}
	var blocked struct {
		BlockedFromChat bool `json:"blocked_from_chat"`
	}
	env.Must(env.Do("GET", "/api/v1/events/"+eventID+"/attendees/"+annRow.ID, env.APIKey, nil), http.StatusOK).JSON(t, &blocked)
	if !blocked.BlockedFromChat {
		t.Fatalf("the API does not show the attendee blocked from chat")
	}
	// After a reload the row still says so, and the attendee sees it too.
	org.open(env.URL + "/console/events/" + eventID)
	org.waitFor(10*time.Second, "the attendee's row", rowJS("ann@attendee.test"))
	if !org.row("ann@attendee.test").Blocked {
		t.Fatalf("the chat block is gone after a reload")
	}
	ann.open(env.URL + "/e/summit-by-browser")
	ann.waitFor(10*time.Second, "the chat's blocked notice", `document.getElementById("chat-blocked")`)
}

// The row actions' dialogs, on a gateway without email: refusals are shown
// in words, the login link is shown with a copy button, an edit changes the
// row in place, and a removal asks first and takes the row away.
func TestBrowserEventRowActions(t *testing.T) {
	env := apitest.New(t, apitest.Options{RealClock: true})
	start := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Minute)
	ev := env.Must(env.Do("POST", "/api/v1/events", env.APIKey, map[string]any{"name": "Dialog Day", "slug": "dialog-day",
		"starts_at": start, "ends_at": start.Add(time.Hour), "time_zone": "UTC", "registration": "invite_only"}), http.StatusCreated).Map(t)
	eventID := ev["id"].(string)
	tia := env.Must(env.Do("POST", "/api/v1/events/"+eventID+"/attendees", env.APIKey, map[string]any{"email": "tia@guest.test",
		"first_name": "Tia", "last_name": "Guest", "speaker": true, "bio": "Short bio."}), http.StatusCreated).Map(t)
	tiaID := tia["id"].(string)

	org := newEventsProfile(t, env)
	org.signInAsAdmin()
	org.open(env.URL + "/console/events/" + eventID)
	org.waitFor(10*time.Second, "Tia's row", rowJS("tia@guest.test"))
	if !org.truth(`document.getElementById("email-unavailable")`) {
		t.Fatalf("the invite form does not say that this gateway cannot email")
	}

	// "Invite" asks for an email the gateway cannot send: the form says why.
	org.do("invite with an email",
		chromedp.SendKeys(chromedp.ID("invite-email"), "uma@guest.test"),
		chromedp.SendKeys(chromedp.ID("invite-first"), "Uma"),
		chromedp.SendKeys(chromedp.ID("invite-last"), "Guest"),
		chromedp.Click(chromedp.ID("invite-send")),
	)
	org.waitFor(10*time.Second, "the invite form's error", `!document.querySelector("#invite-form [data-error]").hidden`)
	if msg := org.str(`document.querySelector("#invite-form [data-error]").textContent`); !strings.Contains(msg, "email delivery is not configured") {
		t.Fatalf("invite form error = %q", msg)
	}
	if org.truth(rowJS("uma@guest.test")) {
		t.Fatalf("a refused invitation shows a row")
	}
	// Without an email it works, and the row appears on top.
	org.click("invite-silent")
	org.waitFor(10*time.Second, "Uma's row", rowJS("uma@guest.test"))
	if first := org.str(`document.querySelector("#attendees tbody tr td.email").textContent`); first != "uma@guest.test" {
		t.Fatalf("first row after inviting = %q, want the new person", first)
	}
	if total := org.str(`document.getElementById("total").textContent`); total != "2" {
		t.Fatalf("total after inviting = %q, want 2", total)
	}

	// Re-send invitation is refused in words: no email here.
	org.rowAction(tiaID, "resend_invitation")
	org.waitFor(10*time.Second, "the refusal", `document.getElementById("notice").classList.contains("error")`)
	if msg := org.str(`document.getElementById("notice").textContent`); !strings.Contains(msg, "Re-send invitation for Tia Guest failed: email delivery is not configured") {
		t.Fatalf("notice = %q", msg)
	}

	// Generate login link: shown with a copy button.
	org.rowAction(tiaID, "generate_login_link")
	org.waitFor(10*time.Second, "the login link dialog", `document.getElementById("link-dialog").open && document.getElementById("login-link").value`)
	link := org.str(`document.getElementById("login-link").value`)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(env.URL) + `/l/[A-Za-z0-9_-]{43}$`).MatchString(link) {
		t.Fatalf("login link = %q", link)
	}
	if !org.truth(`document.querySelector("#link-dialog button[data-copy='#login-link']")`) {
		t.Fatalf("the login link has no copy button")
	}
	org.do("close the link dialog", chromedp.Click(chromedp.CSS(`#link-dialog [data-close]`)))
	if r := env.Get(env.Client(), strings.TrimPrefix(link, env.URL)); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "tia@guest.test") {
		t.Fatalf("the login link's page: %d", r.Status)
	}

	// Edit: the dialog holds the current profile; saving changes the row.
	org.rowAction(tiaID, "edit")
	org.waitFor(10*time.Second, "the edit dialog", `document.getElementById("edit-dialog").open && document.getElementById("edit-first").value === "Tia"`)
	if bio := org.str(`document.getElementById("edit-bio").value`); bio != "Short bio." {
		t.Fatalf("edit dialog bio = %q", bio)
	}
	if !org.truth(`document.getElementById("edit-speaker").checked && !document.getElementById("edit-moderator").checked`) {
		t.Fatalf("edit dialog roles do not match the attendee")
	}
	org.do("rename and make moderator",
		chromedp.SetValue(chromedp.ID("edit-first"), "Tina"),
		chromedp.Click(chromedp.ID("edit-moderator")),
		chromedp.SetValue(chromedp.ID("edit-bio"), "Longer bio now."),
		chromedp.Click(chromedp.ID("edit-save")),
	)
	org.waitFor(10*time.Second, "the renamed row", fmt.Sprintf(`document.querySelector('#attendees tr[data-attendee=%q]').dataset.name === "Tina Guest"`, tiaID))
	if r := org.row("tia@guest.test"); r.Roles != "Attendee, Speaker, Moderator" {
		t.Fatalf("row after the edit = %+v", r)
	}
	got := env.Must(env.Do("GET", "/api/v1/events/"+eventID+"/attendees/"+tiaID, env.APIKey, nil), http.StatusOK).Map(t)
	if got["first_name"] != "Tina" || got["bio"] != "Longer bio now." || got["moderator"] != true || got["speaker"] != true {
		t.Fatalf("attendee after the edit = %v", got)
	}

	// Remove asks first, saying access ends at once; cancel keeps the row.
	org.rowAction(tiaID, "remove")
	org.waitFor(10*time.Second, "the remove dialog", `document.getElementById("remove-dialog").open`)
	if txt := org.str(`document.getElementById("remove-text").textContent`); !strings.Contains(txt, "Tina Guest") || !strings.Contains(txt, "access ends at once") {
		t.Fatalf("remove dialog says %q", txt)
	}
	org.do("cancel", chromedp.Click(chromedp.CSS(`#remove-dialog [data-close]`)))
	env.Must(env.Do("GET", "/api/v1/events/"+eventID+"/attendees/"+tiaID, env.APIKey, nil), http.StatusOK)
	org.rowAction(tiaID, "remove")
	org.waitFor(10*time.Second, "the remove dialog", `document.getElementById("remove-dialog").open`)
	org.click("remove-confirm")
	org.waitFor(10*time.Second, "the row to go", `!`+rowJS("tia@guest.test"))
	if total := org.str(`document.getElementById("total").textContent`); total != "1" {
		t.Fatalf("total after removing = %q, want 1", total)
	}
	env.Must(env.Do("GET", "/api/v1/events/"+eventID+"/attendees/"+tiaID, env.APIKey, nil), http.StatusNotFound)
	// The removed person's login link no longer works.
	if r := env.Get(env.Client(), strings.TrimPrefix(link, env.URL)); r.Status == http.StatusOK {
		t.Fatalf("the removed person's login link still opens a sign-in page")
	}
}
