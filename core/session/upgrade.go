package session

import (
	"context"

	"github.com/invitegate/gateway/core/store"
)

// Upgrade moves the event site sessions that gateways before scoped
// sessions kept in a table of their own (event_sessions, one row per
// attendee's sign-in) into sessions, so nobody signed in to an event is
// signed out by the upgrade, and drops that table: all in one transaction.
func (Session) Upgrade(ctx context.Context, db *store.DB) error {
	if !db.HasTable("event_sessions") {
		return nil
	}
	return db.Tx(ctx, func(tx *store.Tx) error {
		err := tx.Exec(`INSERT INTO sessions (id, account_id, user_id, token_hash, scope, scope_id, method, created_at, expires_at, revoked_at, last_seen_at)
SELECT s.id, s.account_id, a.user_id, s.token_hash, ?, s.event_id, s.method, s.created_at, s.expires_at, s.revoked_at, s.created_at
FROM event_sessions s JOIN attendees a ON a.id = s.attendee_id
WHERE NOT EXISTS (SELECT 1 FROM sessions x WHERE x.id = s.id)`, ScopeEvent).Error
		if err != nil {
			return err
		}
		return tx.Exec("DROP TABLE event_sessions").Error
	})
}
