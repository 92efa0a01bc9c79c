package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
)

// An admin deletes a person from the console: the page shows the impact
// first, deletes only on confirmation, and the person is gone everywhere.
func TestBrowserAdminDeletesAPerson(t *testing.T) {
	e := apitest.New(t, apitest.Options{RealClock: true})
	room := browserOpenRoom(e, map[string]any{"type": "room", "title": "Seminar", "chat_collaboration": true})
	e.Invite(room, "gia@example.org", "speaker")
	e.Invite(room, "kept@example.org", "viewer")
	students := e.DirectoryGroup("Seminar students", "gia@example.org", "kept@example.org")

	b := newBrowserProfile(t, e)
	b.signInAsAdmin()
	b.open(e.URL + "/console/users")
	// The console users table still lists its users (the admin) and the
	// delete section stands apart from it.
	if !b.truth(`document.querySelector("#users tbody tr") && document.getElementById("add-user") && document.querySelectorAll("#erase-find").length === 1`) {
		t.Fatalf("users page layout: %s", b.describe())
	}
	b.do("type the email", chromedp.SendKeys(chromedp.CSS(`#erase-find input[name=email]`), "gia@example.org"))
	b.do("ask for the impact", chromedp.Click(chromedp.CSS(`#erase-find button[type=submit]`)))
	b.waitFor(10*time.Second, "the impact", `!document.getElementById("erase-impact").hidden`)
	impact := b.str(`document.getElementById("erase-impact").innerText`)
	if !strings.Contains(impact, "gia@example.org") || !strings.Contains(impact, "1 invitation(s)") || !strings.Contains(impact, "1 group(s)") {
		t.Fatalf("impact shown: %q", impact)
	}
	// Nothing is deleted before the confirmation.
	if r := e.Do("GET", "/api/v1/resources/"+room+"/invitations", e.APIKey, nil); !strings.Contains(string(r.Body), "gia@example.org") {
		t.Fatal("the invitation went before the confirmation")
	}
	b.click("erase-confirm")
	b.waitFor(10*time.Second, "the end", `!document.getElementById("erase-done").hidden`)
	if done := b.str(`document.getElementById("erase-done").textContent`); !strings.Contains(done, "was deleted from 1 account") {
		t.Fatalf("end message %q", done)
	}
	r := e.Must(e.Do("GET", "/api/v1/resources/"+room+"/invitations", e.APIKey, nil), http.StatusOK)
	if strings.Contains(string(r.Body), "gia@example.org") || !strings.Contains(string(r.Body), "kept@example.org") {
		t.Fatalf("invitations after deleting Gia: %s", r.Body)
	}
	if got := memberEmails(t, e, students); got != "kept@example.org" {
		t.Fatalf("group members after deleting Gia: %s", got)
	}
}
