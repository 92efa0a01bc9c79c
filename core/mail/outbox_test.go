package mail_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// queue writes n messages in one transaction and returns their ids.
func queue(t testing.TB, db *store.DB, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			m, err := mail.Enqueue(tx, "gw.test", mail.NewMessage{
				AccountID: "acc", Template: "invitation", Locale: "en",
				ToEmail: fmt.Sprintf("guest%d@example.org", i), ToName: fmt.Sprintf("Guest %d", i),
				Rendered: mail.Rendered{Subject: fmt.Sprintf("Message %d", i), Text: "hello", HTML: "<p>hello</p>"},
				RefKind:  "test",
			}, time.Now().UTC())
			if err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func outboxFor(t testing.TB, db *store.DB, srv *smtpServer, edit func(*mail.OutboxConfig)) *mail.Outbox {
	t.Helper()
	cfg := mail.OutboxConfig{
		SMTP: mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, TLS: mail.TLSNone, Timeout: 5 * time.Second},
		From: "Invitegate <noreply@gw.test>", Poll: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	o, err := mail.NewOutbox(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func run(t testing.TB, o *mail.Outbox) {
	o.Start()
	t.Cleanup(func() { o.Stop(context.Background()) })
}

// waitStatus waits until every message has left queued/sending.
func waitDone(t testing.TB, db *store.DB, within time.Duration) map[string]mail.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var ms []mail.Message
		if err := db.R.Find(&ms).Error; err != nil {
			t.Fatal(err)
		}
		done := true
		for _, m := range ms {
			if m.Status == mail.Queued || m.Status == mail.Sending {
				done = false
			}
		}
		if done {
			out := map[string]mail.Message{}
			for _, m := range ms {
				out[m.ID] = m
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages still waiting after %s: %+v", within, ms)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOutboxDelivers(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		srv := newSMTPServer(t, plainSMTP)
		ids := queue(t, db, 50)
		run(t, outboxFor(t, db, srv, nil))
		got := waitDone(t, db, 20*time.Second)
		if len(srv.messages()) != 50 {
			t.Fatalf("server received %d messages, want 50", len(srv.messages()))
		}
		for _, id := range ids {
			m := got[id]
			if m.Status != mail.Sent || m.SentAt == nil || m.ServerReply == "" || m.Attempts != 1 {
				t.Fatalf("message %s: %+v", id, m)
			}
			if m.HTML != "" || m.Text != "" {
				t.Fatalf("sent message %s keeps its bodies", id)
			}
		}
		// Two workers, each reusing its connection for all its messages.
		if c := srv.connections(); c > 2 {
			t.Errorf("%d SMTP connections for 50 messages, want at most 2 (one per worker)", c)
		}
		// The Message-ID sent is the one stored.
		first := got[ids[0]]
		found := false
		for _, r := range srv.messages() {
			if strings.Contains(string(r.Data), "Message-ID: "+first.MessageID) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no received message carries Message-ID %s", first.MessageID)
		}
	})
}

func TestOutboxTemporaryRefusalRetriesThenFails(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		srv := newSMTPServer(t, plainSMTP)
		srv.setRefuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox busy, try later"})
		ids := queue(t, db, 3)
		run(t, outboxFor(t, db, srv, func(c *mail.OutboxConfig) { c.MaxAttempts = 3 }))
		got := waitDone(t, db, 20*time.Second)
		for _, id := range ids {
			m := got[id]
			if m.Status != mail.Failed || m.Attempts != 3 || !strings.Contains(m.LastError, "451") || !strings.Contains(m.LastError, "mailbox busy") {
				t.Fatalf("message after 3 refusals: status %s, attempts %d, error %q", m.Status, m.Attempts, m.LastError)
			}
		}
	})
}

func TestOutboxRecoversWhenServerComesBack(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		srv := newSMTPServer(t, plainSMTP)
		srv.setRefuse(&smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 5}, Message: "too busy"})
		ids := queue(t, db, 10)
		run(t, outboxFor(t, db, srv, func(c *mail.OutboxConfig) { c.MaxAttempts = 50 }))
		// Retried while refused: still queued, with the reason.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var m mail.Message
			db.R.Where("id = ?", ids[0]).Take(&m)
			if m.Attempts >= 2 && strings.Contains(m.LastError, "421") {
				if m.Status == mail.Failed || m.Status == mail.Sent {
					t.Fatalf("message %s while refused: %+v", m.ID, m)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no retry recorded: %+v", m)
			}
			time.Sleep(10 * time.Millisecond)
		}
		srv.setRefuse(nil)
		got := waitDone(t, db, 20*time.Second)
		for _, id := range ids {
			if got[id].Status != mail.Sent {
				t.Fatalf("message %s: %+v", id, got[id])
			}
		}
		if n := len(srv.messages()); n != 10 {
			t.Fatalf("server got %d messages, want 10", n)
		}
	})
}

func TestOutboxPermanentRefusalFailsAtOnce(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		srv := newSMTPServer(t, plainSMTP)
		srv.setRefuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"})
		ids := queue(t, db, 2)
		run(t, outboxFor(t, db, srv, nil))
		got := waitDone(t, db, 20*time.Second)
		for _, id := range ids {
			m := got[id]
			if m.Status != mail.Failed || m.Attempts != 1 || !strings.Contains(m.LastError, "550") || !strings.Contains(m.LastError, "no such user") {
				t.Fatalf("message after 550: %+v", m)
			}
			if m.HTML != "" || m.Text != "" {
				t.Fatalf("failed message keeps its bodies")
			}
		}
	})
}

func TestOutboxServerDown(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		dead := newSMTPServer(t, plainSMTP)
		ids := queue(t, db, 4)
		o := outboxFor(t, db, dead, func(c *mail.OutboxConfig) { c.MaxAttempts = 3 })
		// The server is gone before the outbox starts: connections are refused.
		closeServer(t, dead)
		run(t, o)
		got := waitDone(t, db, 20*time.Second)
		for _, id := range ids {
			m := got[id]
			if m.Status != mail.Failed || m.Attempts != 3 || !strings.Contains(m.LastError, "connect") {
				t.Fatalf("message with the server down: %+v", m)
			}
		}
	})
}

func TestOutboxTLSAndAuth(t *testing.T) {
	db := storetest.Open(t, store.SQLite, schema.Models()...)
	for _, tc := range []struct {
		name string
		mode tlsMode
		tls  string
	}{{"starttls", startTLS, mail.TLSStartTLS}, {"implicit tls", implicitTLS, mail.TLSImplicit}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSMTPServer(t, tc.mode)
			srv.user, srv.pass = "gateway", "s3cret"
			queue(t, db, 3)
			o := outboxFor(t, db, srv, func(c *mail.OutboxConfig) {
				c.SMTP.TLS, c.SMTP.Username, c.SMTP.Password, c.SMTP.Auth = tc.tls, "gateway", "s3cret", "plain"
				c.SMTP.InsecureSkipVerify = true // the test's self-signed certificate
			})
			run(t, o)
			waitDone(t, db, 20*time.Second)
			if n := len(srv.messages()); n != 3 {
				t.Fatalf("received %d over %s with auth, want 3", n, tc.name)
			}
			if srv.authed == 0 {
				t.Fatal("no AUTH happened")
			}
			o.Stop(context.Background())
		})
	}
	t.Run("starttls required but not offered", func(t *testing.T) {
		srv := newSMTPServer(t, plainSMTP)
		ids := queue(t, db, 1)
		o := outboxFor(t, db, srv, func(c *mail.OutboxConfig) { c.SMTP.TLS = mail.TLSStartTLS; c.MaxAttempts = 1 })
		run(t, o)
		got := waitDone(t, db, 20*time.Second)
		if m := got[ids[0]]; m.Status != mail.Failed || !strings.Contains(m.LastError, "STARTTLS") {
			t.Fatalf("sent without the required STARTTLS: %+v", m)
		}
		if len(srv.messages()) != 0 {
			t.Fatal("a message went out in clear text")
		}
	})
}

// TestOutboxLeaseRecovery: messages claimed by a worker that died (a claim
// whose lease ran out) are claimed again and delivered.
func TestOutboxLeaseRecovery(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		srv := newSMTPServer(t, plainSMTP)
		ids := queue(t, db, 5)
		past := time.Now().UTC().Add(-time.Second)
		// A dead worker's claim: sending, lease over.
		if err := db.W.Model(&mail.Message{}).Where("id IN ?", ids[:3]).
			Updates(map[string]any{"status": mail.Sending, "claimed_by": "dead/0", "lease_until": past, "attempts": 1}).Error; err != nil {
			t.Fatal(err)
		}
		// A live claim of another replica: not touched until its lease ends.
		future := time.Now().UTC().Add(2 * time.Second)
		if err := db.W.Model(&mail.Message{}).Where("id = ?", ids[3]).
			Updates(map[string]any{"status": mail.Sending, "claimed_by": "alive/0", "lease_until": future, "attempts": 1}).Error; err != nil {
			t.Fatal(err)
		}
		run(t, outboxFor(t, db, srv, nil))
		time.Sleep(500 * time.Millisecond)
		var m mail.Message
		db.R.Where("id = ?", ids[3]).Take(&m)
		if m.Status != mail.Sending {
			t.Fatalf("a message under a live lease was taken: %+v", m)
		}
		got := waitDone(t, db, 20*time.Second)
		for _, id := range ids {
			if got[id].Status != mail.Sent {
				t.Fatalf("message %s: %+v", id, got[id])
			}
		}
		if got[ids[0]].Attempts != 2 {
			t.Fatalf("recovered message attempts %d, want 2", got[ids[0]].Attempts)
		}
	})
}

// TestOutboxReplicasShare: two outboxes on one database (two replicas)
// deliver every message exactly once.
func TestOutboxReplicasShare(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		srv := newSMTPServer(t, plainSMTP)
		queue(t, db, 200)
		var wg sync.WaitGroup
		for i := range 2 {
			o := outboxFor(t, db, srv, func(c *mail.OutboxConfig) { c.Replica = fmt.Sprintf("replica%d", i); c.Batch = 5 })
			wg.Add(1)
			go func() { defer wg.Done(); run(t, o) }()
		}
		wg.Wait()
		waitDone(t, db, 30*time.Second)
		seen := map[string]int{}
		for _, r := range srv.messages() {
			seen[r.To]++
		}
		if len(seen) != 200 {
			t.Fatalf("%d distinct recipients, want 200", len(seen))
		}
		for to, n := range seen {
			if n != 1 {
				t.Fatalf("%s got %d copies", to, n)
			}
		}
	})
}
