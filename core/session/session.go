// Package session owns signing people in: the server-side sessions every
// way in opens (a console sign-in link, an event login or confirmation
// link, an invite link, and the identity provider and LTI launches built on
// them), each scoped to what it signs in to and recording how it was
// opened, and the console's one-time sign-in links.
//
// A session's token is random, shown once (in an HttpOnly cookie) and
// stored as its hash. A session signs in to one scope only: a console
// session is never an event site's, and the session an invite link opens
// lets its holder back into that one resource, never into the console.
package session

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
)

// Scopes: what a session signs in to.
const (
	ScopeConsole  = "console"  // the console and the API, for console users
	ScopeEvent    = "event"    // one event's site (ScopeID: the event)
	ScopeResource = "resource" // one room or media entry (ScopeID: the resource)
)

// Methods: how a session was opened, as recorded on it. An event site's
// session records the event's login method (core/event's LoginMagicLink
// or LoginSSO).
const (
	MethodConsoleLink = "console_link" // a console sign-in link
	MethodConsoleSSO  = "sso"          // the identity provider, at a console sign-in (the connection is in the audit log)
	MethodInviteLink  = "invite_link"  // an invite link redeemed
)

// Session is a person signed in to a scope. The cookie holds the token; the
// row holds its hash.
type Session struct {
	ID string `gorm:"primaryKey;size:36"`
	// AccountID has no index of its own: sessions are found by token,
	// and by user (the index below) to end them; each index more is a
	// B-tree written by every invite redemption, on SQLite's one writer.
	AccountID string `gorm:"size:36;not null"`
	UserID    string `gorm:"size:36;not null;index:idx_sessions_user_scope,priority:1"`
	// TokenHash is the SHA-256 of the token's secret. Console and event
	// sessions are found by it (Indexes); resource sessions by their ID,
	// which their token carries (see Open).
	TokenHash string `gorm:"size:64;not null"`
	// Scope and ScopeID say what the session signs in to; sessions made
	// before scopes existed were console sessions.
	Scope   string `gorm:"size:16;not null;default:console;index:idx_sessions_user_scope,priority:2"`
	ScopeID string `gorm:"size:36;not null;default:'';index:idx_sessions_user_scope,priority:3"`
	// Method is how the person signed in (Method* constants, or an event's
	// login method).
	Method     string     `gorm:"size:32;not null;default:console_link"`
	CreatedAt  time.Time  ``
	ExpiresAt  time.Time  `gorm:"not null"`
	RevokedAt  *time.Time ``
	LastSeenAt time.Time  ``
}

// Indexes finds console and event sessions by their token's hash; it
// replaces the index on every session's hash, and the one on account_id,
// that earlier gateways made.
func (Session) Indexes() []string {
	return []string{
		"DROP INDEX IF EXISTS idx_sessions_account_id",
		"DROP INDEX IF EXISTS idx_sessions_token_hash",
		"CREATE UNIQUE INDEX IF NOT EXISTS idx_sessions_token ON sessions (token_hash) WHERE scope <> 'resource'",
	}
}

// How is how a session is opened: by which method, to which scope, for how
// long.
type How struct {
	Method  string
	Scope   string
	ScopeID string
	// TTL is the session's life; zero takes the service's SessionTTL. A
	// console session's expiry slides forward while it is used; any other
	// ends TTL after opening, whatever happens.
	TTL time.Duration
}

// Opened is a session just opened: Token goes into the cookie and is not
// kept.
type Opened struct {
	Token   string
	Session *Session
}

// Service opens and checks sessions and the console's sign-in links.
type Service struct {
	db  *store.DB
	now func() time.Time
	// linkTTL is how long a console sign-in link works; sessionTTL how long
	// a session lasts (without use, for sliding ones).
	linkTTL, sessionTTL time.Duration
	// rows writes sessions with the rest of a SQLite write group: an invite
	// link's redemption opens one on the hot path.
	rows *store.Inserts
}

// Options configure a Service; zero values take the defaults.
type Options struct {
	Now func() time.Time
	// LinkTTL is how long a console sign-in link works (default 24h).
	LinkTTL time.Duration
	// SessionTTL is how long a session lasts by default (12h; for console
	// sessions, without use).
	SessionTTL time.Duration
}

// New prepares a Service on db.
func New(ctx context.Context, db *store.DB, o Options) (*Service, error) {
	s := &Service{db: db, now: o.Now, linkTTL: o.LinkTTL, sessionTTL: o.SessionTTL}
	if s.now == nil {
		s.now = time.Now
	}
	if s.linkTTL <= 0 {
		s.linkTTL = 24 * time.Hour
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 12 * time.Hour
	}
	var err error
	s.rows, err = db.NewInserts(ctx, "sessions", "id", "account_id", "user_id", "token_hash", "scope", "scope_id", "method",
		"created_at", "expires_at", "last_seen_at")
	if err != nil {
		return nil, err
	}
	return s, nil
}

// clock is the service's clock, in UTC.
func (s *Service) clock() time.Time { return s.now().UTC() }

// Open signs a person in, with tx: the one way anyone gets a session. The
// session is written with tx, so it exists exactly when what opened it
// (a used link, a redemption) does.
func (s *Service) Open(tx *store.Tx, accountID, userID string, how How) (*Opened, error) {
	o, row, err := s.Prepare(accountID, userID, how)
	if err != nil {
		return nil, err
	}
	if err := tx.AddRow(row); err != nil {
		return nil, err
	}
	return o, nil
}

// Prepare makes a session ready to open and gives the row that opens it,
// for a write that adds its rows in one go (store.Gated): the session
// exists exactly when that write is done. Open is Prepare and the row
// added in a transaction.
func (s *Service) Prepare(accountID, userID string, how How) (*Opened, store.Row, error) {
	if how.Method == "" || how.Scope == "" || how.Scope != ScopeConsole && how.ScopeID == "" {
		return nil, store.Row{}, errors.New("session: a session needs a method and a scope")
	}
	ttl := how.TTL
	if ttl <= 0 {
		ttl = s.sessionTTL
	}
	plain, hash := token.New()
	now := s.clock()
	sess := &Session{ID: id.New(), AccountID: accountID, UserID: userID, TokenHash: hash, Scope: how.Scope, ScopeID: how.ScopeID,
		Method: how.Method, CreatedAt: now, ExpiresAt: now.Add(ttl), LastSeenAt: now}
	if how.Scope == ScopeConsole {
		sess.ScopeID = ""
	}
	if how.Scope == ScopeResource {
		// Every invite redemption opens one of these. Found through an
		// index on the random hash, each would write a random index page
		// (about 25 µs of SQLite's one writer, a sixth of a redemption):
		// the token carries the session's time-ordered id instead, and the
		// secret after it is checked against the hash.
		plain = sess.ID + idSep + plain
	}
	row := s.rows.Row(sess.ID, sess.AccountID, sess.UserID, sess.TokenHash, sess.Scope, sess.ScopeID, sess.Method,
		now, sess.ExpiresAt, now)
	return &Opened{Token: plain, Session: sess}, row, nil
}

// Inserts is the table Prepare's rows go to, for store.NewGated.
func (s *Service) Inserts() *store.Inserts { return s.rows }

// Authenticate returns the live session of the scope for a cookie token
// and, for a console session, its user (whose console role it checks);
// other scopes' callers know the person by the session's UserID and read
// what they need of them. scopeID "" accepts any session of the scope (the
// invite page, which learns the resource from the link). A console
// session's expiry slides forward while it is used, at most once a minute.
func (s *Service) Authenticate(ctx context.Context, scope, scopeID, tok string) (*Session, *user.User, error) {
	now := s.clock()
	sess, err := s.find(ctx, scope, tok, now)
	if err != nil || sess.Scope != scope || scopeID != "" && sess.ScopeID != scopeID {
		if err == nil || isNotFound(err) || errors.Is(err, problem.ErrUnauthorized) {
			return nil, nil, problem.ErrUnauthorized
		}
		return nil, nil, err
	}
	if scope != ScopeConsole {
		return sess, nil, nil
	}
	u, err := user.Get(ctx, s.db, sess.AccountID, sess.UserID)
	if err != nil {
		return nil, nil, problem.ErrUnauthorized
	}
	if u.ConsoleRole == "" {
		return nil, nil, ErrNotConsole
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		s.db.W.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).
			Updates(map[string]any{"last_seen_at": now, "expires_at": now.Add(s.sessionTTL)})
	}
	return sess, u, nil
}

// idSep separates a resource session's id from its secret in its token.
const idSep = "."

// find reads the live session a token names: a resource session by the id
// its token starts with, its secret compared with the stored hash in
// constant time; any other by its token's hash.
func (s *Service) find(ctx context.Context, scope, tok string, now time.Time) (*Session, error) {
	var sess Session
	q := s.db.Read(ctx).Where("revoked_at IS NULL AND expires_at > ?", now)
	if scope == ScopeResource {
		sid, secret, ok := strings.Cut(tok, idSep)
		if !ok || !id.Valid(sid) || !token.WellFormed(secret) {
			return nil, problem.ErrUnauthorized
		}
		if err := q.Where("id = ?", sid).Take(&sess).Error; err != nil {
			return nil, err
		}
		if !token.Equal(sess.TokenHash, token.Hash(secret)) {
			return nil, problem.ErrUnauthorized
		}
		return &sess, nil
	}
	if !token.WellFormed(tok) {
		return nil, problem.ErrUnauthorized
	}
	err := q.Where("token_hash = ? AND scope <> ?", token.Hash(tok), ScopeResource).Take(&sess).Error
	return &sess, err
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, sessionID string) error {
	return s.db.W.WithContext(ctx).Model(&Session{}).Where("id = ? AND revoked_at IS NULL", sessionID).Update("revoked_at", s.clock()).Error
}

// Revoke ends, with tx, every live session of the user in the scope: what
// takes someone off an event ends their sign-in in the same commit.
func (s *Service) Revoke(tx *store.Tx, userID, scope, scopeID string) error {
	return tx.Model(&Session{}).Where("user_id = ? AND scope = ? AND scope_id = ? AND revoked_at IS NULL", userID, scope, scopeID).
		Update("revoked_at", s.clock()).Error
}
