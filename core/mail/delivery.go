package mail

import (
	"context"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// Delivery states: what became of the last email about an invitation or
// an attendee, as the organizer reads it. Redeemed and registered are not
// among them: they are the invitation's and the attendee's own status.
const (
	// StateQueued: waiting for its first attempt (or being sent).
	StateQueued = "queued"
	// StateRetrying: a try was refused for now (4xx, soft); it is tried
	// again until the attempts run out.
	StateRetrying = "retrying"
	// StateSent: the SMTP server accepted it (QueueID), and its link's
	// page has not been loaded since.
	StateSent = "sent"
	// StateFailed: refused for good (FailKind hard), out of attempts
	// (soft), or bounced (a delivery status notification).
	StateFailed = "failed"
	// StateScanner: its link's page was loaded only the way a mail
	// filter's link scanner loads it (View.Scanner) and the page's script
	// never ran: not an open.
	StateScanner = "scanner"
	// StateViewed: its link's page was loaded, not like a scanner, but
	// the page's script never reported: a client that runs no script, or
	// a person who left at once. Not counted as opened.
	StateViewed = "viewed"
	// StateOpened: the page's script reported a person had it open.
	StateOpened = "opened"
)

// stateLabels are the states as the console shows them.
var stateLabels = map[string]string{
	StateQueued: "Queued", StateRetrying: "Retrying", StateSent: "Sent", StateFailed: "Failed",
	StateScanner: "Opened by a link scanner", StateViewed: "Page loaded (not confirmed)", StateOpened: "Opened",
}

// Delivery is what a person sees of the last email about something.
type Delivery struct {
	MessageID string `json:"id"`
	Status    string `json:"status"`
	// State is the delivery state (StateQueued...); StateLabel names it.
	State      string     `json:"state"`
	StateLabel string     `json:"state_label"`
	QueuedAt   time.Time  `json:"queued_at"`
	SentAt     *time.Time `json:"sent_at,omitempty"`
	FailedAt   *time.Time `json:"failed_at,omitempty"`
	OpenedAt   *time.Time `json:"opened_at,omitempty"`
	Attempts   int        `json:"attempts"`
	// QueueID is the accepting server's queue id, ServerReply its whole
	// answer.
	QueueID     string `json:"queue_id,omitempty"`
	ServerReply string `json:"server_reply,omitempty"`
	// FailKind is hard or soft once a try failed.
	FailKind string `json:"fail_kind,omitempty"`
	// Error is the last failure (the server's answer, or the bounce's);
	// for a queued message it is why the last attempt did not go through.
	Error string `json:"error,omitempty"`
	// ScannerViewAt is the first page load taken for a link scanner,
	// ViewedAt the first other one.
	ScannerViewAt *time.Time `json:"scanner_view_at,omitempty"`
	ViewedAt      *time.Time `json:"viewed_at,omitempty"`
}

// LastDeliveries returns, per ref id, the delivery of its newest message.
func LastDeliveries(ctx context.Context, db store.Reader, accountID string, refIDs []string) (map[string]*Delivery, error) {
	out := map[string]*Delivery{}
	for len(refIDs) > 0 {
		chunk := refIDs[:min(len(refIDs), 500)]
		refIDs = refIDs[len(chunk):]
		var ms []Message
		err := db.Read(ctx).Select("id", "ref_id", "status", "created_at", "sent_at", "failed_at", "opened_at", "attempts", "last_error",
			"queue_id", "server_reply", "fail_kind").
			Where("account_id = ? AND ref_id IN ?", accountID, chunk).Order("created_at").Find(&ms).Error
		if err != nil {
			return nil, err
		}
		last := map[string]*Delivery{}
		for i := range ms {
			last[ms[i].RefID] = ms[i].delivery()
		}
		if err := addViews(ctx, db, last); err != nil {
			return nil, err
		}
		for ref, d := range last {
			d.State = d.state()
			d.StateLabel = stateLabels[d.State]
			out[ref] = d
		}
	}
	return out, nil
}

// addViews fills the first scanner view and the first other view of each
// delivery, read in one query.
func addViews(ctx context.Context, db store.Reader, ds map[string]*Delivery) error {
	byMsg := map[string]*Delivery{}
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		if d.SentAt != nil {
			byMsg[d.MessageID] = d
			ids = append(ids, d.MessageID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// Every view is read, oldest first, rather than MIN(at) per group:
	// SQLite answers an aggregate of a time column as text. A message has
	// few views (repeats are not recorded).
	var rows []View
	err := db.Read(ctx).Select("message_id", "scanner", "at").Where("message_id IN ?", ids).Order("at DESC").Find(&rows).Error
	if err != nil {
		return err
	}
	for _, r := range rows {
		d := byMsg[r.MessageID]
		at := r.At.UTC()
		if r.Scanner {
			d.ScannerViewAt = &at
		} else {
			d.ViewedAt = &at
		}
	}
	return nil
}

func (m *Message) delivery() *Delivery {
	return &Delivery{MessageID: m.ID, Status: m.Status, QueuedAt: m.CreatedAt, SentAt: m.SentAt, FailedAt: m.FailedAt, OpenedAt: m.OpenedAt,
		Attempts: m.Attempts, QueueID: m.QueueID, ServerReply: m.ServerReply, FailKind: m.FailKind, Error: m.LastError}
}

// state is the delivery's state: an open outranks everything (the person
// has the email, whatever a late bounce says), then failure, then what the
// views show.
func (d *Delivery) state() string {
	switch {
	case d.OpenedAt != nil:
		return StateOpened
	case d.Status == Failed:
		return StateFailed
	case (d.Status == Queued || d.Status == Sending) && d.FailKind == Soft:
		return StateRetrying
	case d.Status != Sent:
		return StateQueued
	case d.ViewedAt != nil:
		return StateViewed
	case d.ScannerViewAt != nil:
		return StateScanner
	}
	return StateSent
}
