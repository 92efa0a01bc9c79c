package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
)

// TestBrowserDeliveryStatusTellsScannerFromPerson: one invitee's link is
// fetched as a mail filter's scanner fetches it (no cookies, no script, at
// once); another invitee opens theirs in a real browser. The organizer's
// All users list tells them apart, filters on it, and resends to the
// scanner-only one with "Resend to these".
func TestBrowserDeliveryStatusTellsScannerFromPerson(t *testing.T) {
	e, md, _ := deliveryEnv(t, store.SQLite)
	ev := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
	links := map[string]string{}
	for _, name := range []string{"scan", "person"} {
		e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey,
			map[string]any{"email": name + "@guest.test", "first_name": name, "last_name": "Guest", "send_email": true}), 201)
		links[name] = loginLinkRE.FindString(mailTo(t, md, name+"@guest.test", 10*time.Second).Text)
	}
	e.waitState(ev, "scan@guest.test", mail.StateSent)
	e.Must(e.Get(e.Client(), links["scan"]), 200)

	guest := newEventsProfile(t, e.Env)
	guest.open(e.URL + links["person"])
	guest.waitFor(10*time.Second, "the login link's page", `document.getElementById("signin")`)
	e.waitState(ev, "person@guest.test", mail.StateOpened)
	e.waitState(ev, "scan@guest.test", mail.StateScanner)

	org := newEventsProfile(t, e.Env)
	org.signInAsAdmin()
	org.open(e.URL + "/console/events/" + ev)
	org.waitFor(10*time.Second, "the All users list", `document.getElementById("attendees")`)
	badge := func(email string) string {
		return org.str(`(() => { const b = ` + rowJS(email) + `.querySelector("td.delivery .badge"); return b.dataset.delivery + ": " + b.textContent.trim(); })()`)
	}
	if got := badge("scan@guest.test"); got != "scanner: Opened by a link scanner" {
		t.Fatalf("the scanned invitee shows %q", got)
	}
	if got := badge("person@guest.test"); got != "opened: Opened" {
		t.Fatalf("the invitee who opened the page shows %q", got)
	}
	if s := org.row("scan@guest.test").Email; !strings.Contains(s, "link scanner") {
		t.Fatalf("the scanned invitee's tooltip: %q", s)
	}

	org.do("filter on scanner-only",
		chromedp.SetValue(chromedp.ID("delivery-filter"), mail.FilterScannerOnly),
		chromedp.Click(chromedp.ID("apply-filters")))
	org.waitFor(10*time.Second, "the filtered list", `location.search.includes("delivery=scanner_only") && document.querySelectorAll("#attendees tbody tr").length === 1`)
	if !org.truth(rowJS("scan@guest.test")) {
		t.Fatalf("the filtered list lacks the scanned invitee: %s", org.describe())
	}
	org.do("resend to these", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), chromedp.Click(chromedp.ID("resend-these")))
	org.waitFor(20*time.Second, "the resend to finish", `document.getElementById("resend-status").dataset.done === "done"`)
	if s := org.str(`document.getElementById("resend-status").textContent`); !strings.HasPrefix(s, "Resent to 1; skipped 0") {
		t.Fatalf("resend result: %q", s)
	}
	if v := org.str(`String(document.getElementById("resend-progress").value)`); v != "1" {
		t.Fatalf("progress bar at %s after the job finished", v)
	}
	deadline := time.Now().Add(10 * time.Second)
	for countTo(md, "scan@guest.test") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("scan@ received %d emails, want the resend too", countTo(md, "scan@guest.test"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := countTo(md, "person@guest.test"); n != 1 {
		t.Fatalf("person@ received %d emails; the resend was for the filtered list only", n)
	}
}
