package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/webhook"
)

// queueTo queues one message about ref to addr and returns it.
func queueTo(t testing.TB, db *store.DB, addr, ref string) *mail.Message {
	t.Helper()
	var m *mail.Message
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		var err error
		m, err = mail.Enqueue(tx, "gw.test", mail.NewMessage{
			AccountID: "acc", Template: "invitation", Locale: "en", ToEmail: addr,
			Rendered: mail.Rendered{Subject: "Invitation", Text: "hello"}, RefKind: "invitation", RefID: ref,
		}, time.Now().UTC())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func lastOf(t testing.TB, db *store.DB, ref string) *mail.Delivery {
	t.Helper()
	ds, err := mail.LastDeliveries(context.Background(), db, "acc", []string{ref})
	if err != nil {
		t.Fatal(err)
	}
	if ds[ref] == nil {
		t.Fatalf("no delivery for %s", ref)
	}
	return ds[ref]
}

func message(t testing.TB, db *store.DB, id string) mail.Message {
	t.Helper()
	var m mail.Message
	if err := db.R.Where("id = ?", id).Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDeliveryStatusThroughSMTP sends through a real SMTP server that
// accepts one recipient (naming its queue id), refuses one for good (550)
// and one for now (451) twice before accepting it.
func TestDeliveryStatusThroughSMTP(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		srv := newSMTPServer(t, plainSMTP)
		srv.queueIDs = true
		srv.refuseAddr("nobody@example.org", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"}, 0)
		srv.refuseAddr("busy@example.org", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Mailbox busy, try later"}, 2)
		ok := queueTo(t, db, "ok@example.org", "ref-ok")
		hard := queueTo(t, db, "nobody@example.org", "ref-hard")
		soft := queueTo(t, db, "busy@example.org", "ref-soft")

		// An endpoint of the account wants delivery.failed events.
		hooks, err := webhook.New(db, webhook.Config{AllowPrivateTargets: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hooks.Create(context.Background(), "acc", audit.Actor{Kind: audit.ActorUser, ID: "admin"},
			webhook.Input{URL: "http://127.0.0.1:9/in", Types: []string{webhook.DeliveryFailed}}); err != nil {
			t.Fatal(err)
		}

		// First round, with retries far off: the soft refusal waits.
		var failedHook []string
		o := outboxFor(t, db, srv, func(c *mail.OutboxConfig) {
			c.RetryBase, c.RetryMax, c.MaxAttempts, c.BounceAddress = time.Hour, time.Hour, 5, "bounces@gw.test"
			c.OnFailed = func(tx *store.Tx, m *mail.Message) error {
				failedHook = append(failedHook, m.ID)
				return mail.EmitDeliveryFailed(tx, m)
			}
		})
		o.Start()
		deadline := time.Now().Add(15 * time.Second)
		for message(t, db, soft.ID).FailKind != mail.Soft || message(t, db, hard.ID).Status != mail.Failed || message(t, db, ok.ID).Status != mail.Sent {
			if time.Now().After(deadline) {
				t.Fatalf("first round did not finish: %+v %+v %+v", message(t, db, ok.ID), message(t, db, hard.ID), message(t, db, soft.ID))
			}
			time.Sleep(20 * time.Millisecond)
		}
		o.Stop(context.Background())

		if d := lastOf(t, db, "ref-ok"); d.State != mail.StateSent || !strings.HasPrefix(d.QueueID, "4F1A2B") || !strings.Contains(d.ServerReply, "queued as "+d.QueueID) {
			t.Fatalf("accepted message: state %s, queue id %q, reply %q", d.State, d.QueueID, d.ServerReply)
		}
		if d := lastOf(t, db, "ref-hard"); d.State != mail.StateFailed || d.FailKind != mail.Hard || d.Attempts != 1 || !strings.Contains(d.Error, "550") {
			t.Fatalf("refused message: state %s, kind %s, attempts %d, error %q", d.State, d.FailKind, d.Attempts, d.Error)
		}
		if len(failedHook) != 1 || failedHook[0] != hard.ID {
			t.Fatalf("the failure hook heard %v, want only %s", failedHook, hard.ID)
		}
		var events []struct{ Subject, Body string }
		db.R.Raw("SELECT subject, body FROM webhook_events WHERE type = ?", webhook.DeliveryFailed).Scan(&events)
		if len(events) != 1 || events[0].Subject != "invitation:ref-hard" || !strings.Contains(events[0].Body, `"fail_kind":"hard"`) ||
			!strings.Contains(events[0].Body, "nobody@example.org") || !strings.Contains(events[0].Body, "550") {
			t.Fatalf("delivery.failed events %+v, want one for the refused message", events)
		}
		if d := lastOf(t, db, "ref-soft"); d.State != mail.StateRetrying || d.FailKind != mail.Soft || !strings.Contains(d.Error, "451") {
			t.Fatalf("deferred message: state %s, kind %s, error %q", d.State, d.FailKind, d.Error)
		}
		for _, r := range srv.messages() {
			if r.From != "bounces@gw.test" {
				t.Fatalf("envelope sender %q, want the bounce address", r.From)
			}
		}

		// Second round, retrying at once: the third try is accepted.
		if err := db.W.Model(&mail.Message{}).Where("id = ?", soft.ID).Update("next_attempt_at", time.Now().UTC().Add(-time.Second)).Error; err != nil {
			t.Fatal(err)
		}
		run(t, outboxFor(t, db, srv, nil))
		waitDone(t, db, 15*time.Second)
		if d := lastOf(t, db, "ref-soft"); d.State != mail.StateSent || d.Attempts != 3 || d.FailKind != "" || d.QueueID == "" {
			t.Fatalf("message accepted on its third try: state %s, attempts %d, kind %q, queue id %q", d.State, d.Attempts, d.FailKind, d.QueueID)
		}
		if d := lastOf(t, db, "ref-hard"); d.Attempts != 1 {
			t.Fatalf("a hard refusal was tried again: %d attempts", d.Attempts)
		}
	})
}

func TestQueueID(t *testing.T) {
	for _, tc := range []struct{ reply, want string }{
		{"250 2.0.0 Ok: queued as 4F1A2B", "4F1A2B"},
		{"250 OK id=1qXyZa-0003Ab-Cd", "1qXyZa-0003Ab-Cd"},
		{"250 2.0.0 x12si3456789.67 - gsmtp", "x12si3456789.67"},
		{"250 2.0.0 OK: queued", ""},
		{"", ""},
	} {
		t.Run(tc.reply, func(t *testing.T) {
			if got := mail.QueueID(tc.reply); got != tc.want {
				t.Fatalf("QueueID(%q) = %q, want %q", tc.reply, got, tc.want)
			}
		})
	}
}

// markSent makes m sent at at, as the worker would have.
func markSent(t testing.TB, db *store.DB, m *mail.Message, at time.Time) {
	t.Helper()
	if err := db.W.Model(&mail.Message{}).Where("id = ?", m.ID).Updates(map[string]any{"status": mail.Sent, "sent_at": at}).Error; err != nil {
		t.Fatal(err)
	}
}

func refsWith(t testing.TB, db *store.DB, f string) []string {
	t.Helper()
	var ids []string
	if err := mail.RefsWithDelivery("acc", f)(db.R).Order("m.ref_id").Pluck("m.ref_id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestViewsScannerAndOpen: a page load without cookies just after sending
// is a scanner's; one later is a view; only the beacon makes an open.
func TestViewsScannerAndOpen(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		sent := time.Now().UTC().Add(-10 * time.Minute)
		now := sent.Add(5 * time.Second)
		log, err := mail.NewViewLog(db, mail.ViewLogConfig{Now: func() time.Time { return now }, Flush: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		log.Start()
		defer log.Stop(context.Background())
		scanned := queueTo(t, db, "a@example.org", "ref-a")
		viewed := queueTo(t, db, "b@example.org", "ref-b")
		opened := queueTo(t, db, "c@example.org", "ref-c")
		quiet := queueTo(t, db, "d@example.org", "ref-d")
		failed := queueTo(t, db, "e@example.org", "ref-e")
		queueTo(t, db, "f@example.org", "ref-f")
		for _, m := range []*mail.Message{scanned, viewed, opened, quiet} {
			markSent(t, db, m, sent)
		}
		if err := db.W.Model(&mail.Message{}).Where("id = ?", failed.ID).Update("status", mail.Failed).Error; err != nil {
			t.Fatal(err)
		}
		ua := "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"
		log.Record(mail.PageView{AccountID: "acc", RefID: "ref-a", Page: "invite", UserAgent: ua})
		log.Record(mail.PageView{AccountID: "acc", RefID: "ref-a", Page: "invite", UserAgent: ua}) // a repeat: not recorded again
		log.Record(mail.PageView{AccountID: "acc", RefID: "ref-c", Page: "invite", UserAgent: ua})
		log.Sync(context.Background())
		now = sent.Add(5 * time.Minute)
		log.Record(mail.PageView{AccountID: "acc", RefID: "ref-b", Page: "invite", UserAgent: ua})
		log.Sync(context.Background())
		if err := mail.MarkOpened(context.Background(), db, "acc", "ref-c", now); err != nil {
			t.Fatal(err)
		}
		first := *message(t, db, opened.ID).OpenedAt
		if err := mail.MarkOpened(context.Background(), db, "acc", "ref-c", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if again := message(t, db, opened.ID).OpenedAt; !again.Equal(first) {
			t.Fatalf("a second beacon moved the open from %s to %s", first, again)
		}
		var n int64
		db.R.Model(&mail.View{}).Where("ref_id = ?", "ref-a").Count(&n)
		if n != 1 {
			t.Fatalf("%d views of ref-a recorded, want 1 (the repeat is dropped)", n)
		}
		for ref, want := range map[string]string{"ref-a": mail.StateScanner, "ref-b": mail.StateViewed, "ref-c": mail.StateOpened,
			"ref-d": mail.StateSent, "ref-e": mail.StateFailed, "ref-f": mail.StateQueued} {
			if d := lastOf(t, db, ref); d.State != want {
				t.Errorf("%s: state %s, want %s", ref, d.State, want)
			}
		}
		if d := lastOf(t, db, "ref-a"); d.ScannerViewAt == nil || d.ViewedAt != nil || d.OpenedAt != nil {
			t.Errorf("scanned: %+v", d)
		}
		for f, want := range map[string]string{mail.FilterScannerOnly: "ref-a", mail.FilterNeverOpened: "ref-a,ref-b,ref-d",
			mail.FilterOpened: "ref-c", mail.FilterSent: "ref-d", mail.FilterFailed: "ref-e", mail.FilterQueued: "ref-f"} {
			if got := strings.Join(refsWith(t, db, f), ","); got != want {
				t.Errorf("delivery=%s: %s, want %s", f, got, want)
			}
		}
		// A newer message is what counts: a resend to ref-e is queued.
		queueTo(t, db, "e@example.org", "ref-e")
		if got := strings.Join(refsWith(t, db, mail.FilterFailed), ","); got != "" {
			t.Errorf("after a resend, delivery=failed still finds %s", got)
		}
	})
}
