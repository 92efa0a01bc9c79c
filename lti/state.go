package lti

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/token"
)

// loginState is a login in flight, from the initiation to the launch: the
// state and nonce the tool sent the platform (as hashes), which platform,
// and where the launch may go. It is consumed by the launch, once.
type loginState struct {
	StateHash     string    `gorm:"primaryKey;size:64"`
	PlatformID    string    `gorm:"size:36;not null"`
	NonceHash     string    `gorm:"size:64;not null"`
	TargetLinkURI string    `gorm:"size:2048;not null"`
	CreatedAt     time.Time `gorm:"not null"`
	ExpiresAt     time.Time `gorm:"not null;index"`
}

// TableName names the table.
func (loginState) TableName() string { return "lti_login_states" }

// stateCookiePrefix starts the name of the cookie that binds a login's
// state to the browser that began it; the rest of the name comes from the
// state's hash, so logins in several tabs (or several tools on one LMS
// page) each keep their own.
const stateCookiePrefix = "ig_lti_"

// StateCookie is the name of the cookie holding a state.
func StateCookie(state string) string { return stateCookiePrefix + token.Hash(state)[:16] }

// IsStateCookie reports whether a cookie name is one of StateCookie's.
func IsStateCookie(name string) bool {
	return len(name) == len(stateCookiePrefix)+16 && name[:len(stateCookiePrefix)] == stateCookiePrefix
}

// consumed is what consumeState found.
type consumed int

const (
	stateUnknown consumed = iota
	stateExpired
	stateUsed
	stateFresh
)

// consumeState takes the login a state names, once. The row is read, then
// deleted by a DELETE whose row count decides who won: of two launches
// with the same state (a replay, or two replicas answering the same
// posted form), exactly one deletes the row and goes on; the other is told
// the state was used. An expired row is deleted too, and refused.
func (s *Service) consumeState(ctx context.Context, state string) (*loginState, consumed, error) {
	if !token.WellFormed(state) {
		return nil, stateUnknown, nil
	}
	h := token.Hash(state)
	var row loginState
	err := s.db.W.WithContext(ctx).Where("state_hash = ?", h).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, stateUnknown, nil
	}
	if err != nil {
		return nil, stateUnknown, err
	}
	res := s.db.W.WithContext(ctx).Where("state_hash = ?", h).Delete(&loginState{})
	if res.Error != nil {
		return nil, stateUnknown, res.Error
	}
	if res.RowsAffected != 1 {
		return nil, stateUsed, nil
	}
	if !s.now().Before(row.ExpiresAt) {
		return nil, stateExpired, nil
	}
	return &row, stateFresh, nil
}

// sweepStates deletes logins that were never completed and have expired.
func (s *Service) sweepStates(ctx context.Context) error {
	return s.db.W.WithContext(ctx).Where("expires_at <= ?", s.now()).Delete(&loginState{}).Error
}
