package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
)

// Payload is an event's data. Its "user_id" and "email" entries, when set,
// name the person the event is about: erasing that person deletes it.
type Payload map[string]any

// body is what is POSTed: the Standard Webhooks payload shape (type,
// timestamp, data), with the event's subject.
type body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Subject   string    `json:"subject"`
	Data      Payload   `json:"data"`
}

const sqlFanOut = `INSERT INTO webhook_deliveries (account_id, endpoint_id, event_id, subject, status, attempts, next_attempt_at, response_code, latency_ms, response_bytes, created_at, updated_at)
SELECT account_id, id, $1, $2, $3, 0, $4, 0, 0, 0, $4, $4 FROM webhook_endpoints WHERE account_id = $5 AND enabled = $6 AND types LIKE $7`

// Emit writes an event of the account with tx, the transaction of the
// change it tells of, with a delivery to each enabled endpoint of the
// account that wants its type: the event exists exactly when the change
// does. When no endpoint wants it, nothing is written. It costs one
// statement when no endpoint wants it; Service.Emit costs none then.
func Emit(tx *store.Tx, accountID, typ, subject string, payload Payload) error {
	now := tx.Now()
	evID := id.New()
	r, err := tx.ExecSQL(sqlFanOut, evID, subject, Pending, now, accountID, true, "%,"+typ+",%")
	if err != nil {
		return fmt.Errorf("webhook: queue %s: %w", typ, err)
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return insertEvent(tx, evID, accountID, typ, subject, payload, now)
}

func insertEvent(tx *store.Tx, evID, accountID, typ, subject string, payload Payload, now time.Time) error {
	b, err := json.Marshal(body{Type: typ, Timestamp: now, Subject: subject, Data: payload})
	if err != nil {
		return fmt.Errorf("webhook: %s payload: %w", typ, err)
	}
	ev := &Event{ID: evID, AccountID: accountID, Type: typ, Subject: subject, Body: string(b), CreatedAt: now}
	ev.UserID, _ = payload["user_id"].(string)
	ev.Email, _ = payload["email"].(string)
	if err := tx.Create(ev).Error; err != nil {
		return fmt.Errorf("webhook: queue %s: %w", typ, err)
	}
	return nil
}

// Emit is the package's Emit for the changes many requests make at once
// (redeeming a link): when the account has no enabled endpoint wanting
// typ, as this replica last read within wantTTL, it writes and reads
// nothing. A nil Service is the package's Emit.
func (s *Service) Emit(tx *store.Tx, accountID, typ, subject string, payload Payload) error {
	if s == nil {
		return Emit(tx, accountID, typ, subject, payload)
	}
	wanted, err := s.wants.get(tx.Context(), tx, accountID)
	if err != nil {
		return err
	}
	if !wanted[typ] {
		return nil
	}
	return Emit(tx, accountID, typ, subject, payload)
}

// Wants reports whether an enabled endpoint of the account wants events of
// typ, as Emit finds out, reading through r: a write for which it is false
// may leave Emit out, since Emit would write nothing.
func (s *Service) Wants(ctx context.Context, r store.Reader, accountID, typ string) (bool, error) {
	if s == nil {
		return true, nil
	}
	wanted, err := s.wants.get(ctx, r, accountID)
	return wanted[typ], err
}

// wantTTL is how long a replica trusts what it read of an account's wanted
// types. Changes made through this replica's Service are seen at once;
// an endpoint created or changed on another replica (or by the command
// line) is seen within wantTTL.
const wantTTL = 5 * time.Second

// wantCache is, per account, the set of event types its enabled endpoints
// want, read when first needed and again after wantTTL.
type wantCache struct {
	mu sync.Mutex
	m  map[string]wantEntry
}

type wantEntry struct {
	types map[string]bool
	at    time.Time
}

func newWantCache() *wantCache { return &wantCache{m: map[string]wantEntry{}} }

func (c *wantCache) forget(accountID string) {
	c.mu.Lock()
	delete(c.m, accountID)
	c.mu.Unlock()
}

// get reads the account's wanted types through r when not known or
// stale. The clock is the wall clock: the entry's age is about this
// process, whatever time the database is told.
func (c *wantCache) get(ctx context.Context, r store.Reader, accountID string) (map[string]bool, error) {
	c.mu.Lock()
	e, ok := c.m[accountID]
	c.mu.Unlock()
	if ok && time.Since(e.at) < wantTTL {
		return e.types, nil
	}
	var lists []string
	if err := r.Read(ctx).Model(&Endpoint{}).Where("account_id = ? AND enabled = ?", accountID, true).Pluck("types", &lists).Error; err != nil {
		return nil, fmt.Errorf("webhook: wanted types: %w", err)
	}
	types := map[string]bool{}
	for _, l := range lists {
		for _, t := range strings.Split(l, ",") {
			if t != "" {
				types[t] = true
			}
		}
	}
	c.mu.Lock()
	c.m[accountID] = wantEntry{types: types, at: time.Now()}
	c.mu.Unlock()
	return types, nil
}

// Item is one event of EmitMany: what it is about and what it says.
type Item struct {
	Subject string
	Payload Payload
}

// eventRows and deliveryRows are what EmitMany writes, a batch of events
// of one account and type, and their deliveries, in a few multi-row
// statements.
var (
	eventRows = store.Rows{Table: "webhook_events",
		Columns: []string{"id", "account_id", "type", "subject", "body", "user_id", "email", "created_at"},
		Shared:  []string{"account_id", "type", "created_at"}}
	deliveryRows = store.Rows{Table: "webhook_deliveries",
		Columns: []string{"account_id", "endpoint_id", "event_id", "subject", "status", "attempts", "next_attempt_at",
			"claimed_by", "response_code", "latency_ms", "response_bytes", "response_excerpt", "last_error", "created_at", "updated_at"},
		Shared: []string{"account_id", "status", "attempts", "next_attempt_at", "claimed_by", "response_code", "latency_ms",
			"response_bytes", "response_excerpt", "last_error", "created_at", "updated_at"}}
)

// EmitMany is Emit for n changes of one type made in one transaction
// (the attendees a bulk import adds): the same events and deliveries, in
// the order of item(0)...item(n-1), written a batch at a time. When no
// endpoint of the account wants typ it writes nothing, builds no item,
// and with a Service reads nothing.
func (s *Service) EmitMany(tx *store.Tx, accountID, typ string, n int, item func(i int) Item) error {
	if n == 0 {
		return nil
	}
	if s != nil {
		wanted, err := s.wants.get(tx.Context(), tx, accountID)
		if err != nil || !wanted[typ] {
			return err
		}
	}
	var endpoints []string
	if err := tx.Read(tx.Context()).Model(&Endpoint{}).Where("account_id = ? AND enabled = ? AND types LIKE ?", accountID, true, "%,"+typ+",%").
		Order("id").Pluck("id", &endpoints).Error; err != nil {
		return fmt.Errorf("webhook: queue %s: %w", typ, err)
	}
	if len(endpoints) == 0 {
		return nil
	}
	now := tx.Now()
	evs := make([]Event, n)
	for i := range evs {
		it := item(i)
		b, err := json.Marshal(body{Type: typ, Timestamp: now, Subject: it.Subject, Data: it.Payload})
		if err != nil {
			return fmt.Errorf("webhook: %s payload: %w", typ, err)
		}
		evs[i] = Event{ID: id.New(), Subject: it.Subject, Body: string(b)}
		evs[i].UserID, _ = it.Payload["user_id"].(string)
		evs[i].Email, _ = it.Payload["email"].(string)
	}
	if _, err := tx.Insert(&eventRows, len(evs), func(args []any, i int) []any {
		e := &evs[i]
		return append(args, e.ID, accountID, typ, e.Subject, e.Body, e.UserID, e.Email, now)
	}); err != nil {
		return fmt.Errorf("webhook: queue %s: %w", typ, err)
	}
	// Each event's deliveries follow the one before's: every subject's
	// deliveries to an endpoint stay in the order of items.
	if _, err := tx.Insert(&deliveryRows, len(evs)*len(endpoints), func(args []any, i int) []any {
		e := &evs[i/len(endpoints)]
		return append(args, accountID, endpoints[i%len(endpoints)], e.ID, e.Subject, Pending, 0, now,
			"", 0, int64(0), int64(0), "", "", now, now)
	}); err != nil {
		return fmt.Errorf("webhook: queue %s: %w", typ, err)
	}
	return nil
}
