package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
)

// The organizer's bulk invite in the console: the template, a file with one
// bad row, its check, "Invite", the banner while the organizer works
// elsewhere, the end with the counts and the error report, and the people
// on All users. Jobs wait for the test (HoldJobs), so the page is seen
// while the import has not run yet, every time.
func TestBrowserBulkInvite(t *testing.T) {
	env := newEventsEnv(t, apitest.Options{RealClock: true, HoldJobs: true}, true)
	start := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Minute)
	ev := env.Must(env.Do("POST", "/api/v1/events", env.APIKey, map[string]any{"name": "Bulk Fest", "slug": "bulk-fest",
		"starts_at": start, "ends_at": start.Add(time.Hour), "time_zone": "UTC", "registration": "invite_only"}), http.StatusCreated).Map(t)
	eventID := ev["id"].(string)
	// Already on the event: the file makes them a moderator.
	env.Must(env.Do("POST", "/api/v1/events/"+eventID+"/attendees", env.APIKey, map[string]any{"email": "kim@known.test",
		"first_name": "Kim", "last_name": "Known"}), http.StatusCreated)

	org := newEventsProfile(t, env.Env)
	org.signInAsAdmin()
	org.open(env.URL + "/console/events/" + eventID)
	org.waitFor(10*time.Second, "the All users page", `document.getElementById("bulk-invite-link")`)
	// Export CSV answers the list as a file.
	org.do("fetch the export link", chromedp.Evaluate[chromedp.Void](
		`fetch(document.getElementById("export-csv").href, {credentials: "same-origin"}).then(r => r.text()).then(t => window.exported = t)`))
	org.waitFor(10*time.Second, "the export", `window.exported`)
	if got := org.str(`window.exported`); !strings.HasPrefix(got, "Email,First Name,Last Name,Title,Company,Speaker,Moderator,Organizer,") ||
		!strings.Contains(got, "kim@known.test,Kim,Known,") {
		t.Fatalf("export link answered %q", got)
	}

	org.do("open Bulk invite", chromedp.Click(chromedp.ID("bulk-invite-link")))
	org.waitFor(10*time.Second, "the bulk invite page", `location.pathname.endsWith("/bulk") && document.getElementById("bulk-file")`)

	// The template link answers the CSV template.
	org.do("fetch the template link", chromedp.Evaluate[chromedp.Void](
		`fetch(document.getElementById("bulk-template").href, {credentials: "same-origin"}).then(r => r.text().then(t => window.template = r.headers.get("Content-Type") + "\n" + t))`))
	org.waitFor(10*time.Second, "the template", `window.template`)
	if got := org.str(`window.template`); !strings.HasPrefix(got, "text/csv; charset=utf-8\nEmail,First Name,Last Name,Title,Company,Speaker,Moderator\r\n") {
		t.Fatalf("template link answered %q", got)
	}

	// A file of four people, one with a mistyped email domain.
	path := filepath.Join(t.TempDir(), "people.csv")
	file := bulkHeader +
		"ava@guests.test,Ava,Adams,,,No,No\r\n" +
		"ben@guests.test,Ben,Brown,Keynote,Acme,Yes,No\r\n" +
		"kim@known.test,Kim,Known,,,No,Yes\r\n" +
		"cat@gmial.com,Cat,Cole,,,,\r\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	org.do("choose the file and check it",
		chromedp.SetUploadFiles(chromedp.ID("bulk-file"), []string{path}),
		chromedp.Click(chromedp.ID("bulk-check")),
	)
	org.waitFor(10*time.Second, "the check's report", `!document.getElementById("bulk-report").hidden`)
	if got := org.str(`document.getElementById("bulk-summary").textContent`); got != "4 users in the file; 3 without problems, 1 problem." {
		t.Fatalf("summary = %q", got)
	}
	preview := org.str(`[...document.querySelectorAll("#bulk-preview tbody tr")].map(r => [...r.cells].map(c => c.textContent).join("|")).join("\n")`)
	if preview != "2|ava@guests.test|Ava|Adams|||No|No\n3|ben@guests.test|Ben|Brown|Keynote|Acme|Yes|No" {
		t.Fatalf("preview:\n%s", preview)
	}
	problems := org.str(`[...document.querySelectorAll("#bulk-problems tbody tr")].map(r => [...r.cells].map(c => c.textContent).join("|")).join("\n")`)
	if problems != `5|Email|email "cat@gmial.com": the domain gmial.com looks like a typo of gmail.com|cat@gmail.com` {
		t.Fatalf("problems:\n%s", problems)
	}
	if !org.truth(`!document.getElementById("bulk-some-refused").hidden && !document.getElementById("bulk-invite").disabled`) {
		t.Fatalf("the page does not offer Invite with the bad row refused")
	}
	jobID := org.str(`document.getElementById("bulk").dataset.job`)
	if !strings.HasSuffix(org.str(`location.search`), jobID) {
		t.Fatalf("the address does not name the job %s: %s", jobID, org.str(`location.href`))
	}

	// Invite: the page follows the import; it has not started yet.
	org.click("bulk-invite")
	org.waitFor(10*time.Second, "the progress", `!document.getElementById("bulk-progress").hidden`)
	if got := org.str(`document.getElementById("bulk-progress-title").textContent`); got != "Users are being invited" {
		t.Fatalf("progress title = %q", got)
	}
	if got := org.str(`document.getElementById("bulk-progress-text").textContent`); got != "Starting: 0 of 4 rows done (0%)." {
		t.Fatalf("progress text = %q", got)
	}

	// The organizer goes on working: the All users page shows the banner.
	org.do("go back to the event", chromedp.Click(chromedp.ID("back-to-event")))
	org.waitFor(10*time.Second, "the banner", `location.pathname === "/console/events/`+eventID+`" && !document.getElementById("job-banner").hidden`)
	if got := org.str(`document.querySelector("#job-banner .job-running").textContent`); !strings.HasPrefix(got, "Users are being invited to Bulk Fest: 0 of 4 (0%).") {
		t.Fatalf("banner = %q", got)
	}

	// The import runs; the banner says it ended, with the counts.
	if n := env.RunJobs(); n != 1 {
		t.Fatalf("ran %d jobs", n)
	}
	org.waitFor(10*time.Second, "the end in the banner", `document.querySelector("#job-banner .job-ended")`)
	if got := org.str(`document.querySelector("#job-banner .job-ended").textContent`); !strings.HasPrefix(got,
		"Bulk invite has ended successfully (Bulk Fest): 2 added, 1 updated, 0 unchanged, 1 refused.") {
		t.Fatalf("banner at the end = %q", got)
	}
	org.do("follow the banner's link", chromedp.Click(chromedp.CSS(`#job-banner .job-ended a`)))
	org.waitFor(10*time.Second, "the end on the bulk invite page", `!document.getElementById("bulk-done").hidden`)
	got := org.str(`["bulk-done-title", "bulk-added", "bulk-updated", "bulk-unchanged", "bulk-refused-count"].map(id => document.getElementById(id).textContent).join("|")`)
	if got != "Bulk invite has ended successfully|2|1|0|1" {
		t.Fatalf("end of the import = %q", got)
	}
	org.do("fetch the error report", chromedp.Evaluate[chromedp.Void](
		`fetch(document.getElementById("bulk-errors-link").href, {credentials: "same-origin"}).then(r => r.text()).then(t => window.report = t)`))
	org.waitFor(10*time.Second, "the error report", `window.report`)
	if got := org.str(`window.report`); got != "Line,Column,Email,Problem,Suggested Fix\r\n"+
		`5,Email,cat@gmial.com,"email ""cat@gmial.com"": the domain gmial.com looks like a typo of gmail.com",cat@gmail.com`+"\r\n" {
		t.Fatalf("error report = %q", got)
	}

	// All users lists the new people, invited, and Kim now a moderator.
	org.do("see All users", chromedp.Click(chromedp.ID("bulk-see-users")))
	org.waitFor(10*time.Second, "the new rows", rowJS("ava@guests.test")+` && `+rowJS("ben@guests.test"))
	if r := org.row("ben@guests.test"); r.Label != "Invited" || r.Roles != "Attendee, Speaker" || !strings.HasPrefix(r.Email, "Last email: queued") {
		t.Fatalf("Ben's row = %+v", r)
	}
	if r := org.row("kim@known.test"); r.Roles != "Attendee, Moderator" {
		t.Fatalf("Kim's row = %+v", r)
	}
	if org.truth(rowJS("cat@gmial.com")) || org.str(`document.getElementById("total").textContent`) != "3" {
		t.Fatalf("the refused row shows, or the total is wrong: %s", org.describe())
	}
	if org.truth(`!document.getElementById("job-banner").hidden`) {
		t.Fatalf("the banner still shows after the end was announced: %s", org.str(`document.getElementById("job-banner").textContent`))
	}

	// Upload another file: the checked file is discarded, the form is back.
	org.open(env.URL + "/console/events/" + eventID + "/bulk")
	org.waitFor(10*time.Second, "the upload form", `!document.getElementById("bulk-upload").hidden`)
	org.do("check the file again",
		chromedp.SetUploadFiles(chromedp.ID("bulk-file"), []string{path}),
		chromedp.Click(chromedp.ID("bulk-check")),
	)
	org.waitFor(10*time.Second, "the check's report", `!document.getElementById("bulk-report").hidden`)
	second := org.str(`document.getElementById("bulk").dataset.job`)
	org.click("bulk-another")
	org.waitFor(10*time.Second, "the upload form", `!document.getElementById("bulk-upload").hidden && !document.getElementById("bulk").dataset.job`)
	if j := getJob(env, second); j.Status != "discarded" {
		t.Fatalf("the file left by Upload another file is %s, want discarded", j.Status)
	}
}
