package lti

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
)

// loginState is a login in flight, from the initiation to the launch: the
// state and nonce the tool sent the platform (as hashes), which platform,
// and where the launch may go. It is consumed by the launch, once.
type loginState struct {
	StateHash     string `gorm:"primaryKey;size:64"`
	PlatformID    string `gorm:"size:36;not null"`
	NonceHash     string `gorm:"size:64;not null"`
	TargetLinkURI string `gorm:"size:2048;not null"`
	// StorageTarget is the platform's storage frame (lti_storage_target)
	// when the login keeps its state there instead of in a cookie; "" for
	// the cookie.
	StorageTarget string    `gorm:"size:2048;not null;default:''"`
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
	stateFresh
)

// sqlTakeState is consumeState's statement, prepared once.
const sqlTakeState = "DELETE FROM lti_login_states WHERE state_hash = $1 RETURNING state_hash, platform_id, nonce_hash, target_link_uri, storage_target, created_at, expires_at"

// consumeState takes the login a state names, once: one DELETE ...
// RETURNING (SQLite and PostgreSQL alike) removes the row and gives what
// it held. Of two launches with the same state (a replay racing the real
// one, or two replicas answering the same posted form), the second waits
// for the first on the row and then finds nothing, so exactly one goes on.
// An expired row is deleted too, and refused. The DELETE goes through the
// store's grouped write, so on SQLite concurrent launches share a commit
// (and a turn on the single writer) instead of queueing for one each.
func (s *Service) consumeState(ctx context.Context, state string) (*loginState, consumed, error) {
	if !token.WellFormed(state) {
		return nil, stateUnknown, nil
	}
	var st loginState
	found := false
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		err := tx.Stmt(s.takeState).QueryRowContext(tx.Context(), token.Hash(state)).Scan(&st.StateHash, &st.PlatformID,
			&st.NonceHash, &st.TargetLinkURI, &st.StorageTarget, &st.CreatedAt, &st.ExpiresAt)
		found = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, stateUnknown, err
	}
	if !found {
		return nil, stateUnknown, nil
	}
	if !s.now().Before(st.ExpiresAt) {
		return nil, stateExpired, nil
	}
	return &st, stateFresh, nil
}

// sweepStates deletes logins that were never completed and have expired.
func (s *Service) sweepStates(ctx context.Context) error {
	return s.db.W.WithContext(ctx).Where("expires_at <= ?", s.now()).Delete(&loginState{}).Error
}
