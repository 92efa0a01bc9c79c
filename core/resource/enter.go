package resource

import (
	"context"
	"database/sql"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// Entries records people entering resources (the participants table), on
// the hot path of redeeming a link: statements prepared once on the
// writer, plain SQL both databases accept.
type Entries struct {
	insert, role, raise *sql.Stmt
	// first adds a participant who was not inside: a row that collides
	// with one written since they were found not to be (First).
	first *store.Inserts
}

const (
	sqlInsertParticipant = `INSERT INTO participants (resource_id, user_id, account_id, role, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (resource_id, user_id) DO NOTHING`
	sqlParticipantRole  = `SELECT role FROM participants WHERE resource_id = $1 AND user_id = $2`
	sqlRaiseParticipant = `UPDATE participants SET role = $1, updated_at = $2 WHERE resource_id = $3 AND user_id = $4`
)

// NewEntries prepares Entries on db, outside any transaction.
func NewEntries(ctx context.Context, db *store.DB) (*Entries, error) {
	e := &Entries{}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{{&e.insert, sqlInsertParticipant}, {&e.role, sqlParticipantRole}, {&e.raise, sqlRaiseParticipant}} {
		st, err := db.Prepare(context.WithoutCancel(ctx), true, p.sql)
		if err != nil {
			return nil, err
		}
		*p.dst = st
	}
	var err error
	if e.first, err = db.NewInserts(context.WithoutCancel(ctx), "participants", "resource_id", "user_id", "account_id", "role", "joined_at", "updated_at"); err != nil {
		return nil, err
	}
	return e, nil
}

// First is the row of a person entering a resource they were not inside
// (as a read just found), with role, for a write that adds its rows in one
// go (store.Gated). Should they have entered since, the row collides with
// theirs and that write fails with a unique violation: Enter then decides.
func (e *Entries) First(resourceID, userID, accountID, role string, now time.Time) store.Row {
	return e.first.Row(resourceID, userID, accountID, role, now, now)
}

// Inserts is the table First's rows go to, for store.NewGated.
func (e *Entries) Inserts() *store.Inserts { return e.first }

// Enter records, in tx, the user inside the resource with the higher of
// their present role and role, and returns (the role they have now, the
// one they had before, "" if none).
func (e *Entries) Enter(tx *store.Tx, resourceID, userID, accountID, role string, now time.Time) (string, string, error) {
	ctx := tx.Context()
	// Most people enter once: try the insert first.
	r, err := tx.Stmt(e.insert).ExecContext(ctx, resourceID, userID, accountID, role, now, now)
	if err != nil {
		return "", "", err
	}
	if n, err := r.RowsAffected(); err != nil {
		return "", "", err
	} else if n == 1 {
		return role, "", nil
	}
	var cur string
	if err := tx.Stmt(e.role).QueryRowContext(ctx, resourceID, userID).Scan(&cur); err != nil {
		return "", "", err
	}
	if !Higher(role, cur) {
		return cur, cur, nil
	}
	_, err = tx.Stmt(e.raise).ExecContext(ctx, role, now, resourceID, userID)
	return role, cur, err
}
