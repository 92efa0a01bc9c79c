// Package webhook owns the account's webhook endpoints and the durable
// outbox of the events sent to them: an event is written (Emit) in the
// transaction of the change it tells of, with one delivery per endpoint
// that wants its type, and the delivery workers sign each one per the
// Standard Webhooks specification and POST it, at least once, in order per
// subject and endpoint, retrying with back-off for up to a day.
package webhook

import (
	"slices"
	"strings"
	"time"
)

// Event types. Every type an endpoint may ask for is listed in Types; the
// gateway emits each from the change that causes it.
const (
	InvitationCreated     = "invitation.created"
	InvitationRedeemed    = "invitation.redeemed"
	InvitationRevoked     = "invitation.revoked"
	AttendeeCreated       = "attendee.created"
	AttendeeStatusChanged = "attendee.status_changed"
	AttendeeRemoved       = "attendee.removed"
	UserErased            = "user.erased"
	DeliveryFailed        = "delivery.failed"
	GroupSyncCompleted    = "group_sync.completed"
	GroupSyncHeld         = "group_sync.held"
	AccessGranted         = "access.granted"
	AccessRemoved         = "access.removed"
	// TestEvent is what "send test event" sends to one endpoint; no
	// endpoint subscribes to it.
	TestEvent = "webhook.test"
)

// Types are the event types an endpoint may want, in the order the
// console lists them.
func Types() []string {
	return []string{InvitationCreated, InvitationRedeemed, InvitationRevoked,
		AttendeeCreated, AttendeeStatusChanged, AttendeeRemoved, UserErased, DeliveryFailed,
		GroupSyncCompleted, GroupSyncHeld, AccessGranted, AccessRemoved}
}

// KnownType reports whether t is one of Types.
func KnownType(t string) bool { return slices.Contains(Types(), t) }

// Endpoint is a URL of an account that receives the events of the types it
// wants, signed with its secret.
type Endpoint struct {
	ID          string `gorm:"primaryKey;size:36" json:"id"`
	AccountID   string `gorm:"size:36;not null;index" json:"account_id"`
	URL         string `gorm:"size:2000;not null" json:"url"`
	Description string `gorm:"size:500" json:"description"`
	// TypeList is the wanted types between commas (",a,b,"), so the
	// delivery fan-out of Emit finds the endpoints with one LIKE.
	TypeList string `gorm:"column:types;size:1000;not null" json:"-"`
	Enabled  bool   `gorm:"not null" json:"enabled"`
	// Secret signs every delivery ("whsec_" and base64 of 32 random
	// bytes). The gateway must read it to sign, so it is stored as is:
	// it is shown to a person only when made (create, rotate).
	Secret string `gorm:"size:100;not null" json:"-"`
	// PreviousSecret is the secret before the last rotation; deliveries
	// are signed with it too until PreviousUntil, so receivers can switch
	// without losing a message.
	PreviousSecret string     `gorm:"size:100" json:"-"`
	PreviousUntil  *time.Time `json:"previous_secret_until,omitempty"`
	// FailingSince is the first failed attempt after the last success;
	// an endpoint failing for DisableAfter is disabled (DisabledReason).
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	DisabledReason string     `gorm:"size:1000" json:"disabled_reason,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// TableName names the table.
func (Endpoint) TableName() string { return "webhook_endpoints" }

// Types are the event types the endpoint wants.
func (e *Endpoint) Types() []string {
	var out []string
	for _, t := range strings.Split(e.TypeList, ",") {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

func typeList(types []string) string { return "," + strings.Join(types, ",") + "," }

// Event is one change told to the account's endpoints. Its payload may
// name a person (UserID, Email), by whom erasing them finds it.
type Event struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;index" json:"account_id"`
	Type      string `gorm:"size:64;not null" json:"type"`
	// Subject is what the event is about ("attendee:ID"): deliveries of
	// one subject to one endpoint go in the order they were emitted.
	Subject string `gorm:"size:200;not null" json:"subject"`
	// Body is the JSON POSTed, exactly as signed.
	Body      string    `gorm:"type:text;not null" json:"-"`
	UserID    string    `gorm:"size:36;index" json:"-"`
	Email     string    `gorm:"size:254;index" json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName names the table.
func (Event) TableName() string { return "webhook_events" }

// Delivery statuses.
const (
	Pending   = "pending"   // waiting for its (next) attempt
	Sending   = "sending"   // claimed by a worker until LeaseUntil
	Delivered = "delivered" // the endpoint answered 2xx
	Failed    = "failed"    // out of time (MaxAge) or its endpoint was disabled
)

// Delivery is one event on its way to one endpoint. Seq orders the
// deliveries as they were emitted.
type Delivery struct {
	Seq        int64  `gorm:"primaryKey;autoIncrement;index:idx_webhook_deliveries_claim,priority:2" json:"id"`
	AccountID  string `gorm:"size:36;not null;index" json:"-"`
	EndpointID string `gorm:"size:36;not null;index:idx_webhook_deliveries_order,priority:1" json:"endpoint_id"`
	EventID    string `gorm:"size:36;not null;index" json:"event_id"`
	Subject    string `gorm:"size:200;not null;index:idx_webhook_deliveries_order,priority:2" json:"subject"`
	// The claim walks idx_webhook_deliveries_claim: a status's deliveries
	// in the order they were queued.
	Status string `gorm:"size:16;not null;index:idx_webhook_deliveries_claim,priority:1" json:"status"`
	// Attempts counts claims, including one cut short by a crash.
	Attempts      int        `gorm:"not null;default:0" json:"attempts"`
	NextAttemptAt time.Time  `gorm:"not null" json:"next_attempt_at"`
	ClaimedBy     string     `gorm:"size:100" json:"-"`
	LeaseUntil    *time.Time `json:"-"`
	// ResponseCode and LatencyMS are of the last attempt (0 when it got
	// no answer); ResponseBytes is how much of its body was read (at most
	// MaxResponseBody), ResponseExcerpt its start.
	ResponseCode    int        `gorm:"not null;default:0" json:"response_code"`
	LatencyMS       int64      `gorm:"column:latency_ms;not null;default:0" json:"latency_ms"`
	ResponseBytes   int64      `gorm:"not null;default:0" json:"response_bytes"`
	ResponseExcerpt string     `gorm:"size:1000" json:"response_excerpt,omitempty"`
	LastError       string     `gorm:"size:2000" json:"last_error,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	DeliveredAt     *time.Time `json:"delivered_at,omitempty"`
	FailedAt        *time.Time `json:"failed_at,omitempty"`
}

// TableName names the table.
func (Delivery) TableName() string { return "webhook_deliveries" }

// Done reports whether the delivery will not be tried again.
func (d *Delivery) Done() bool { return d.Status == Delivered || d.Status == Failed }
