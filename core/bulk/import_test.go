package bulk_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

func TestImportAddsUpdatesAndRefuses(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationInviteOnly)
			ctx := context.Background()
			first := "Email,First Name,Last Name,Title,Company,Speaker,Moderator\r\n" +
				"ann@example.org,Ann,Attendee,,,No,No\r\n" +
				"sam@example.org,Sam,Speaker,CTO,\"Acme, Inc.\",Yes,No\r\n" +
				"bad@gmial.com,Bad,Typo,,,,\r\n"
			rep, j := e.importFile(t, first, true)
			if rep.Rows != 3 || rep.Valid != 2 || rep.ProblemCount != 1 || rep.Problems[0].Fix != "bad@gmail.com" {
				t.Fatalf("report %+v", rep)
			}
			if j.Status != job.Done || string(j.Counts) != `{"added":2,"updated":0,"unchanged":0,"refused":1}` || j.Processed != 3 || j.Total != 3 {
				t.Fatalf("job %+v counts %s", j, j.Counts)
			}
			page, err := e.events.ListFor(ctx, e.caller, e.ev.ID, event.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != 2 {
				t.Fatalf("attendees: %d", page.Total)
			}
			for _, a := range page.Rows {
				if a.Status != event.Invited || a.Detail != event.InvitedByTeamMember {
					t.Fatalf("attendee %s is %s/%s", a.Email, a.Status, a.Detail)
				}
				if a.Email == "sam@example.org" && (!a.Speaker || a.Title != "CTO" || a.Company != "Acme, Inc.") {
					t.Fatalf("speaker row: %+v", a)
				}
			}
			var msgs []mail.Message
			e.db.R.Where("ref_kind = ?", "attendee").Find(&msgs)
			if len(msgs) != 2 {
				t.Fatalf("%d invitation emails queued, want 2", len(msgs))
			}
			// Each carries a working login link, and is the email the
			// invite form sends.
			if _, err := e.events.Invite(ctx, e.caller, e.ev.ID, event.InviteInput{Email: "form@example.org",
				Profile: event.Profile{FirstName: "Form", LastName: "Person"}, SendEmail: true}); err != nil {
				t.Fatal(err)
			}
			var form mail.Message
			e.db.R.Where("to_email = ?", "form@example.org").Take(&form)
			for _, m := range msgs {
				if m.HTML != "" || m.Text != "" || m.Model == "" {
					t.Fatalf("invitation to %s was rendered when queued; it waits for its worker", m.ToEmail)
				}
				if err := e.mail.Catalog.Bodies(ctx, &m); err != nil {
					t.Fatal(err)
				}
				i := strings.Index(m.Text, "http://gw.test/l/")
				if i < 0 {
					t.Fatalf("invitation to %s has no login link:\n%s", m.ToEmail, m.Text)
				}
				tok := strings.Fields(m.Text[i+len("http://gw.test/l/"):])[0]
				if _, err := e.events.CheckLink(ctx, tok, event.LinkLogin); err != nil {
					t.Fatalf("the link emailed to %s does not work: %v", m.ToEmail, err)
				}
				if m.Template != form.Template || m.Subject != form.Subject || m.ICS == "" || form.ICS == "" ||
					strings.Count(m.Text, "\n") != strings.Count(form.Text, "\n") || m.Status != mail.Queued || m.MessageID == form.MessageID {
					t.Fatalf("imported invitation differs from the form's:\n%+v\n%+v", m, form)
				}
			}

			// A person the account knows without a name, not on the event.
			var known *user.User
			err = e.db.Tx(ctx, func(tx *store.Tx) (err error) {
				known, err = user.Resolve(tx, user.Identity{AccountID: e.ev.AccountID, Email: "known@example.org", FirstName: "", LastName: ""})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			second := "email,first name,last name,speaker,moderator\n" +
				"ann@example.org,Ann,Attendee,,Yes\n" +
				"sam@example.org,Sam,Speaker,Yes,\n" +
				"new@example.org,New,Person,,\n" +
				"known@example.org,Kim,Known,,\n"
			_, j = e.importFile(t, second, false)
			if string(j.Counts) != `{"added":2,"updated":1,"unchanged":1,"refused":0}` {
				t.Fatalf("second import counts %s", j.Counts)
			}
			var users []user.User
			e.db.R.Where("account_id = ? AND email IN ?", e.ev.AccountID, []string{"known@example.org", "new@example.org"}).Order("email").Find(&users)
			if len(users) != 2 || users[0].ID != known.ID || users[0].FirstName != "Kim" || users[0].LastName != "Known" || users[1].FirstName != "New" {
				t.Fatalf("users after the second import: %+v", users)
			}
			var places []event.Attendee
			e.db.R.Where("event_id = ? AND email IN ?", e.ev.ID, []string{"known@example.org", "new@example.org"}).Order("email").Find(&places)
			if len(places) != 2 || places[0].UserID != known.ID || places[1].UserID != users[1].ID {
				t.Fatalf("attendees of the known and the new person: %+v", places)
			}
			e.db.R.Where("ref_kind = ?", "attendee").Find(&msgs)
			if len(msgs) != 3 {
				t.Fatalf("import without email queued mail: %d messages (2 imported, 1 from the form)", len(msgs))
			}
			var audits int64
			e.db.R.Table("audit_entries").Where("action IN ?", []string{"attendee.invited", "attendee.edited"}).Count(&audits)
			if audits != 6 {
				t.Fatalf("audit entries for attendees: %d, want 6 (5 imported, 1 from the form)", audits)
			}
			var invited, edited []string
			e.db.R.Table("audit_entries").Where("action = ? AND detail LIKE ?", "attendee.invited", `%"line":3%`).Pluck("detail", &invited)
			e.db.R.Table("audit_entries").Where("action = ?", "attendee.edited").Pluck("detail", &edited)
			wantInvited := `{"detail":"invited_by_team_member","emailed":true,"event_id":"` + e.ev.ID + `","job_id":"` + firstJob(t, e) + `","line":3,"roles":["attendee","speaker"]}`
			if len(invited) != 1 || invited[0] != wantInvited {
				t.Fatalf("audit detail of Sam's invitation: %q, want %s", invited, wantInvited)
			}
			if len(edited) != 1 || !strings.HasPrefix(edited[0], `{"event_id":"`+e.ev.ID+`","job_id":"`) || !strings.HasSuffix(edited[0], `","line":2,"roles":["attendee","moderator"]}`) {
				t.Fatalf("audit detail of Ann's edit: %q", edited)
			}
			var report bytes.Buffer
			if err := e.bulk.WriteErrorReport(ctx, e.caller, firstJob(t, e), &report); err != nil {
				t.Fatal(err)
			}
			want := "Line,Column,Email,Problem,Suggested Fix\r\n4,Email,bad@gmial.com,\"email \"\"bad@gmial.com\"\": the domain gmial.com looks like a typo of gmail.com\",bad@gmail.com\r\n"
			if report.String() != want {
				t.Fatalf("error report:\n%q\nwant\n%q", report.String(), want)
			}
		})
	}
}

func firstJob(t *testing.T, e *env) string {
	var j job.Job
	if err := e.db.R.Where("kind = ?", bulk.Kind).Order("created_at").Take(&j).Error; err != nil {
		t.Fatal(err)
	}
	return j.ID
}
