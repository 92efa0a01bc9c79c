package lti

import (
	"context"
	"errors"
	"net/url"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/token"
)

// The LTI client-side postMessage storage (1EdTech LTI Client Side
// postMessage Storage 0.1, and LTI Platform Storage): inside the LMS's
// iframe, a browser that blocks third-party cookies drops the state cookie
// that binds a login to the browser that began it. A platform that offers
// its storage sends lti_storage_target with the login initiation; the
// login page then puts the state and nonce in the platform's storage frame
// (lti.put_data) before it goes to the authorization endpoint, and the
// launch page gets them back (lti.get_data) and posts them with the
// id_token. The stored login row stays the authority (consumed once, its
// nonce checked against the token's): the storage replaces only the
// cookie's proof that the same browser is back.

// StoragePut is what the login page puts in the platform's storage.
type StoragePut struct {
	// Target is the storage frame's name (lti_storage_target; "_parent"
	// is the frame's parent itself); Origin is the platform's, from its
	// authorization URL, which messages are sent to and accepted from.
	Target, Origin string
	State, Nonce   string
	// Window is the same login started again without the storage, for a
	// new window of its own when the storage does not answer.
	Window string
}

// StorageKeys are the keys a login's state and nonce are stored under:
// distinct per login, so several tools or tabs on one LMS page each keep
// their own.
func StorageKeys(state string) (stateKey, nonceKey string) {
	return "state_" + state, "nonce_" + state
}

// Stored is what the platform's storage gave back for a login.
type Stored struct {
	State, Nonce string
}

// StorageGet is what the launch page needs to get a login back from the
// platform's storage.
type StorageGet struct {
	Target, Origin string
	// FrameOrigins may frame the launch page: the platform's.
	FrameOrigins []string
}

// LoginStorage says whether the login of a state keeps it in the platform's
// storage, and where; nil for a cookie login or an unknown state (which
// the launch then refuses). Only launches that came without the state's
// cookie ask, so the cookie path costs nothing more.
func (s *Service) LoginStorage(ctx context.Context, state string) (*StorageGet, error) {
	if !token.WellFormed(state) {
		return nil, nil
	}
	var row loginState
	err := s.db.Read(ctx).Select("platform_id", "storage_target").
		Where("state_hash = ? AND expires_at > ?", token.Hash(state), s.now()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && row.StorageTarget == "" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := s.platformByID(ctx, row.PlatformID)
	if err != nil || p == nil {
		return nil, err
	}
	u, err := url.Parse(p.AuthLoginURL)
	if err != nil {
		return nil, err
	}
	return &StorageGet{Target: row.StorageTarget, Origin: u.Scheme + "://" + u.Host, FrameOrigins: p.Origins()}, nil
}

// checkStored holds a storage login to what the platform's storage gave
// back: the login's own state and nonce, proof that the browser posting
// the launch is the one whose frame began the login. A storage login
// posted without them (the form sent straight to /lti/launch, or the
// storage did not answer), or a cookie login posted with them, is refused.
func checkStored(row *loginState, got *Stored) error {
	switch {
	case row.StorageTarget == "":
		return refuse(ErrStateMismatch, "a cookie login posted with stored values")
	case got == nil || got.State == "" || got.Nonce == "":
		return refuse(ErrStateMismatch, "a storage login posted without the stored state and nonce")
	case !token.Equal(token.Hash(got.State), row.StateHash):
		return refuse(ErrStateMismatch, "the platform's storage holds another state")
	case !token.Equal(token.Hash(got.Nonce), row.NonceHash):
		return refuse(ErrStateMismatch, "the platform's storage holds another nonce")
	}
	return nil
}

// checkStoredForm refuses stored values no login could have, naming the
// field (the tool's states and nonces are 43 characters).
func checkStoredForm(st *Stored) error {
	if st == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"stored_state", st.State}, {"stored_nonce", st.Nonce}} {
		if len(f.v) > maxState {
			return &refusal{p: &problem.Error{Kind: problem.Invalid, Code: ErrStateMismatch.Code, Field: f.name, Message: ErrStateMismatch.Message,
				Details: []problem.FieldError{{Field: f.name, Message: f.name + " is too long"}}}, detail: f.name + " too long"}
		}
	}
	return nil
}

// windowLogin is the login again, without the storage target, for a
// window of its own: a first-party page, where the state cookie holds.
func (r *LoginRequest) windowLogin(loginURL string) string {
	q := url.Values{"iss": {r.Issuer}, "login_hint": {r.LoginHint}, "target_link_uri": {r.TargetLinkURI}}
	for k, v := range map[string]string{"lti_message_hint": r.LTIMessageHint, "client_id": r.ClientID, "lti_deployment_id": r.DeploymentID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return loginURL + "?" + q.Encode()
}
