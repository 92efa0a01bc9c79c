package mail

import (
	"fmt"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/webhook"
)

// Kinds of failure.
const (
	// Hard is a refusal no retry can fix: a 5xx answer, a 5.x.x bounce, a
	// message that cannot be built. Such a message is not tried again.
	Hard = "hard"
	// Soft is a temporary refusal (a 4xx answer, a connection that broke,
	// a 4.x.x bounce): retried with back-off until the attempts run out.
	Soft = "soft"
)

// Failure is why a message failed for good.
type Failure struct {
	Kind string
	// Why is the server's answer, or the bounce's status and diagnostic.
	Why string
}

// FailedHook hears of every message that becomes failed, in the
// transaction that marks it (by the worker or by a bounce), so what it
// writes commits or rolls back with the failure. It is where the
// delivery.failed event is emitted.
type FailedHook func(tx *store.Tx, m *Message) error

// fail marks m failed with f in tx and erases its bodies and model; cond
// (with args) narrows which row may be marked: the worker's claim, or a
// bounce's message not failed already. It is the one place a message
// becomes failed, and it calls hook (when set) once the row is marked;
// false means no row matched and nothing changed.
func fail(tx *store.Tx, hook FailedHook, m *Message, f Failure, now time.Time, cond string, args ...any) (bool, error) {
	r := tx.Model(&Message{}).Where("id = ?", m.ID).Where(cond, args...).
		Updates(map[string]any{"status": Failed, "failed_at": now, "fail_kind": f.Kind, "last_error": clip(f.Why, 4000),
			"html": "", "text": "", "ics": "", "model": "", "lease_until": nil, "updated_at": now})
	if r.Error != nil {
		return false, fmt.Errorf("mail: mark %s failed: %w", m.ID, r.Error)
	}
	if r.RowsAffected == 0 {
		return false, nil
	}
	m.Status, m.FailedAt, m.FailKind, m.LastError = Failed, &now, f.Kind, clip(f.Why, 4000)
	if hook == nil {
		return true, nil
	}
	return true, hook(tx, m)
}

// EmitDeliveryFailed is the FailedHook of a running gateway: a message
// that failed for good is a delivery.failed event to the account's
// webhook endpoints that want it, about what the message was for
// (subject "invitation:ID", "attendee:ID"...).
func EmitDeliveryFailed(tx *store.Tx, m *Message) error {
	subject := "message:" + m.ID
	if m.RefKind != "" && m.RefID != "" {
		subject = m.RefKind + ":" + m.RefID
	}
	return webhook.Emit(tx, m.AccountID, webhook.DeliveryFailed, subject, webhook.Payload{
		"message_id": m.ID, "ref_kind": m.RefKind, "ref_id": m.RefID, "email": m.ToEmail, "template": m.Template,
		"fail_kind": m.FailKind, "error": m.LastError, "attempts": m.Attempts, "failed_at": m.FailedAt,
	})
}
