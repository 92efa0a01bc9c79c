package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/token"
)

// A database from before scoped sessions kept event site sessions in
// event_sessions. Migrating moves them into sessions, where they still sign
// their attendee in, and drops the old table; migrating again changes
// nothing.
func TestUpgradeMovesEventSessions(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		plain, hash := token.New()
		for _, q := range []string{
			`CREATE TABLE event_sessions (id varchar(36) PRIMARY KEY, account_id varchar(36), event_id varchar(36), attendee_id varchar(36),
token_hash varchar(64), method varchar(16), created_at timestamp, expires_at timestamp, revoked_at timestamp)`,
			`INSERT INTO attendees (id, account_id, event_id, user_id, email, first_name, last_name, name_key, last_key, speaker, moderator, organizer,
registration_type, status, detail, blocked_from_chat, created_at, updated_at)
VALUES ('0190aaaa-0000-7000-8000-00000000000a', '0190aaaa-0000-7000-8000-0000000000cc', '0190aaaa-0000-7000-8000-00000000000e', '0190aaaa-0000-7000-8000-0000000000aa', 'a@x.test', 'A', 'B', 'a b', 'b',
false, false, false, 'invited', 'invited', 'invited_by_team_member', false, ?, ?)`,
			`INSERT INTO users (id, account_id, email, first_name, last_name, external_id, console_role, shared, created_at, updated_at)
VALUES ('0190aaaa-0000-7000-8000-0000000000aa', '0190aaaa-0000-7000-8000-0000000000cc', 'a@x.test', 'A', 'B', '', '', false, ?, ?)`,
		} {
			var args []any
			if q[0] == 'I' {
				args = []any{now, now}
			}
			if err := db.W.Exec(q, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.W.Exec(`INSERT INTO event_sessions VALUES ('0190aaaa-0000-7000-8000-0000000000ff', '0190aaaa-0000-7000-8000-0000000000cc', '0190aaaa-0000-7000-8000-00000000000e',
'0190aaaa-0000-7000-8000-00000000000a', ?, 'magic_link', ?, ?, NULL)`, hash, now, now.Add(time.Hour)).Error; err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := db.Migrate(schema.Models()...); err != nil {
				t.Fatal(err)
			}
		}
		if db.HasTable("event_sessions") {
			t.Fatal("event_sessions is still there")
		}
		ss, err := session.New(ctx, db, session.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sess, _, err := ss.Authenticate(ctx, session.ScopeEvent, "0190aaaa-0000-7000-8000-00000000000e", plain)
		if err != nil || sess.UserID != "0190aaaa-0000-7000-8000-0000000000aa" || sess.Method != "magic_link" {
			t.Fatalf("moved session: %v %+v", err, sess)
		}
	})
}
