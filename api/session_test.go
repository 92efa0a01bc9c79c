package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
)

// Redeeming a link signs the person in to that resource, recorded as an
// invite-link session: their next link to the same resource goes straight
// in, without the email; a link to another resource still asks for it, and
// the session never opens the console.
func TestRedemptionSignsInToTheResourceOnly(t *testing.T) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: dialect})
			room := e.Resource(map[string]any{"type": "room", "title": "Seminar"})
			other := e.Resource(map[string]any{"type": "room", "title": "Lab"})
			_, first := e.Invite(room, "dan@guest.test", "viewer")
			_, upgrade := e.Invite(room, "dan@guest.test", "moderator")
			_, elsewhere := e.Invite(other, "dan@guest.test", "viewer")

			guest := e.Client()
			e.Must(e.Form(guest, first, url.Values{"email": {"dan@guest.test"}}), http.StatusSeeOther)
			var n int64
			e.DB.R.Model(&session.Session{}).Where("scope = ? AND scope_id = ? AND method = ?", session.ScopeResource, room, session.MethodInviteLink).Count(&n)
			if n != 1 {
				t.Fatalf("%d invite-link sessions on the room, want 1", n)
			}
			if st := pageState(e.Must(e.Get(guest, upgrade), http.StatusOK)); st != "direct" {
				t.Fatalf("the same resource's next link shows %q, want direct", st)
			}
			// Entered with no email typed: the session proves who they are.
			r := e.Must(e.Form(guest, upgrade, nil), http.StatusSeeOther)
			if loc, _ := url.Parse(r.Header.Get("Location")); loc.Path != "/demo/rooms/"+room {
				t.Fatalf("redirect to %s", loc)
			}
			if st := pageState(e.Must(e.Get(guest, elsewhere), http.StatusOK)); st != "lobby" {
				t.Fatalf("another resource's link shows %q, want lobby", st)
			}
			if r := e.Form(guest, elsewhere, nil); r.Status == http.StatusSeeOther {
				t.Fatal("another resource's link let the person in without their email")
			}
			if r := e.Get(guest, "/console"); r.Status != http.StatusUnauthorized {
				t.Fatalf("the console answered %d to a resource session, want 401", r.Status)
			}
			if r := e.Get(e.Client(), elsewhere); pageState(r) != "lobby" {
				t.Fatalf("another browser sees %q, want lobby", pageState(r))
			}
		})
	}
}

// A domain policy that cannot be read (a broken row in the database) fails
// closed: the invite page says entry is paused, the log says why, and the
// link works again once an admin saves the settings.
func TestCorruptDomainPolicyFailsClosed(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "room", "title": "Seminar"})
	_, link := e.Invite(room, "dan@guest.test", "viewer")
	if err := e.DB.W.Exec("INSERT INTO access_policies (account_id, blocked_domains, allowed_domains, updated_at) VALUES (?, ?, '[]', ?)",
		e.AccountID, "{broken", e.Clock.Now()).Error; err != nil {
		t.Fatal(err)
	}
	r := e.Get(e.Client(), link)
	if r.Status != http.StatusServiceUnavailable || pageCode(r) != "domain_policy_unreadable" {
		t.Fatalf("invite page with a broken policy: %d %q", r.Status, pageCode(r))
	}
	if !strings.Contains(e.Logs.String(), "stored blocked_domains is not a JSON list") {
		t.Fatalf("the cause is not in the log:\n%s", e.Logs.String())
	}
	if r := e.Do("GET", "/api/v1/settings/invitations", e.APIKey, nil); r.ErrorCode() != "domain_policy_unreadable" {
		t.Fatalf("settings with a broken policy: %d %s", r.Status, r.Body)
	}
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"blocked_domains": []string{}}), http.StatusOK)
	if st := pageState(e.Must(e.Get(e.Client(), link), http.StatusOK)); st != "lobby" {
		t.Fatalf("after saving the settings the page shows %q", st)
	}
}
