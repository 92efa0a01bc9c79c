package lti

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
)

// registrationToken lets one LMS register the tool with one account by
// LTI Dynamic Registration: an account admin makes it, pastes the URL that
// carries it into the LMS, and the registration it opens consumes it. Only
// its hash is stored; it is short-lived and used once, so a URL left in a
// ticket or an email cannot register another platform later.
type registrationToken struct {
	ID        string `gorm:"primaryKey;size:36"`
	AccountID string `gorm:"size:36;not null;index"`
	TokenHash string `gorm:"size:64;not null;uniqueIndex"`
	// CreatedByKind and CreatedByID are who made it; the platform it
	// registers is recorded as theirs.
	CreatedByKind string    `gorm:"size:20;not null"`
	CreatedByID   string    `gorm:"size:64;not null"`
	CreatedAt     time.Time `gorm:"not null"`
	ExpiresAt     time.Time `gorm:"not null"`
	UsedAt        *time.Time
	// PlatformID is the registration it made.
	PlatformID string `gorm:"size:36;not null;default:''"`
}

// TableName names the table.
func (registrationToken) TableName() string { return "lti_registration_tokens" }

// RegistrationURL is a dynamic registration URL, shown once.
type RegistrationURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Refusals of a registration URL.
var (
	ErrRegistrationTokenInvalid = problem.New(problem.NotFound, "lti_registration_token_invalid",
		"this registration URL is not one the tool made: ask an admin of the gateway's account for a new one (console → LTI → Dynamic registration URL)")
	ErrRegistrationTokenExpired = problem.New(problem.Gone, "lti_registration_token_expired",
		"this registration URL has expired: ask an admin of the gateway's account for a new one (console → LTI → Dynamic registration URL)")
	ErrRegistrationTokenUsed = problem.New(problem.Gone, "lti_registration_token_used",
		"this registration URL was used already (each registers one platform): ask an admin of the gateway's account for a new one")
)

// NewRegistrationURL makes a registration URL for the account.
func (s *Service) NewRegistrationURL(ctx context.Context, accountID string, who audit.Actor) (*RegistrationURL, error) {
	plain, hash := token.New()
	now := s.now()
	row := &registrationToken{ID: id.New(), AccountID: accountID, TokenHash: hash, CreatedByKind: who.Kind, CreatedByID: who.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.registrationTTL())}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "lti_registration_url.created", "lti_registration_url", row.ID, map[string]any{"expires_at": row.ExpiresAt})
	})
	if err != nil {
		return nil, err
	}
	return &RegistrationURL{URL: s.baseURL + "/lti/register?token=" + plain, ExpiresAt: row.ExpiresAt}, nil
}

// registrationTTL is how long a registration URL works.
func (s *Service) registrationTTL() time.Duration {
	if s.opts.RegistrationTTL > 0 {
		return s.opts.RegistrationTTL
	}
	return time.Hour
}

// registrationTokenOf is the unused, unexpired token of a URL, or why not.
func (s *Service) registrationTokenOf(ctx context.Context, plain string) (*registrationToken, error) {
	if !token.WellFormed(plain) {
		return nil, ErrRegistrationTokenInvalid
	}
	var row registrationToken
	err := s.db.Read(ctx).Where("token_hash = ?", token.Hash(plain)).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, ErrRegistrationTokenInvalid
	case err != nil:
		return nil, err
	case row.UsedAt != nil:
		return nil, ErrRegistrationTokenUsed
	case !s.now().Before(row.ExpiresAt):
		return nil, ErrRegistrationTokenExpired
	}
	return &row, nil
}

// claimRegistrationToken takes the token for one registration: one
// conditional UPDATE whose row count decides, so of two confirmations
// (a double click, two replicas) exactly one goes on to the platform.
func (s *Service) claimRegistrationToken(ctx context.Context, plain string) (*registrationToken, error) {
	row, err := s.registrationTokenOf(ctx, plain)
	if err != nil {
		return nil, err
	}
	now := s.now()
	res := s.db.W.WithContext(ctx).Model(&registrationToken{}).
		Where("id = ? AND used_at IS NULL AND expires_at > ?", row.ID, now).Update("used_at", now)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected != 1 {
		return nil, ErrRegistrationTokenUsed
	}
	row.UsedAt = &now
	return row, nil
}

// releaseRegistrationToken gives a claimed token back when its
// registration failed before a platform was stored (the platform refused
// it, or could not be reached), so the LMS admin can try again.
func (s *Service) releaseRegistrationToken(ctx context.Context, row *registrationToken) {
	err := s.db.W.WithContext(ctx).Model(&registrationToken{}).
		Where("id = ? AND platform_id = ''", row.ID).Update("used_at", nil).Error
	if err != nil {
		s.log.Warn("lti: releasing a registration URL", "error", err.Error())
	}
}

// markRegistrationToken records the platform the token registered.
func (s *Service) markRegistrationToken(ctx context.Context, row *registrationToken, p *Platform) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Model(&registrationToken{}).Where("id = ?", row.ID).Update("platform_id", p.ID).Error; err != nil {
			return err
		}
		return audit.Record(tx, row.AccountID, row.actor(), "lti_registration_url.used", "lti_registration_url", row.ID,
			map[string]any{"platform_id": p.ID, "issuer": p.Issuer, "client_id": p.ClientID})
	})
}

func (r *registrationToken) actor() audit.Actor {
	return audit.Actor{Kind: r.CreatedByKind, ID: r.CreatedByID}
}
