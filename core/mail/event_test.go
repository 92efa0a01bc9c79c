package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

func TestEventEmails(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b, cat := acmeEvents(t, db)
		ms := &mail.Service{DB: db, Catalog: cat, BaseURL: "https://gw.test", From: "Gate <noreply@gw.test>"}
		if err := ms.EventEmailReady(ctx, b.Account.ID); err == nil {
			t.Fatal("a gateway without delivery says event emails are ready")
		}
		var err error
		ms.Outbox, err = mail.NewOutbox(db, mail.OutboxConfig{SMTP: mail.SMTPConfig{Host: "127.0.0.1", Port: 1, TLS: mail.TLSNone}, From: ms.From, Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		if err := ms.EventEmailReady(ctx, b.Account.ID); err != nil {
			t.Fatal(err)
		}

		start := time.Date(2030, 6, 2, 12, 0, 0, 0, time.UTC)
		ev := &event.Event{ID: "0195f5d2-0000-7000-8000-000000000001", AccountID: b.Account.ID, Name: "Launch & Learn", Slug: "launch",
			StartsAt: start, EndsAt: start.Add(2 * time.Hour), TimeZone: "Europe/Paris"}
		a := &event.Attendee{ID: "0195f5d2-0000-7000-8000-000000000002", AccountID: b.Account.ID, EventID: ev.ID,
			Email: "sam@guest.test", FirstName: "Sam", LastName: "Speaker", Speaker: true}
		schedule := mail.Schedule(&ev.StartsAt, &ev.EndsAt, ev.TimeZone)
		link := "https://gw.test/l/TOKEN"
		cases := []struct {
			template, subject string
			body              []string
			ics               bool
		}{
			{event.EmailInvitation, "Olga Organizer invited you to Launch & Learn", []string{"Your role: Speaker", schedule, link, "14:00"}, true},
			{event.EmailInvitationToRegister, "Register for Launch & Learn", []string{schedule, link}, true},
			{event.EmailRegistrationConfirmation, "You are registered for Launch & Learn", []string{schedule, link}, true},
			{event.EmailLoginLink, "Your sign-in link for Acme Events", []string{"one-time link to sign in", "Launch & Learn", "16:00 (Europe/Paris)", link}, false},
			{event.EmailResend, "Your new link to Launch & Learn", []string{"Olga Organizer sent you a new link", link}, true},
		}
		olga := mustUser(t, db, b.Account.ID)
		for _, tc := range cases {
			t.Run(tc.template, func(t *testing.T) {
				var m mail.Message
				err := db.Tx(ctx, func(tx *store.Tx) error {
					if err := ms.QueueEventEmail(ctx, tx, &event.Email{Template: tc.template, Event: ev, Attendee: a, Link: link,
						ExpiresAt: ev.EndsAt, By: audit.Actor{Kind: audit.ActorUser, ID: olga}}); err != nil {
						return err
					}
					return tx.Where("ref_id = ? AND template = ?", a.ID, tc.template).Take(&m).Error
				})
				if err != nil {
					t.Fatal(err)
				}
				if m.Subject != tc.subject || m.ToEmail != "sam@guest.test" || m.ToName != "Sam Speaker" || m.RefKind != "attendee" || m.Status != mail.Queued {
					t.Fatalf("message %+v", m)
				}
				for _, want := range tc.body {
					if !strings.Contains(m.Text, want) {
						t.Errorf("text lacks %q:\n%s", want, m.Text)
					}
					if !strings.Contains(m.HTML, strings.ReplaceAll(want, "&", "&amp;")) {
						t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
					}
				}
				if got := strings.Contains(m.ICS, "SUMMARY:Launch & Learn"); got != tc.ics {
					t.Errorf("calendar invitation present %v, want %v:\n%s", got, tc.ics, m.ICS)
				}
			})
		}
		d, err := mail.LastDeliveries(ctx, db, b.Account.ID, []string{a.ID})
		if err != nil || d[a.ID] == nil || d[a.ID].Status != mail.Queued {
			t.Fatalf("last delivery of the attendee: %+v %v", d, err)
		}
	})
}

// mustUser adds the organizer who sends the emails and returns their id.
func mustUser(t *testing.T, db *store.DB, accountID string) string {
	t.Helper()
	var u *user.User
	err := db.Tx(context.Background(), func(tx *store.Tx) (err error) {
		u, err = user.Resolve(tx, user.Identity{AccountID: accountID, Email: "olga@acme.test", FirstName: "Olga", LastName: "Organizer"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// acmeEvents makes the account that sends the event emails, and the
// catalog of the built-in templates.
func acmeEvents(t *testing.T, db *store.DB) (*account.Bootstrap, *mail.Catalog) {
	t.Helper()
	b, err := account.EnsureFirst(context.Background(), db, "Acme Events", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := mail.NewCatalog(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, cat
}
