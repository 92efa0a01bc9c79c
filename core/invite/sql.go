package invite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/audit"

	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
)

// Opening and redeeming links are the hot paths: they use statements
// prepared once, in plain SQL that both SQLite and PostgreSQL accept ($n
// placeholders in order of first use).

const (
	sqlLoad = `SELECT i.id, i.account_id, i.resource_id, i.email, i.first_name, i.last_name, i.role,
	i.max_uses, i.uses, i.device_binding, i.created_at, i.expires_at, i.revoked_at, i.replaced_by,
	i.failed_guesses, i.guess_window_start,
	r.type, r.title, r.description, r.starts_at, r.ends_at, r.time_zone, r.chat_collab, r.adapter, r.external_id, r.deleted_at,
	s.enabled, p.blocked_domains, p.allowed_domains,
	u.id, u.first_name, u.last_name
FROM invitations i
JOIN resources r ON r.id = i.resource_id AND r.account_id = i.account_id
LEFT JOIN invitation_settings s ON s.account_id = i.account_id
LEFT JOIN access_policies p ON p.account_id = i.account_id
LEFT JOIN users u ON u.account_id = i.account_id AND u.email = i.email
WHERE i.token_hash = $1`

	// sqlLoadW is sqlLoad for a redemption's transaction: only the columns
	// the decision and the entry use. It runs on the one writer, which every
	// redemption waits for, and each column read costs the driver a few
	// calls into SQLite there.
	sqlLoadW = `SELECT i.id, i.account_id, i.resource_id, i.email, i.role,
	i.max_uses, i.uses, i.device_binding, i.expires_at, i.revoked_at, i.replaced_by,
	i.failed_guesses, i.guess_window_start,
	r.type, r.starts_at, r.chat_collab, r.adapter, r.external_id, r.deleted_at,
	s.enabled, p.blocked_domains, p.allowed_domains,
	u.id, u.first_name, u.last_name
FROM invitations i
JOIN resources r ON r.id = i.resource_id AND r.account_id = i.account_id
LEFT JOIN invitation_settings s ON s.account_id = i.account_id
LEFT JOIN access_policies p ON p.account_id = i.account_id
LEFT JOIN users u ON u.account_id = i.account_id AND u.email = i.email
WHERE i.token_hash = $1`

	// sqlLoadFirst is sqlLoadW for the first, outside any transaction, read
	// of a redemption (Service.first), with the invitee's present role in
	// the resource, if they are inside.
	sqlLoadFirst = `SELECT i.id, i.account_id, i.resource_id, i.email, i.role,
	i.max_uses, i.uses, i.device_binding, i.expires_at, i.revoked_at, i.replaced_by,
	i.failed_guesses, i.guess_window_start,
	r.type, r.starts_at, r.chat_collab, r.adapter, r.external_id, r.deleted_at,
	s.enabled, p.blocked_domains, p.allowed_domains,
	u.id, u.first_name, u.last_name, pa.role
FROM invitations i
JOIN resources r ON r.id = i.resource_id AND r.account_id = i.account_id
LEFT JOIN invitation_settings s ON s.account_id = i.account_id
LEFT JOIN access_policies p ON p.account_id = i.account_id
LEFT JOIN users u ON u.account_id = i.account_id AND u.email = i.email
LEFT JOIN participants pa ON pa.resource_id = i.resource_id AND pa.user_id = u.id
WHERE i.token_hash = $1`

	// sqlTakeUse is sqlConsume for a redemption decided on a read made
	// before it (Service.first): it also re-checks the wrong-guess lock,
	// which that read saw open ($4 the most wrong guesses, $5 the start of
	// the window they count in).
	sqlTakeUse = `UPDATE invitations SET uses = uses + 1, last_redeemed_at = $1
WHERE id = $2 AND revoked_at IS NULL AND expires_at > $3 AND (max_uses = 0 OR uses < max_uses)
AND NOT (guess_window_start IS NOT NULL AND guess_window_start > $5 AND failed_guesses >= $4)`

	sqlReturning = `SELECT user_id FROM redemptions WHERE invitation_id = $1 AND device_hash = $2`

	sqlAnyRedemption = `SELECT COUNT(*) FROM redemptions WHERE invitation_id = $1`

	// The row count of this one statement decides who gets the last use:
	// concurrent redemptions of a single-use link cannot both see uses < 1,
	// on SQLite (one writer) and on PostgreSQL (row lock, re-checked WHERE).
	sqlConsume = `UPDATE invitations SET uses = uses + 1, last_redeemed_at = $1
WHERE id = $2 AND revoked_at IS NULL AND expires_at > $3 AND (max_uses = 0 OR uses < max_uses)`

	// The invitee's names, for a user erased since the invitation was made
	// (sqlLoadW does not read them).
	sqlNames = `SELECT first_name, last_name FROM invitations WHERE id = $1`

	sqlInsertRedemption = `INSERT INTO redemptions (id, invitation_id, device_hash, user_id, at) VALUES ($1, $2, $3, $4, $5)`

	// One statement, so concurrent wrong guesses are all counted.
	sqlCountGuess = `UPDATE invitations SET
	failed_guesses = CASE WHEN guess_window_start IS NULL OR guess_window_start <= $1 THEN 1 ELSE failed_guesses + 1 END,
	guess_window_start = CASE WHEN guess_window_start IS NULL OR guess_window_start <= $2 THEN $3 ELSE guess_window_start END
WHERE id = $4`
)

// stmts are the prepared statements of the hot paths.
type stmts struct {
	load, returning, anyRedemption               *sql.Stmt // reader
	consume, names, insertRedemption, countGuess *sql.Stmt // writer
	// what the redemption writes to other packages' tables, through them:
	// their place inside the resource, the audit entry
	entries *resource.Entries
	audit   *audit.Writer
	// the writer's own copies of the reads, for use inside a redemption's
	// transaction: the writer connection's page cache stays warm, while a
	// reader's is dropped after every write.
	loadW, returningW, anyRedemptionW *sql.Stmt

	// the first entry of an invitee, read on the reader and written as one
	// gated write (Service.first)
	loadFirst   *sql.Stmt
	redemptions *store.Inserts
	firstEntry  *store.Gated
}

type prepared struct {
	once sync.Once
	s    *stmts
	err  error
}

func (s *Service) stmts(ctx context.Context) (*stmts, error) {
	s.prep.once.Do(func() {
		st := &stmts{}
		for _, p := range []struct {
			dst   **sql.Stmt
			write bool
			query string
		}{
			{&st.load, false, sqlLoad}, {&st.returning, false, sqlReturning}, {&st.anyRedemption, false, sqlAnyRedemption},
			{&st.consume, true, sqlConsume}, {&st.names, true, sqlNames},
			{&st.insertRedemption, true, sqlInsertRedemption}, {&st.countGuess, true, sqlCountGuess},
			{&st.loadW, true, sqlLoadW}, {&st.returningW, true, sqlReturning}, {&st.anyRedemptionW, true, sqlAnyRedemption},
			{&st.loadFirst, false, sqlLoadFirst},
		} {
			stmt, err := s.DB.Prepare(context.WithoutCancel(ctx), p.write, p.query)
			if err != nil {
				s.prep.err = err
				return
			}
			*p.dst = stmt
		}
		if st.entries, s.prep.err = resource.NewEntries(ctx, s.DB); s.prep.err != nil {
			return
		}
		if st.audit, s.prep.err = audit.NewWriter(ctx, s.DB); s.prep.err != nil {
			return
		}
		if st.redemptions, s.prep.err = s.DB.NewInserts(ctx, "redemptions", "id", "invitation_id", "device_hash", "user_id", "at"); s.prep.err != nil {
			return
		}
		// The rows of a first entry, in the order redemption.first gives them.
		if s.Sessions != nil {
			if st.firstEntry, s.prep.err = s.DB.NewGated(ctx, sqlTakeUse, 5,
				st.redemptions, st.entries.Inserts(), s.Sessions.Inserts(), st.audit.Inserts()); s.prep.err != nil {
				return
			}
		}
		s.prep.s = st
	})
	return s.prep.s, s.prep.err
}

// loaded is a link with everything deciding what it offers.
type loaded struct {
	inv *Invitation
	res *resource.Resource
	// moduleOff is the account's invitation module switched off.
	moduleOff bool
	// policy is the account's email domain policy.
	policy access.Policy
	// userID and names of the invitee's user row, if it exists.
	userID, userFirst, userLast string
}

// load reads a link by its token in one query, from the reader pool.
func (s *Service) load(ctx context.Context, tok string) (*loaded, error) {
	if !token.WellFormed(tok) {
		return nil, ErrNotFound
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return nil, err
	}
	return loadHashed(ctx, st.load, token.Hash(tok))
}

// loadHashed reads a link by its token's hash with the reader's load
// statement (sqlLoad).
func loadHashed(ctx context.Context, load *sql.Stmt, tokenHash string) (*loaded, error) {
	var (
		inv                              Invitation
		res                              resource.Resource
		revoked, guessStart, starts, end sql.NullTime
		deleted                          sql.NullTime
		enabled                          sql.NullBool
		blocked, allowed                 sql.NullString
		uid, ufirst, ulast               sql.NullString
	)
	err := load.QueryRowContext(ctx, tokenHash).Scan(
		&inv.ID, &inv.AccountID, &inv.ResourceID, &inv.Email, &inv.FirstName, &inv.LastName, &inv.Role,
		&inv.MaxUses, &inv.Uses, &inv.DeviceBinding, &inv.CreatedAt, &inv.ExpiresAt, &revoked, &inv.ReplacedBy,
		&inv.FailedGuesses, &guessStart,
		&res.Type, &res.Title, &res.Description, &starts, &end, &res.TimeZone, &res.ChatCollab, &res.Adapter, &res.ExternalID, &deleted,
		&enabled, &blocked, &allowed,
		&uid, &ufirst, &ulast)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	inv.RevokedAt, inv.GuessWindowStart = timePtr(revoked), timePtr(guessStart)
	res.StartsAt, res.EndsAt, res.DeletedAt = timePtr(starts), timePtr(end), timePtr(deleted)
	return newLoaded(&inv, &res, enabled, blocked, allowed, uid, ufirst, ulast), nil
}

// loadForRedeem reads a link by its token's hash with the writer's narrower
// load statement (sqlLoadW): the invitation and resource lack what a
// redemption does not use (names and creation time of the invitation;
// title, description, end and time zone of the resource). With sqlLoadFirst,
// inside (nil with sqlLoadW) receives the invitee's present role in the
// resource.
func loadForRedeem(ctx context.Context, load *sql.Stmt, tokenHash string, inside *sql.NullString) (*loaded, error) {
	var (
		inv                               Invitation
		res                               resource.Resource
		revoked, guessStart, starts, gone sql.NullTime
		enabled                           sql.NullBool
		blocked, allowed                  sql.NullString
		uid, ufirst, ulast                sql.NullString
	)
	dest := []any{
		&inv.ID, &inv.AccountID, &inv.ResourceID, &inv.Email, &inv.Role,
		&inv.MaxUses, &inv.Uses, &inv.DeviceBinding, &inv.ExpiresAt, &revoked, &inv.ReplacedBy,
		&inv.FailedGuesses, &guessStart,
		&res.Type, &starts, &res.ChatCollab, &res.Adapter, &res.ExternalID, &gone,
		&enabled, &blocked, &allowed,
		&uid, &ufirst, &ulast}
	if inside != nil {
		dest = append(dest, inside)
	}
	err := load.QueryRowContext(ctx, tokenHash).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	inv.RevokedAt, inv.GuessWindowStart = timePtr(revoked), timePtr(guessStart)
	res.StartsAt, res.DeletedAt = timePtr(starts), timePtr(gone)
	return newLoaded(&inv, &res, enabled, blocked, allowed, uid, ufirst, ulast), nil
}

func newLoaded(inv *Invitation, res *resource.Resource, enabled sql.NullBool, blocked, allowed, uid, ufirst, ulast sql.NullString) *loaded {
	res.ID, res.AccountID = inv.ResourceID, inv.AccountID
	// A policy row has both lists; none means the account saved none.
	policy := access.ParsePolicy(inv.AccountID, blocked.Valid, blocked.String, allowed.String)
	// No settings row: the module is on, as DefaultSettings has it.
	return &loaded{inv: inv, res: res, moduleOff: enabled.Valid && !enabled.Bool, policy: policy, userID: uid.String, userFirst: ufirst.String, userLast: ulast.String}
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// invitee returns the invitee's user row for the entry, making it again
// (with the invitation's names) if it was erased since the invitation was
// made: rare, so it goes through user.Resolve like every other way a
// person arrives.
func (l *loaded) invitee(tx *store.Tx, st *stmts) (*user.User, error) {
	if l.userID != "" {
		return &user.User{ID: l.userID, AccountID: l.inv.AccountID, Email: l.inv.Email, FirstName: l.userFirst, LastName: l.userLast}, nil
	}
	var first, last string
	if err := tx.Stmt(st.names).QueryRowContext(tx.Context(), l.inv.ID).Scan(&first, &last); err != nil {
		return nil, err
	}
	return user.Resolve(tx, user.Identity{AccountID: l.inv.AccountID, Email: l.inv.Email, FirstName: first, LastName: last})
}
