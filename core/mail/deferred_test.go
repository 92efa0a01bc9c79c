package mail_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// A batch of event emails (a bulk import's) is queued with its model and
// rendered by the worker that sends it: the email that arrives is the one
// QueueEventEmail renders when it queues.
func TestDeferredEventEmails(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b, cat := acmeEvents(t, db)
		now := time.Date(2030, 5, 1, 9, 30, 0, 0, time.UTC)
		srv := newSMTPServer(t, plainSMTP)
		ms := &mail.Service{DB: db, Catalog: cat, BaseURL: "https://gw.test", From: "Gate <noreply@gw.test>", Now: func() time.Time { return now }}
		ms.Outbox = outboxFor(t, db, srv, func(c *mail.OutboxConfig) { c.Catalog, c.Now = cat, ms.Now })

		start := time.Date(2030, 6, 2, 12, 0, 0, 0, time.UTC)
		ev := &event.Event{ID: "0195f5d2-0000-7000-8000-000000000001", AccountID: b.Account.ID, Name: "Launch & Learn", Slug: "launch",
			StartsAt: start, EndsAt: start.Add(2 * time.Hour), TimeZone: "Europe/Paris"}
		sam := &event.Attendee{ID: "0195f5d2-0000-7000-8000-000000000002", AccountID: b.Account.ID, EventID: ev.ID,
			Email: "sam@guest.test", FirstName: "Sam", LastName: "Speaker", Speaker: true}
		ann := &event.Attendee{ID: "0195f5d2-0000-7000-8000-000000000003", AccountID: b.Account.ID, EventID: ev.ID,
			Email: "ann@guest.test", FirstName: "Ann", LastName: "O'Neil, Jr."}
		by := audit.Actor{Kind: audit.ActorUser, ID: mustUser(t, db, b.Account.ID)}
		templates := []string{event.EmailInvitation, event.EmailInvitationToRegister, event.EmailLoginLink}
		for _, tpl := range templates {
			err := db.Tx(ctx, func(tx *store.Tx) error {
				batch := []*event.Email{
					{Template: tpl, Event: ev, Attendee: sam, Link: "https://gw.test/l/SAM", ExpiresAt: ev.EndsAt, By: by},
					{Template: tpl, Event: ev, Attendee: ann, Link: "https://gw.test/l/ANN", ExpiresAt: ev.EndsAt, By: by},
				}
				if err := ms.QueueEventEmails(ctx, tx, batch); err != nil {
					return err
				}
				// The same email to Sam, rendered when queued.
				return ms.QueueEventEmail(ctx, tx, &event.Email{Template: tpl, Event: ev, Attendee: sam, Link: "https://gw.test/l/SAM", ExpiresAt: ev.EndsAt, By: by})
			})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []mail.Message
			db.R.Where("template = ?", tpl).Order("created_at, id").Find(&msgs)
			if len(msgs) != 3 {
				t.Fatalf("%s: %d messages queued, want 3", tpl, len(msgs))
			}
			var deferred []mail.Message
			var eager *mail.Message
			for i := range msgs {
				if msgs[i].Model == "" {
					eager = &msgs[i]
				} else {
					deferred = append(deferred, msgs[i])
				}
			}
			if eager == nil || len(deferred) != 2 {
				t.Fatalf("%s: want two deferred messages and one rendered: %+v", tpl, msgs)
			}
			for _, d := range deferred {
				if d.HTML != "" || d.Text != "" || d.ICS != "" || d.Subject == "" {
					t.Fatalf("%s: a deferred message holds bodies or lacks its subject: %+v", tpl, d)
				}
				base, _, ok := strings.Cut(d.Model, `,"r":{"i":`)
				if !ok || strings.Contains(base, "guest.test") || strings.Contains(base, "Speaker") || strings.Contains(base, "O'Neil") {
					t.Fatalf("%s: the batch's shared part names a recipient: %s", tpl, d.Model)
				}
				// What a bulk import writes per person stays small.
				if len(d.Model) > 700 {
					t.Errorf("%s: model of %d bytes: %s", tpl, len(d.Model), d.Model)
				}
			}
			got := deferred[0]
			if got.ToEmail != "sam@guest.test" {
				got = deferred[1]
			}
			if err := cat.Bodies(ctx, &got); err != nil {
				t.Fatal(err)
			}
			if got.Subject != eager.Subject || got.HTML != eager.HTML || got.Text != eager.Text || got.ICS != eager.ICS {
				t.Fatalf("%s: the deferred email renders differently from the one rendered when queued:\n%s\n%s\n---\n%s\n%s\n---\n%s\n%s",
					tpl, got.Subject, eager.Subject, got.Text, eager.Text, got.ICS, eager.ICS)
			}

			// The batch's shared part is one row, which both messages name,
			// and is not repeated in them.
			var bases []mail.ModelBase
			db.R.Order("created_at, id").Find(&bases)
			base := bases[len(bases)-1]
			if len(bases) != len(templates[:slices.Index(templates, tpl)+1]) || !strings.Contains(base.Base, "Launch") || base.AccountID != b.Account.ID {
				t.Fatalf("%s: bases %+v", tpl, bases)
			}
			for _, d := range deferred {
				if !strings.HasPrefix(d.Model, `{"bid":"`+base.ID+`","r":`) || strings.Contains(d.Model, "Launch") {
					t.Fatalf("%s: a message does not name its batch's base %s: %s", tpl, base.ID, d.Model)
				}
			}
			// A message queued when the shared part was kept in each
			// message renders the same.
			legacy := deferred[0]
			legacy.Model = `{"b":` + base.Base + strings.TrimPrefix(legacy.Model, `{"bid":"`+base.ID+`"`)
			want := deferred[0]
			if err := cat.Bodies(ctx, &want); err != nil {
				t.Fatal(err)
			}
			if err := cat.Bodies(ctx, &legacy); err != nil || legacy.HTML != want.HTML || legacy.ICS != want.ICS || legacy.Text != want.Text {
				t.Fatalf("%s: a message with its shared part inline renders differently (%v):\n%s\n---\n%s", tpl, err, legacy.Text, want.Text)
			}
		}
		// Bases that waiting messages name are kept, however old.
		if n, err := mail.PurgeModelBases(ctx, db, now.Add(24*time.Hour)); err != nil || n != 0 {
			t.Fatalf("purged %d bases of waiting messages (%v)", n, err)
		}

		// A deferred message whose template is gone fails at once, saying so.
		var gone mail.Message
		db.R.Where("to_email = ? AND template = ? AND model <> ''", "ann@guest.test", event.EmailLoginLink).Take(&gone)
		db.W.Model(&mail.Message{}).Where("id = ?", gone.ID).Update("template", "retired")

		// A base no message names, made an hour ago: the outbox purges it
		// when it starts.
		orphan := mail.ModelBase{ID: "0195f5d2-0000-7000-8000-0000000000ff", AccountID: b.Account.ID, Base: `{}`, CreatedAt: now.Add(-time.Hour)}
		if err := db.W.Create(&orphan).Error; err != nil {
			t.Fatal(err)
		}
		run(t, ms.Outbox)
		done := waitDone(t, db, 20*time.Second)
		for wait := time.Now().Add(5 * time.Second); ; {
			var left int64
			db.R.Model(&mail.ModelBase{}).Where("id = ?", orphan.ID).Count(&left)
			if left == 0 {
				break
			}
			if time.Now().After(wait) {
				t.Fatal("the outbox did not purge a base no message names")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(srv.messages()); n != 3*len(templates)-1 {
			t.Fatalf("server received %d messages, want %d", n, 3*len(templates)-1)
		}
		for _, m := range done {
			if m.ID == gone.ID {
				if m.Status != mail.Failed || !strings.Contains(m.LastError, `no email template named "retired"`) || m.Attempts != 1 || m.Model != "" {
					t.Fatalf("message with a retired template: %+v", m)
				}
				continue
			}
			if m.Status != mail.Sent || m.Model != "" || m.HTML != "" || m.Subject == "" {
				t.Fatalf("message %s to %s: %+v", m.ID, m.ToEmail, m)
			}
		}
		// Once every message is sent or failed, no base is named: they
		// go, but only those made before the given time.
		if n, err := mail.PurgeModelBases(ctx, db, now.Add(-time.Minute)); err != nil || n != 0 {
			t.Fatalf("purged %d bases made after the given time (%v)", n, err)
		}
		if n, err := mail.PurgeModelBases(ctx, db, now.Add(time.Minute)); err != nil || n != int64(len(templates)) {
			t.Fatalf("purged %d bases once their messages were sent (%v), want %d", n, err, len(templates))
		}
		var annInvite string
		for _, r := range srv.messages() {
			if s := string(r.Data); strings.Contains(s, "To: \"Ann O'Neil, Jr.\" <ann@guest.test>") && strings.Contains(s, "Subject: Olga Organizer invited you") {
				annInvite = s
			}
		}
		for _, want := range []string{"https://gw.test/l/ANN", "Your role: Attendee", "invite.ics", "method=REQUEST"} {
			if !strings.Contains(annInvite, want) {
				t.Fatalf("Ann's invitation lacks %q:\n%s", want, annInvite)
			}
		}
	})
}
