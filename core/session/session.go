// Package session owns console sign-in: one-time login links (same rules as
// invite links: random, hashed, single use, expiring, consumed by one
// conditional UPDATE) and the server-side sessions they open.
package session

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
)

// LoginLink is a one-time sign-in link for a console user.
type LoginLink struct {
	ID        string     `gorm:"primaryKey;size:36"`
	AccountID string     `gorm:"size:36;not null;index"`
	UserID    string     `gorm:"size:36;not null;index"`
	TokenHash string     `gorm:"size:64;not null;uniqueIndex"`
	CreatedBy string     `gorm:"size:64"`
	CreatedAt time.Time  ``
	ExpiresAt time.Time  `gorm:"not null"`
	UsedAt    *time.Time ``
}

// Session is a signed-in console user. The cookie holds the token; the row
// holds its hash.
type Session struct {
	ID         string     `gorm:"primaryKey;size:36"`
	AccountID  string     `gorm:"size:36;not null;index"`
	UserID     string     `gorm:"size:36;not null;index"`
	TokenHash  string     `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt  time.Time  ``
	ExpiresAt  time.Time  `gorm:"not null"`
	RevokedAt  *time.Time ``
	LastSeenAt time.Time  ``
}

// Models are the tables this package owns.
func Models() []any { return []any{&LoginLink{}, &Session{}} }

// Service issues and checks links and sessions.
type Service struct {
	DB  *store.DB
	Now func() time.Time
	// LinkTTL is how long a login link works (default 24h); SessionTTL how
	// long a session lasts without use (default 12h).
	LinkTTL, SessionTTL time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) linkTTL() time.Duration {
	if s.LinkTTL > 0 {
		return s.LinkTTL
	}
	return 24 * time.Hour
}

func (s *Service) sessionTTL() time.Duration {
	if s.SessionTTL > 0 {
		return s.SessionTTL
	}
	return 12 * time.Hour
}

// Refusals of login links.
var (
	ErrLinkInvalid = problem.New(problem.NotFound, "login_link_invalid", "this sign-in link is not valid; ask an admin for a new one")
	ErrLinkUsed    = problem.New(problem.Conflict, "login_link_used", "this sign-in link was already used; each link signs in once. Ask an admin for a new one")
	ErrLinkExpired = problem.New(problem.Gone, "login_link_expired", "this sign-in link has expired; ask an admin for a new one")
	ErrNotConsole  = problem.New(problem.Forbidden, "not_console_user", "this person is not a console user; an admin must add them first")
)

// IssueLoginLink makes a one-time link token for a console user.
func (s *Service) IssueLoginLink(ctx context.Context, accountID, userID string, who audit.Actor) (string, error) {
	u, err := user.Get(ctx, s.DB, accountID, userID)
	if err != nil {
		return "", err
	}
	if u.ConsoleRole == "" {
		return "", ErrNotConsole
	}
	plain, hash := token.New()
	now := s.now()
	l := &LoginLink{ID: id.New(), AccountID: accountID, UserID: userID, TokenHash: hash, CreatedBy: who.ID, CreatedAt: now, ExpiresAt: now.Add(s.linkTTL())}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(l).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "login_link.issued", "user", userID, nil)
	})
	return plain, err
}

// CheckLoginLink tells whether a link would sign in, without using it.
func (s *Service) CheckLoginLink(ctx context.Context, tok string) (*LoginLink, error) {
	if !token.WellFormed(tok) {
		return nil, ErrLinkInvalid
	}
	var l LoginLink
	err := s.DB.R.WithContext(ctx).Where("token_hash = ?", token.Hash(tok)).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	switch {
	case l.UsedAt != nil:
		return nil, ErrLinkUsed
	case !s.now().Before(l.ExpiresAt):
		return nil, ErrLinkExpired
	}
	return &l, nil
}

// SignIn consumes a login link and opens a session; it returns the session
// token for the cookie.
func (s *Service) SignIn(ctx context.Context, tok string) (string, *Session, error) {
	l, err := s.CheckLoginLink(ctx, tok)
	if err != nil {
		return "", nil, err
	}
	plain, hash := token.New()
	now := s.now()
	sess := &Session{ID: id.New(), AccountID: l.AccountID, UserID: l.UserID, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(s.sessionTTL()), LastSeenAt: now}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		// One statement decides: two clicks on one link open one session.
		r := tx.Model(&LoginLink{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", l.ID, now).Update("used_at", now)
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 0 {
			return ErrLinkUsed
		}
		if err := tx.Create(sess).Error; err != nil {
			return err
		}
		return audit.Record(tx, l.AccountID, audit.Actor{Kind: audit.ActorUser, ID: l.UserID}, "session.started", "user", l.UserID, nil)
	})
	if err != nil {
		return "", nil, err
	}
	return plain, sess, nil
}

// Authenticate returns the live session and its user for a cookie token,
// sliding the session's expiry forward at most once a minute.
func (s *Service) Authenticate(ctx context.Context, tok string) (*Session, *user.User, error) {
	if !token.WellFormed(tok) {
		return nil, nil, problem.ErrUnauthorized
	}
	var sess Session
	now := s.now()
	err := s.DB.R.WithContext(ctx).Where("token_hash = ? AND revoked_at IS NULL AND expires_at > ?", token.Hash(tok), now).Take(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, problem.ErrUnauthorized
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := user.Get(ctx, s.DB, sess.AccountID, sess.UserID)
	if err != nil {
		return nil, nil, problem.ErrUnauthorized
	}
	if u.ConsoleRole == "" {
		return nil, nil, ErrNotConsole
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		s.DB.W.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).
			Updates(map[string]any{"last_seen_at": now, "expires_at": now.Add(s.sessionTTL())})
	}
	return &sess, u, nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, sessionID string) error {
	return s.DB.W.WithContext(ctx).Model(&Session{}).Where("id = ? AND revoked_at IS NULL", sessionID).Update("revoked_at", s.now()).Error
}
