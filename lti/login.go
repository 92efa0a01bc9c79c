package lti

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/token"
)

// LoginRequest is a third-party-initiated login, as the platform sends it
// to /lti/login (query or form).
type LoginRequest struct {
	Issuer         string
	LoginHint      string
	TargetLinkURI  string
	LTIMessageHint string
	ClientID       string
	DeploymentID   string
	// StorageTarget is lti_storage_target: the platform offers its
	// postMessage storage (storage.go), which then binds the login to the
	// browser instead of the state cookie.
	StorageTarget string
}

// Login is the answer to a login initiation: the browser goes to Redirect
// (the platform's authorization endpoint) with State also set in the
// cookie StateCookie(State).
type Login struct {
	Redirect string
	State    string
	Platform *Platform
	// Storage is set when the login keeps its state and nonce in the
	// platform's storage frame: the page puts them there, then goes to
	// Redirect.
	Storage *StoragePut
}

// Refusals of a login initiation.
var (
	ErrLoginInvalid = problem.New(problem.Invalid, "lti_login_invalid",
		"the platform's login request is incomplete: it must send iss, login_hint and target_link_uri; check the tool's registration in the LMS")
	ErrLoginTarget = problem.New(problem.Invalid, "lti_target_link_invalid",
		"the platform asked to open an address that is not this tool's: set the tool's launch URL (target link URI) in the LMS to this gateway's /lti/launch")
	ErrPlatformUnknown = problem.New(problem.NotFound, "lti_platform_unknown",
		"this LMS is not registered with the tool: an admin registers its issuer and client id in the console (LTI platforms)")
	ErrClientIDNeeded = problem.New(problem.Invalid, "lti_client_id_required",
		"several registrations share this LMS's issuer, and its login request named no client_id: ask the LMS admin to send the client id")
	ErrDeploymentUnknown = problem.New(problem.Forbidden, "lti_deployment_unknown",
		"this deployment of the tool is not registered: an admin adds its deployment id to the platform's registration in the console")
)

// maxLoginParam bounds each parameter of a login request; every one a
// platform sends is far shorter.
const maxLoginParam = 2048

// check names every parameter that is too long, then every one missing:
// the page marks the first.
func (r *LoginRequest) check() error {
	var fs problem.Fields
	params := []struct {
		name, v  string
		required bool
	}{{"iss", r.Issuer, true}, {"login_hint", r.LoginHint, true}, {"target_link_uri", r.TargetLinkURI, true},
		{"lti_message_hint", r.LTIMessageHint, false}, {"client_id", r.ClientID, false}, {"lti_deployment_id", r.DeploymentID, false},
		{"lti_storage_target", r.StorageTarget, false}}
	for _, f := range params {
		if len(f.v) > maxLoginParam {
			fs.Add(f.name, fmt.Sprintf("%s is longer than %d characters", f.name, maxLoginParam))
		}
	}
	for _, f := range params {
		if f.required && f.v == "" {
			fs.Add(f.name, f.name+" is required")
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &problem.Error{Kind: problem.Invalid, Code: ErrLoginInvalid.Code, Field: fs[0].Field,
		Message: ErrLoginInvalid.Message + " (" + fs[0].Message + ")", Details: fs}
}

// Login starts a launch: it finds the registration, stores a new state and
// nonce, and says where to send the browser.
func (s *Service) Login(ctx context.Context, r LoginRequest) (*Login, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if !s.onGateway(r.TargetLinkURI) {
		s.log.Warn("lti login refused", "code", ErrLoginTarget.Code, "issuer", r.Issuer, "target_link_uri", r.TargetLinkURI)
		return nil, ErrLoginTarget
	}
	ps, err := s.platformsOf(ctx, r.Issuer, r.ClientID)
	if err != nil {
		return nil, err
	}
	switch {
	case len(ps) == 0:
		s.log.Warn("lti login refused", "code", ErrPlatformUnknown.Code, "issuer", r.Issuer, "client_id", r.ClientID)
		return nil, ErrPlatformUnknown
	case len(ps) > 1:
		return nil, ErrClientIDNeeded
	}
	p := &ps[0]
	if r.DeploymentID != "" && !p.HasDeployment(r.DeploymentID) {
		s.log.Warn("lti login refused", "code", ErrDeploymentUnknown.Code, "platform", p.ID, "deployment_id", r.DeploymentID)
		return nil, ErrDeploymentUnknown
	}
	state, stateHash := token.New()
	nonce, nonceHash := token.New()
	now := s.now()
	row := &loginState{StateHash: stateHash, PlatformID: p.ID, NonceHash: nonceHash, TargetLinkURI: r.TargetLinkURI,
		StorageTarget: r.StorageTarget, CreatedAt: now, ExpiresAt: now.Add(s.opts.StateTTL)}
	if err := s.db.W.WithContext(ctx).Create(row).Error; err != nil {
		return nil, err
	}
	s.maybeSweep(ctx)
	auth, err := url.Parse(p.AuthLoginURL)
	if err != nil {
		return nil, fmt.Errorf("lti: platform %s has an unreadable auth login URL: %w", p.ID, err)
	}
	q := auth.Query()
	for k, v := range map[string]string{
		"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
		"client_id": p.ClientID, "redirect_uri": s.URLs().Launch, "login_hint": r.LoginHint,
		"state": state, "nonce": nonce,
	} {
		q.Set(k, v)
	}
	if r.LTIMessageHint != "" {
		q.Set("lti_message_hint", r.LTIMessageHint)
	}
	auth.RawQuery = q.Encode()
	lg := &Login{Redirect: auth.String(), State: state, Platform: p}
	if r.StorageTarget != "" {
		lg.Storage = &StoragePut{Target: r.StorageTarget, Origin: auth.Scheme + "://" + auth.Host, State: state, Nonce: nonce,
			Window: r.windowLogin(s.URLs().Login)}
	}
	return lg, nil
}

// maybeSweep deletes expired states about once a minute per replica.
func (s *Service) maybeSweep(ctx context.Context) {
	now := s.now()
	s.sweepMu.Lock()
	due := now.Sub(s.sweptAt) >= time.Minute
	if due {
		s.sweptAt = now
	}
	s.sweepMu.Unlock()
	if due {
		if err := s.sweepStates(ctx); err != nil {
			s.log.Warn("lti: deleting expired login states", "error", err.Error())
		}
	}
}

// secure reports whether the gateway is served over https, where its
// cookies can be SameSite=None (needed inside the LMS's iframe).
func (s *Service) Secure() bool { return strings.EqualFold(s.base.Scheme, "https") }
