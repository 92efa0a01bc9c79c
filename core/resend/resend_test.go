package resend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/resend"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// services builds events that queue email to an outbox nobody sends
// from: the messages stay queued, where the test counts them.
func services(t *testing.T, db *store.DB) (*resend.Service, event.Caller) {
	t.Helper()
	ctx := context.Background()
	boot, err := account.EnsureFirst(ctx, db, "Org", "admin@org.test")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := mail.NewCatalog(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := mail.NewOutbox(db, mail.OutboxConfig{SMTP: mail.SMTPConfig{Host: "127.0.0.1", Port: 9, TLS: mail.TLSNone}, From: "Gw <gw@org.test>"})
	if err != nil {
		t.Fatal(err)
	}
	ms := &mail.Service{DB: db, Catalog: cat, BaseURL: "http://gw.test", From: "Gw <gw@org.test>", Outbox: out}
	evs := &event.Service{DB: db, Mail: ms, BaseURL: "http://gw.test"}
	return &resend.Service{DB: db, Events: evs, StepEvery: 2}, event.Caller{AccountID: boot.Account.ID, Actor: audit.System}
}

func messagesTo(t *testing.T, db *store.DB, refID string) int64 {
	t.Helper()
	var n int64
	if err := db.R.Model(&mail.Message{}).Where("ref_id = ?", refID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBulkResendSkipsAndResumes: a job resends only to attendees whose
// status offers a re-send, counts the others by status, and, taken over
// after a checkpoint, goes on from it without resending the ones before.
func TestBulkResendSkipsAndResumes(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rs, c := services(t, db)
		start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
		ev, err := rs.Events.CreateEvent(ctx, c, event.EventInput{Name: "Summit", StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC", Registration: "invite_only"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 6 {
			a, err := rs.Events.Invite(ctx, c, ev.ID, event.InviteInput{Email: fmt.Sprintf("p%d@guest.test", i), Profile: event.Profile{FirstName: fmt.Sprint("P", i), LastName: "Guest"}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ID)
			time.Sleep(2 * time.Millisecond) // a distinct creation time, so the list's order is the invitation order
		}
		for _, i := range []int{3, 5} {
			if _, err := rs.Events.Block(ctx, c, ev.ID, ids[i]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := rs.Start(ctx, c, ev.ID, event.Query{Search: "nobody"}); err != resend.ErrNothingToResend {
			t.Fatalf("a filter matching nobody: %v", err)
		}
		j, err := rs.Start(ctx, c, ev.ID, event.Query{Sort: event.SortCreatedAt})
		if err != nil {
			t.Fatal(err)
		}
		if j.Total != 6 || j.Status != job.Queued || j.Kind != resend.Kind {
			t.Fatalf("job %+v", j)
		}
		// A first runner resends two, records it, and dies.
		now := time.Now().UTC()
		if ok, err := job.Claim(ctx, db, j.ID, "dead", now, now.Add(-time.Second)); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		for _, id := range ids[:2] {
			if _, err := rs.Events.ResendInvitation(ctx, c, ev.ID, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Tx(ctx, func(tx *store.Tx) error {
			return job.Step(tx, j.ID, "dead", 2, resend.Counts{Resent: 2, SkippedBy: map[string]int{}}, now, now.Add(-time.Second))
		}); err != nil {
			t.Fatal(err)
		}
		// Another takes it over when the lease has run out.
		r := &job.Runner{DB: db, Handlers: map[string]job.Handler{resend.Kind: rs.Handler()}, Now: func() time.Time { return time.Now().UTC() }}
		if ok, err := r.Run(ctx, j.ID); err != nil || !ok {
			t.Fatalf("run: %v %v", ok, err)
		}
		got, err := job.Get(ctx, db, c.AccountID, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		var counts resend.Counts
		if err := json.Unmarshal([]byte(got.Counts), &counts); err != nil {
			t.Fatal(err)
		}
		if got.Status != job.Done || got.Processed != 6 || counts.Resent != 4 || counts.Skipped != 2 || counts.SkippedBy["blocked"] != 2 {
			t.Fatalf("job after the take-over: %+v, counts %+v", got, counts)
		}
		for i, want := range []int64{1, 1, 1, 0, 1, 0} {
			if n := messagesTo(t, db, ids[i]); n != want {
				t.Errorf("attendee %d got %d emails, want %d", i, n, want)
			}
		}
	})
}
