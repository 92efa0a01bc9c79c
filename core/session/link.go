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

// LoginLink is a one-time sign-in link for a console user. It follows the
// rules of invite links: random, hashed, single use, expiring, consumed by
// one conditional UPDATE.
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

// Refusals of login links.
var (
	ErrLinkInvalid = problem.New(problem.NotFound, "login_link_invalid", "this sign-in link is not valid; ask an admin for a new one")
	ErrLinkUsed    = problem.New(problem.Conflict, "login_link_used", "this sign-in link was already used; each link signs in once. Ask an admin for a new one")
	ErrLinkExpired = problem.New(problem.Gone, "login_link_expired", "this sign-in link has expired; ask an admin for a new one")
	ErrNotConsole  = problem.New(problem.Forbidden, "not_console_user", "this person is not a console user; an admin must add them first")
)

// IssueLoginLink makes a one-time link token for a console user.
func (s *Service) IssueLoginLink(ctx context.Context, accountID, userID string, who audit.Actor) (string, error) {
	u, err := user.Get(ctx, s.db, accountID, userID)
	if err != nil {
		return "", err
	}
	if u.ConsoleRole == "" {
		return "", ErrNotConsole
	}
	plain, hash := token.New()
	now := s.clock()
	l := &LoginLink{ID: id.New(), AccountID: accountID, UserID: userID, TokenHash: hash, CreatedBy: who.ID, CreatedAt: now, ExpiresAt: now.Add(s.linkTTL)}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
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
	err := s.db.Read(ctx).Where("token_hash = ?", token.Hash(tok)).Take(&l).Error
	if isNotFound(err) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	switch {
	case l.UsedAt != nil:
		return nil, ErrLinkUsed
	case !s.clock().Before(l.ExpiresAt):
		return nil, ErrLinkExpired
	}
	return &l, nil
}

// SignIn consumes a console sign-in link and opens a console session.
func (s *Service) SignIn(ctx context.Context, tok string) (*Opened, error) {
	l, err := s.CheckLoginLink(ctx, tok)
	if err != nil {
		return nil, err
	}
	var out *Opened
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		now := s.clock()
		// One statement decides: two clicks on one link open one session.
		r := tx.Model(&LoginLink{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", l.ID, now).Update("used_at", now)
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 0 {
			return ErrLinkUsed
		}
		if out, err = s.Open(tx, l.AccountID, l.UserID, How{Method: MethodConsoleLink, Scope: ScopeConsole}); err != nil {
			return err
		}
		return audit.Record(tx, l.AccountID, audit.Actor{Kind: audit.ActorUser, ID: l.UserID}, "session.started", "user", l.UserID,
			map[string]any{"method": MethodConsoleLink})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func isNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }
