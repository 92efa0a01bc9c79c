//go:build bench

package mail

import (
	"context"
	"fmt"
	netmail "net/mail"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/mail/mailtest"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

// TestBench_email_outbox: messages per second delivered to a local SMTP
// server (maildev) through the outbox (claimed from SQLite, sent, recorded
// one by one), beside the same messages sent by a bare go-mail loop over
// one connection. Both use one SMTP connection and the same library and
// MIME messages; each side gets a fresh maildev.
func TestBench_email_outbox(t *testing.T) {
	const n = 1500
	msgs := make([]Message, n)
	now := time.Now().UTC()
	for i := range msgs {
		msgs[i] = Message{
			ID: fmt.Sprintf("m%05d", i), ToEmail: fmt.Sprintf("guest%d@bench.test", i), ToName: "Guest Person",
			Subject: fmt.Sprintf("Quarterly town hall invitation %d", i), Text: benchText, HTML: benchHTML,
			MessageID: fmt.Sprintf("<bench-%d@bench.test>", i), CreatedAt: now,
		}
	}
	from, _ := ParseFrom("Invitegate <noreply@bench.test>")

	// The two sides alternate in rounds, so a busy moment of the machine
	// weighs on both alike.
	base, md := mailtest.Start(t), mailtest.Start(t)
	db := storetest.Open(t, store.SQLite, table.Models(Tables())...)
	const rounds = 3
	var baseTime, outTime time.Duration
	for r := range rounds {
		chunk := msgs[r*n/rounds : (r+1)*n/rounds]
		baseTime += sendBare(t, from, base.SMTPPort, chunk)
		outTime += sendOutbox(t, db, md.SMTPPort, chunk)
	}
	base.Wait(n, 30*time.Second)
	md.Wait(n, 30*time.Second)
	baseRate := float64(n) / baseTime.Seconds()
	rate := float64(n) / outTime.Seconds()
	fmt.Printf("bench email_outbox: %.0f messages/s (baseline %.0f messages/s, ratio %.2f)\n", rate, baseRate, rate/baseRate)
}

// sendBare sends the messages with a go-mail client over one connection.
func sendBare(t *testing.T, from *netmail.Address, port int, msgs []Message) time.Duration {
	t.Helper()
	cfg := SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone}
	client, err := cfg.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := client.DialWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range msgs {
		m, err := buildMsg(from, &msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	client.Close()
	return time.Since(start)
}

// sendOutbox queues the messages (not timed), then times one outbox worker
// delivering them all.
func sendOutbox(t *testing.T, db *store.DB, port int, msgs []Message) time.Duration {
	t.Helper()
	now := time.Now().UTC()
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range msgs {
			if _, err := Enqueue(tx, "bench.test", NewMessage{AccountID: "acct", ToEmail: msgs[i].ToEmail, ToName: msgs[i].ToName,
				Rendered: Rendered{Subject: msgs[i].Subject, Text: benchText, HTML: benchHTML}}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOutbox(db, OutboxConfig{SMTP: SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone},
		From: "Invitegate <noreply@bench.test>", Workers: 1, Batch: 50, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	o.Start()
	defer o.Stop(context.Background())
	for {
		var left []string
		if err := db.R.Model(&Message{}).Where("status IN ?", []string{Queued, Sending}).Limit(1).Pluck("id", &left).Error; err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatal("messages not sent after 2 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const benchText = `Hello Guest Person,

Olga Organizer invited you to Quarterly town hall. Your role: Speaker.

When: Tuesday 1 December 2026, 14:00–15:00 (Europe/Paris)

Open your invitation:
https://invite.example.org/i/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
`

const benchHTML = `<!doctype html><html><body><p>Hello Guest Person,</p>
<p>Olga Organizer invited you to <strong>Quarterly town hall</strong>. Your role: Speaker.</p>
<p><strong>When:</strong> Tuesday 1 December 2026, 14:00–15:00 (Europe/Paris)</p>
<p><a href="https://invite.example.org/i/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA">Open your invitation</a></p></body></html>`
