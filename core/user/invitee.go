package user

import (
	"context"
	"database/sql"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
)

// Invitees finds or makes the user behind an invitation on the hot path
// of redeeming it, with statements prepared once on the writer. The
// invitation's query already read the user when there is one; this runs
// only for a user erased since they were invited.
type Invitees struct {
	ensure, byEmail *sql.Stmt
}

const (
	sqlEnsureInvitee = `INSERT INTO users (id, account_id, email, first_name, last_name, external_id, console_role, shared, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, '', '', false, $6, $7) ON CONFLICT (account_id, email) DO NOTHING`
	sqlInviteeByEmail = `SELECT id, first_name, last_name FROM users WHERE account_id = $1 AND email = $2`
)

// NewInvitees prepares Invitees on db, outside any transaction.
func NewInvitees(ctx context.Context, db *store.DB) (*Invitees, error) {
	w := &Invitees{}
	var err error
	if w.ensure, err = db.Prepare(context.WithoutCancel(ctx), true, sqlEnsureInvitee); err != nil {
		return nil, err
	}
	if w.byEmail, err = db.Prepare(context.WithoutCancel(ctx), true, sqlInviteeByEmail); err != nil {
		return nil, err
	}
	return w, nil
}

// Ensure finds or makes, in tx, the user with this normalized email, with
// these names when new.
func (w *Invitees) Ensure(tx *store.Tx, accountID, email, first, last string, now time.Time) (*User, error) {
	ctx := tx.Context()
	if _, err := tx.Stmt(w.ensure).ExecContext(ctx, id.New(), accountID, email, first, last, now, now); err != nil {
		return nil, err
	}
	u := &User{AccountID: accountID, Email: email}
	err := tx.Stmt(w.byEmail).QueryRowContext(ctx, accountID, email).Scan(&u.ID, &u.FirstName, &u.LastName)
	return u, err
}
