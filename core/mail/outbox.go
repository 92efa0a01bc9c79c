package mail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Message statuses.
const (
	Queued  = "queued"  // waiting for its (next) attempt
	Sending = "sending" // claimed by a worker until LeaseUntil
	Sent    = "sent"    // the SMTP server accepted it (ServerReply)
	Failed  = "failed"  // refused for good, or out of attempts (LastError)
)

// Message is one email in the outbox. Its bodies (or the model they are
// rendered from) hold the recipient's live link, so they are erased once
// the message is sent or has failed: the row then keeps who, what subject,
// when and the server's answer.
type Message struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;index" json:"account_id"`
	// Template and Locale name what was rendered.
	Template string `gorm:"size:100" json:"template"`
	Locale   string `gorm:"size:35" json:"locale"`
	ToEmail  string `gorm:"size:254;not null" json:"to_email"`
	ToName   string `gorm:"size:200" json:"to_name"`
	Subject  string `gorm:"size:998" json:"subject"`
	HTML     string `gorm:"type:text" json:"-"`
	Text     string `gorm:"type:text" json:"-"`
	// ICS is a calendar invitation attached as invite.ics ("" for none).
	ICS string `gorm:"type:text" json:"-"`
	// Model is, for a message rendered when sent rather than when queued
	// (see deferred.go), what its template renders; "" otherwise.
	Model string `gorm:"type:text" json:"-"`
	// MessageID is the Message-ID header, fixed when queued: a retry or a
	// re-send after a crash carries the same one, so receivers can tell.
	// It is unique because it is made from the row's id.
	MessageID string `gorm:"size:255;not null" json:"message_id"`
	// RefKind/RefID name what caused it ("invitation" and its id, "test").
	RefKind string `gorm:"size:32" json:"ref_kind"`
	RefID   string `gorm:"size:36;index" json:"ref_id,omitempty"`
	Status  string `gorm:"size:16;not null;index:idx_mail_messages_claim,priority:1" json:"status"`
	// Attempts counts claims, including one cut short by a crash.
	Attempts      int       `gorm:"not null;default:0" json:"attempts"`
	NextAttemptAt time.Time `gorm:"not null;index:idx_mail_messages_claim,priority:2" json:"next_attempt_at"`
	ClaimedBy     string    `gorm:"size:100" json:"-"`
	// LeaseUntil: a message still Sending after it belongs to a worker that
	// died, and may be claimed again.
	LeaseUntil *time.Time `json:"-"`
	// LastError is the last failure, with the server's answer when there
	// was one; ServerReply is the server's answer to a sent message.
	LastError   string `gorm:"type:text" json:"last_error,omitempty"`
	ServerReply string `gorm:"size:1000" json:"server_reply,omitempty"`
	// QueueID is the accepting server's name for the message, read from
	// ServerReply ("250 2.0.0 Ok: queued as 4F1A2B"): what its operator
	// searches the mail log for.
	QueueID string `gorm:"size:100" json:"queue_id,omitempty"`
	// FailKind is Hard (a 5xx answer or a 5.x.x bounce: not retried) or
	// Soft (a 4xx answer, retried until the attempts run out, or a 4.x.x
	// bounce) once a try failed; "" while none has.
	FailKind string `gorm:"size:8" json:"fail_kind,omitempty"`
	// OpenedAt is when the link's page first reported, from its own
	// script, that a person had it open (views.go); a page load alone
	// never sets it.
	OpenedAt  *time.Time `json:"opened_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	FailedAt  *time.Time `json:"failed_at,omitempty"`
}

// TableName names the table.
func (Message) TableName() string { return "mail_messages" }

// Indexes implements store.Indexer. The unique index on message_id that
// earlier versions created is dropped: nothing looks a message up by it,
// and every message queued paid for it.
func (Message) Indexes() []string {
	return []string{"DROP INDEX IF EXISTS idx_mail_messages_message_id"}
}

// NewMessage is what Enqueue needs.
type NewMessage struct {
	AccountID        string
	Template, Locale string
	ToEmail, ToName  string
	Rendered
	ICS            string
	RefKind, RefID string
}

// Enqueue writes a message to the outbox with tx, the transaction of the
// change that causes it: the email exists exactly when the change does.
// domain is the right-hand side of its Message-ID.
func Enqueue(tx *store.Tx, domain string, n NewMessage, now time.Time) (*Message, error) {
	if n.ToEmail == "" || n.Subject == "" {
		return nil, errors.New("mail: a message needs a recipient and a subject")
	}
	mid := id.New()
	m := &Message{
		ID: mid, AccountID: n.AccountID, Template: n.Template, Locale: n.Locale,
		ToEmail: n.ToEmail, ToName: n.ToName, Subject: n.Subject, HTML: n.HTML, Text: n.Text, ICS: n.ICS,
		MessageID: "<" + mid + "@" + domain + ">", RefKind: n.RefKind, RefID: n.RefID,
		Status: Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.Create(m).Error; err != nil {
		return nil, fmt.Errorf("mail: queue message: %w", err)
	}
	return m, nil
}

// deliveries are the statements every message's delivery runs, the claim
// and the mark of a message sent, prepared once on the writer: on SQLite,
// whose writer prepares no statement of its own (store.Open), each would
// otherwise be parsed again on every call.
type deliveries struct {
	db                  *store.DB
	claimStmt, sentStmt *sql.Stmt
}

const (
	// sqlClaim is the claim up to its SELECT's locking clause: the SELECT
	// skips the rows another claim holds (store.SkipLocked), so workers of
	// several replicas claim side by side without waiting for or taking
	// each other's rows.
	sqlClaim = `UPDATE mail_messages SET status = $1, claimed_by = $2, lease_until = $3, attempts = attempts + 1, updated_at = $4
WHERE id IN (SELECT id FROM mail_messages
  WHERE (status = $5 AND next_attempt_at <= $6) OR (status = $7 AND lease_until < $8)
  ORDER BY next_attempt_at LIMIT $9`
	// sqlMarkSent numbers its parameters in the order they appear: SQLite
	// takes $N for a name, bound by position of first use.
	sqlMarkSent = `UPDATE mail_messages SET status = $1, sent_at = $2, server_reply = $3, queue_id = $4, fail_kind = '', last_error = '', subject = $5,
html = '', text = '', ics = '', model = '', lease_until = NULL, updated_at = $6 WHERE id = $7 AND claimed_by = $8 AND status = $9`
)

// newDeliveries prepares the statements on db, outside any transaction.
func newDeliveries(ctx context.Context, db *store.DB) (*deliveries, error) {
	d := &deliveries{db: db}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{{&d.claimStmt, sqlClaim + db.SkipLocked() + ")\nRETURNING *"}, {&d.sentStmt, sqlMarkSent}} {
		st, err := db.Prepare(context.WithoutCancel(ctx), true, p.sql)
		if err != nil {
			return nil, fmt.Errorf("mail: prepare the outbox: %w", err)
		}
		*p.dst = st
	}
	return d, nil
}

// claim takes up to n messages that are due, or whose worker's lease ran
// out, for worker until lease.
func (d *deliveries) claim(ctx context.Context, worker string, n int, now, lease time.Time) ([]Message, error) {
	rows, err := d.claimStmt.QueryContext(ctx, Sending, worker, lease, now, Queued, now, Sending, now, n)
	if err != nil {
		return nil, fmt.Errorf("mail: claim messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	if rows.Next() {
		err = d.db.W.WithContext(ctx).ScanRows(rows, &out)
	}
	if err == nil {
		err = rows.Err()
	}
	if err == nil {
		err = rows.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("mail: claim messages: %w", err)
	}
	return out, nil
}

// markSent records the server's acceptance and erases the bodies and
// model, keeping the subject that was sent. Only the worker holding the
// claim may; false means the lease was lost.
func (d *deliveries) markSent(ctx context.Context, m *Message, worker, reply string, now time.Time) (bool, error) {
	r, err := d.sentStmt.ExecContext(ctx, Sent, now, clip(reply, 1000), clip(QueueID(reply), 100), m.Subject, now, m.ID, worker, Sending)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// markRetry puts a message back in the queue until at, as a soft failure
// (it is shown as "retrying").
func markRetry(ctx context.Context, db *store.DB, m *Message, worker, why string, at, now time.Time) error {
	return db.W.WithContext(ctx).Model(&Message{}).Where("id = ? AND claimed_by = ? AND status = ?", m.ID, worker, Sending).
		Updates(map[string]any{"status": Queued, "next_attempt_at": at, "last_error": clip(why, 4000), "fail_kind": Soft,
			"claimed_by": "", "lease_until": nil, "updated_at": now}).Error
}

// markFailed gives up on a message the worker holds (see failed.go).
func markFailed(ctx context.Context, db *store.DB, hook FailedHook, m *Message, worker string, f Failure, now time.Time) error {
	return db.Tx(ctx, func(tx *store.Tx) error {
		_, err := fail(tx, hook, m, f, now, "claimed_by = ? AND status = ?", worker, Sending)
		return err
	})
}

// release returns claimed messages that were not tried, without counting
// the attempt.
func release(ctx context.Context, db *store.DB, ids []string, worker string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return db.W.WithContext(ctx).Model(&Message{}).Where("id IN ? AND claimed_by = ? AND status = ?", ids, worker, Sending).
		Updates(map[string]any{"status": Queued, "claimed_by": "", "lease_until": nil, "attempts": gorm.Expr("attempts - 1"), "updated_at": now}).Error
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// GetMessage returns one message of the account.
func GetMessage(ctx context.Context, db store.Reader, accountID, messageID string) (*Message, error) {
	if !id.Valid(messageID) {
		return nil, problem.ErrNotFound
	}
	var m Message
	err := db.Read(ctx).Omit("html", "text", "ics", "model").Where("id = ? AND account_id = ?", messageID, accountID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &m, err
}

// ListMessages returns the account's newest messages, optionally of one status.
func ListMessages(ctx context.Context, db store.Reader, accountID, status string, limit int) ([]Message, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q := db.Read(ctx).Omit("html", "text", "ics", "model").Where("account_id = ?", accountID)
	if status != "" {
		switch status {
		case Queued, Sending, Sent, Failed:
		default:
			return nil, problem.Field("status", "status must be queued, sending, sent or failed")
		}
		q = q.Where("status = ?", status)
	}
	var out []Message
	err := q.Order("created_at DESC").Limit(limit).Find(&out).Error
	return out, err
}
