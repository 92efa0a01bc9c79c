package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/mail/mailtest"
	"github.com/invitegate/gateway/core/store"
)

var loginLinkRE = regexp.MustCompile(`/l/[A-Za-z0-9_-]{43}`)

// deliveryEnv is a gateway that delivers to maildev, with the bounce
// address delivered to a Maildir the gateway reads.
func deliveryEnv(t *testing.T, dialect string) (*eventsEnv, *mailtest.Maildev, string) {
	t.Helper()
	md := mailtest.Start(t)
	dir := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e := &eventsEnv{Env: apitest.New(t, apitest.Options{Dialect: dialect, RealClock: true, Config: func(c *app.Config) {
		c.Mail.From = "Invitegate <noreply@gateway.test>"
		c.Mail.SMTP = mail.SMTPConfig{Host: "127.0.0.1", Port: md.SMTPPort, TLS: mail.TLSNone}
		c.Mail.Poll = 50 * time.Millisecond
		c.Mail.Bounces = app.BouncesConfig{Address: "bounces@gateway.test", Maildir: dir, Every: 100 * time.Millisecond}
	}})}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.Logs.String())
		}
	})
	return e, md, dir
}

// lastEmails lists the attendees matching query, by email, with their
// last email, after the buffered page views are written.
func (e *eventsEnv) lastEmails(ev, query string) map[string]map[string]any {
	e.T.Helper()
	e.Mail.Views.Sync(context.Background())
	list := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees?per_page=500&"+query, e.APIKey, nil), http.StatusOK).Map(e.T)
	out := map[string]map[string]any{}
	for _, it := range list["items"].([]any) {
		a := it.(map[string]any)
		le, _ := a["last_email"].(map[string]any)
		out[a["email"].(string)] = le
	}
	return out
}

func emailsOf(m map[string]map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, strings.Split(k, "@")[0])
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// waitState waits until the attendee's last email is in state.
func (e *eventsEnv) waitState(ev, email, state string) map[string]any {
	e.T.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		le := e.lastEmails(ev, "search="+email)[email]
		if le != nil && le["state"] == state {
			return le
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("%s: last email %v, want state %s", email, le, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// beacon posts a link page's beacon as its script does (same origin).
func (e *eventsEnv) beacon(path, site string) int {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path+"/opened", nil)
	req.Header.Set("Sec-Fetch-Site", site)
	if site == "cross-site" {
		req.Header.Set("Origin", "https://evil.example")
	}
	return e.Send(e.Client(), req).Status
}

// TestDeliveryStatusOfAttendees follows event invitations through maildev:
// a scanner's GET, a person's visit with the page's beacon, a bounce read
// from the Maildir, the delivery filter, and a bulk resend to the emails
// never opened, which skips the attendee whose status has no Re-send.
func TestDeliveryStatusOfAttendees(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e, md, dir := deliveryEnv(t, d)
			ev := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
			ids := map[string]string{}
			for _, name := range []string{"scan", "person", "bounce", "quiet", "blocked"} {
				a := e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey,
					map[string]any{"email": name + "@guest.test", "first_name": name, "last_name": "Guest", "send_email": true}), http.StatusCreated).Map(t)
				ids[name] = a["id"].(string)
			}
			links := map[string]string{}
			for _, name := range []string{"scan", "person", "bounce", "quiet", "blocked"} {
				le := e.waitState(ev, name+"@guest.test", mail.StateSent)
				if le["queue_id"] == "" && le["server_reply"] == "" {
					t.Fatalf("%s: sent without the server's reply: %v", name, le)
				}
				links[name] = loginLinkRE.FindString(mailTo(t, md, name+"@guest.test", 10*time.Second).Text)
				if links[name] == "" {
					t.Fatalf("no login link in the email to %s", name)
				}
			}
			e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees/"+ids["blocked"]+"/block", e.APIKey, nil), http.StatusOK)

			// A scanner: no cookies, at once, no script.
			e.Must(e.Get(e.Client(), links["scan"]), http.StatusOK)
			// A person: the page, then the beacon its script sends.
			req, _ := http.NewRequest(http.MethodGet, e.URL+links["person"], nil)
			req.Header.Set("Cookie", "theme=dark")
			e.Must(e.Send(e.Client(), req), http.StatusOK)
			if s := e.beacon(links["person"], "cross-site"); s != http.StatusForbidden {
				t.Fatalf("a cross-site beacon: %d, want 403", s)
			}
			if s := e.beacon(links["person"], "same-origin"); s != http.StatusNoContent {
				t.Fatalf("beacon: %d", s)
			}
			first := e.waitState(ev, "person@guest.test", mail.StateOpened)["opened_at"]
			if s := e.beacon(links["person"], "same-origin"); s != http.StatusNoContent {
				t.Fatalf("second beacon: %d", s)
			}
			if again := e.waitState(ev, "person@guest.test", mail.StateOpened)["opened_at"]; again != first {
				t.Fatalf("a second beacon moved the open from %v to %v", first, again)
			}
			if s := e.beacon("/l/"+strings.Repeat("A", 43), "same-origin"); s != http.StatusNotFound {
				t.Fatalf("beacon of an unknown link: %d, want 404", s)
			}
			scanned := e.waitState(ev, "scan@guest.test", mail.StateScanner)
			if scanned["scanner_view_at"] == nil || scanned["opened_at"] != nil {
				t.Fatalf("scanned: %v", scanned)
			}
			// Opening changed nothing of the attendee: still invited, and
			// the link still signs in.
			if a := e.attendee(ev, ids["scan"]); a["status"] != "invited" {
				t.Fatalf("after the scanner's GET the attendee is %v", a["status"])
			}

			// The bounce of one message arrives in the Maildir.
			msgID := e.lastEmails(ev, "search=bounce")["bounce@guest.test"]["id"].(string)
			m := e.Must(e.Do("GET", "/api/v1/mail/messages/"+msgID, e.APIKey, nil), http.StatusOK).Map(t)
			b, err := os.ReadFile("../core/mail/testdata/postfix-bounce-5.1.1.eml")
			if err != nil {
				t.Fatal(err)
			}
			dsn := strings.ReplaceAll(string(b), "<ORIGINAL-MESSAGE-ID>", m["message_id"].(string))
			if err := os.WriteFile(filepath.Join(dir, "tmp", "1.mx"), []byte(dsn), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(dir, "tmp", "1.mx"), filepath.Join(dir, "new", "1.mx")); err != nil {
				t.Fatal(err)
			}
			bounced := e.waitState(ev, "bounce@guest.test", mail.StateFailed)
			if bounced["fail_kind"] != mail.Hard || !strings.Contains(fmt.Sprint(bounced["error"]), "5.1.1") {
				t.Fatalf("bounced: %v", bounced)
			}
			if env := mailTo(t, md, "quiet@guest.test", time.Second); len(env.From) == 0 {
				t.Fatal("no sender")
			}

			for f, want := range map[string]string{"failed": "bounce", "opened": "person", "scanner_only": "scan",
				"never_opened": "blocked,quiet,scan", "sent": "blocked,quiet", "queued": ""} {
				if got := emailsOf(e.lastEmails(ev, "delivery="+f)); got != want {
					t.Errorf("delivery=%s: %s, want %s", f, got, want)
				}
			}
			if r := e.Do("GET", "/api/v1/events/"+ev+"/attendees?delivery=bogus", e.APIKey, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "delivery" {
				t.Fatalf("delivery=bogus: %d %s", r.Status, r.Body)
			}

			// Resend to the ones that never opened their email.
			j := e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees/resend?delivery=never_opened", e.APIKey, nil), http.StatusAccepted).Map(t)
			if j["total"] != 3.0 || j["kind"] != "bulk_resend" {
				t.Fatalf("resend job: %v", j)
			}
			deadline := time.Now().Add(20 * time.Second)
			for j["finished"] != true {
				if time.Now().After(deadline) {
					t.Fatalf("resend job not finished: %v", j)
				}
				time.Sleep(50 * time.Millisecond)
				j = e.Must(e.Do("GET", "/api/v1/jobs/"+j["id"].(string), e.APIKey, nil), http.StatusOK).Map(t)
			}
			counts := j["counts"].(map[string]any)
			if j["status"] != "done" || j["processed"] != 3.0 || counts["resent"] != 2.0 || counts["skipped"] != 1.0 ||
				fmt.Sprint(counts["skipped_by"]) != "map[blocked:1]" {
				t.Fatalf("resend job: %v", j)
			}
			for _, name := range []string{"scan", "quiet"} {
				le := e.waitState(ev, name+"@guest.test", mail.StateSent)
				if le["id"] == nil || le["id"] == e.lastEmails(ev, "search=blocked")["blocked@guest.test"]["id"] {
					t.Fatalf("%s: %v", name, le)
				}
			}
			if n := countTo(md, "scan@guest.test"); n != 2 {
				t.Fatalf("scan@ received %d emails, want 2 (the invitation and the resend)", n)
			}
			if r := e.Do("POST", "/api/v1/events/"+ev+"/attendees/resend?delivery=queued", e.APIKey, nil); r.Status != http.StatusConflict || r.ErrorCode() != "nothing_to_resend" {
				t.Fatalf("resend to nobody: %d %s", r.Status, r.Body)
			}
			if r := e.Do("POST", "/api/v1/events/"+ev+"/attendees/resend?delivery=nope", e.APIKey, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "delivery" {
				t.Fatalf("resend with a bad filter: %d %s", r.Status, r.Body)
			}
		})
	}
}

func countTo(md *mailtest.Maildev, to string) int {
	n := 0
	for _, m := range md.Messages() {
		for _, a := range m.To {
			if a.Address == to {
				n++
			}
		}
	}
	return n
}

// TestDeliveryStatusOfInvitations: a room invitation's last email in the
// resource's invitations list, its page loaded by a scanner.
func TestDeliveryStatusOfInvitations(t *testing.T) {
	e, md, _ := deliveryEnv(t, store.SQLite)
	chooseTemplate(e.Env, mail.Invitation)
	room := e.Resource(map[string]any{"type": "room", "title": "Office hours"})
	e.Must(e.Do("POST", "/api/v1/resources/"+room+"/invitations", e.APIKey,
		map[string]any{"email": "gia@guest.test", "first_name": "Gia", "last_name": "Guest", "role": "viewer", "send_email": true}), http.StatusCreated)
	link := linkRE.FindString(mailTo(t, md, "gia@guest.test", 10*time.Second).Text)
	if link == "" {
		t.Fatal("no invite link in the email")
	}
	path := link[strings.Index(link, "/i/"):]
	e.Must(e.Get(e.Client(), path), http.StatusOK)
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.Mail.Views.Sync(context.Background())
		var out struct {
			Invitations []struct {
				Status    string         `json:"status"`
				LastEmail *mail.Delivery `json:"last_email"`
			} `json:"invitations"`
		}
		e.Must(e.Do("GET", "/api/v1/resources/"+room+"/invitations", e.APIKey, nil), http.StatusOK).JSON(t, &out)
		if len(out.Invitations) != 1 {
			t.Fatalf("invitations: %+v", out)
		}
		inv := out.Invitations[0]
		if inv.LastEmail != nil && inv.LastEmail.State == mail.StateScanner {
			if inv.Status != "active" || inv.LastEmail.QueueID == "" && inv.LastEmail.ServerReply == "" {
				t.Fatalf("invitation after a scanner's GET: status %s, email %+v", inv.Status, inv.LastEmail)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("invitation's last email: %+v", inv.LastEmail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
