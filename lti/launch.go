package lti

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/token"
)

// LaunchRequest is the form the platform's page posts to /lti/launch,
// with what the browser's cookies say of the login it began.
type LaunchRequest struct {
	IDToken string
	State   string
	// StateCookie is the value of the cookie StateCookie(State), "" when
	// the browser sent none.
	StateCookie string
	// OtherStateCookies: the browser sent state cookies, just not this
	// state's. It keeps the tool's cookies, so a state it does not hold
	// is someone else's.
	OtherStateCookies bool
	// Stored is what the platform's storage frame gave back for the
	// login's state, for a login that kept it there (storage.go); nil on
	// the cookie path.
	Stored *Stored
}

// Launch is a launch that passed every check.
type Launch struct {
	Platform *Platform
	Claims   *Claims
}

// Refusals of a launch, each with a stable code. The messages tell the LMS
// admin what to fix; what exactly was wrong goes to the log.
var (
	ErrStateUnknown = problem.New(problem.Invalid, "lti_state_unknown",
		"this launch does not belong to a login the tool started, or was already used (its state is missing, unknown or spent); start the tool again from the course")
	ErrStateExpired = problem.New(problem.Gone, "lti_state_expired",
		"this launch took too long after its login started; start the tool again from the course")
	ErrStateMismatch = problem.New(problem.Forbidden, "lti_state_mismatch",
		"this launch was started in another browser; start the tool again from the course")
	ErrTokenMalformed = problem.New(problem.Invalid, "lti_token_malformed",
		"the platform's id_token is missing or is not a signed JWT with the LTI claims")
	ErrAlgNotAllowed = problem.New(problem.Forbidden, "lti_alg_not_allowed",
		"the platform signed the launch with an algorithm the tool does not accept: LTI 1.3 launches are signed with RS256")
	ErrKidMissing = problem.New(problem.Invalid, "lti_kid_missing",
		"the launch's signature names no key (kid); the platform must sign with a key from its published key set")
	ErrKeySetUnavailable = problem.New(problem.Unavailable, "lti_keyset_unavailable",
		"the platform's public key set could not be fetched; check the JWKS URL of the platform's registration, or try again shortly")
	ErrKidUnknown = problem.New(problem.Forbidden, "lti_kid_unknown",
		"the launch was signed with a key the platform does not publish at its JWKS URL; check the JWKS URL of the registration")
	ErrSignatureInvalid = problem.New(problem.Forbidden, "lti_signature_invalid",
		"the launch's signature does not verify with the platform's published keys")
	ErrIssuerMismatch = problem.New(problem.Forbidden, "lti_issuer_mismatch",
		"the launch's issuer is not the registered platform's; check the issuer of the registration")
	ErrAudienceMismatch = problem.New(problem.Forbidden, "lti_audience_mismatch",
		"the launch is not addressed to this tool's client id; check the client id of the registration")
	ErrAZPMismatch = problem.New(problem.Forbidden, "lti_azp_mismatch",
		"the launch has several audiences and its authorized party (azp) is not this tool's client id")
	ErrTokenExpired = problem.New(problem.Gone, "lti_token_expired",
		"the launch has expired; start the tool again from the course (if this keeps happening, the LMS server's clock may be wrong)")
	ErrTokenTime = problem.New(problem.Invalid, "lti_token_time",
		"the launch was issued too long ago, or in the future; start the tool again (if this keeps happening, the LMS server's clock may be wrong)")
	ErrNonceMismatch = problem.New(problem.Forbidden, "lti_nonce_mismatch",
		"the launch does not match the login the tool started, or was already used; start the tool again from the course")
	ErrMessageType = problem.New(problem.Invalid, "lti_message_type_unsupported",
		"the tool takes resource link launches (LtiResourceLinkRequest) and deep linking requests (LtiDeepLinkingRequest) only")
	ErrVersion = problem.New(problem.Invalid, "lti_version_unsupported",
		"the launch is not LTI 1.3.0")
	ErrRolesMissing = problem.New(problem.Invalid, "lti_roles_missing",
		"the launch does not say the launcher's roles; the platform must send the roles claim")
	ErrSubjectMissing = problem.New(problem.Invalid, "lti_subject_missing",
		"the launch does not identify the launcher (no sub): anonymous launches are not supported")
	ErrResourceLinkMissing = problem.New(problem.Invalid, "lti_resource_link_missing",
		"the launch names no resource link (resource_link.id)")
)

// launchRun is one launch going through the checks.
type launchRun struct {
	req      LaunchRequest
	state    *loginState
	platform *Platform
	kid      string
	jws      *jose.JSONWebSignature
	claims   *Claims
}

// step is one check of a launch.
type step struct {
	name string
	run  func(s *Service, ctx context.Context, r *launchRun) error
}

// launchSteps are every check of a launch, in the order they run (1EdTech
// Security Framework §5.1.3, LTI Core §5.3): a launch is valid when each
// passes, and the first that fails refuses it. The state comes first, so a
// replay costs no key fetch; the signature before any claim is believed.
var launchSteps = []step{
	{"form", (*Service).checkForm},
	{"state", (*Service).checkState},
	{"header", (*Service).checkHeader},
	{"signature", (*Service).checkSignature},
	{"issuer", (*Service).checkIssuer},
	{"audience", (*Service).checkAudience},
	{"azp", (*Service).checkAZP},
	{"lifetime", (*Service).checkLifetime},
	{"nonce", (*Service).checkNonce},
	{"deployment", (*Service).checkDeployment},
	{"message_type", (*Service).checkMessageType},
	{"version", (*Service).checkVersion},
	{"roles", (*Service).checkRoles},
	{"subject", (*Service).checkSubject},
	{"resource_link", (*Service).checkResourceLink},
	{"deep_linking_settings", (*Service).checkDeepLinking},
	{"target_link_uri", (*Service).checkTargetLink},
}

// refusal is a check's refusal with what exactly was wrong, for the log.
type refusal struct {
	p      *problem.Error
	detail string
}

func (r *refusal) Error() string { return r.p.Code + ": " + r.detail }

func refuse(p *problem.Error, format string, a ...any) error {
	return &refusal{p: p, detail: fmt.Sprintf(format, a...)}
}

// Launch validates a launch: every step of launchSteps, in order. A
// refusal is returned as its problem (what the page shows) and logged
// with its detail.
func (s *Service) Launch(ctx context.Context, req LaunchRequest) (*Launch, error) {
	r := &launchRun{req: req}
	for _, st := range launchSteps {
		err := st.run(s, ctx, r)
		if err == nil {
			continue
		}
		var rf *refusal
		if !errors.As(err, &rf) {
			return nil, err
		}
		platform := ""
		if r.platform != nil {
			platform = r.platform.ID
		}
		s.log.Warn("lti launch refused", "step", st.name, "code", rf.p.Code, "platform", platform, "detail", rf.detail)
		return nil, rf.p
	}
	return &Launch{Platform: r.platform, Claims: r.claims}, nil
}

// maxState bounds the state read; the tool's are 43 characters.
const maxState = 256

// checkForm refuses a form whose fields no launch could have, naming the
// field.
func (s *Service) checkForm(_ context.Context, r *launchRun) error {
	switch {
	case len(r.req.IDToken) > maxIDToken:
		return &refusal{p: &problem.Error{Kind: problem.Invalid, Code: ErrTokenMalformed.Code, Field: "id_token",
			Message: ErrTokenMalformed.Message, Details: []problem.FieldError{{Field: "id_token", Message: "id_token is over 64 KB"}}}, detail: "id_token over 64 KB"}
	case len(r.req.State) > maxState:
		return &refusal{p: &problem.Error{Kind: problem.Invalid, Code: ErrStateUnknown.Code, Field: "state",
			Message: ErrStateUnknown.Message, Details: []problem.FieldError{{Field: "state", Message: "state is too long"}}}, detail: "state too long"}
	}
	return checkStoredForm(r.req.Stored)
}

func (s *Service) checkState(ctx context.Context, r *launchRun) error {
	if r.req.State == "" {
		return refuse(ErrStateUnknown, "the launch has no state")
	}
	row, how, err := s.consumeState(ctx, r.req.State)
	if err != nil {
		return err
	}
	switch how {
	case stateUnknown:
		return refuse(ErrStateUnknown, "no login has this state (never made, or consumed by an earlier launch)")
	case stateExpired:
		return refuse(ErrStateExpired, "the state expired")
	}
	switch {
	case row.StorageTarget != "" || r.req.Stored != nil:
		if err := checkStored(row, r.req.Stored); err != nil {
			return err
		}
	case r.req.StateCookie != "":
		if !token.Equal(token.Hash(r.req.StateCookie), row.StateHash) {
			return refuse(ErrStateMismatch, "the state cookie holds another state")
		}
	case r.req.OtherStateCookies:
		return refuse(ErrStateMismatch, "the browser holds other logins' state cookies but not this one's")
	}
	p, err := s.platformForLaunch(ctx, row.PlatformID)
	if err != nil {
		return err
	}
	if p == nil {
		return refuse(ErrPlatformUnknown, "the registration %s was deleted during the login", row.PlatformID)
	}
	r.state, r.platform = row, p
	return nil
}

// maxIDToken bounds the id_token read; launches are a few KB.
const maxIDToken = 64 << 10

func (s *Service) checkHeader(_ context.Context, r *launchRun) error {
	raw := r.req.IDToken
	if raw == "" || strings.Count(raw, ".") != 2 {
		return refuse(ErrTokenMalformed, "the id_token is absent or not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(raw[:strings.IndexByte(raw, '.')])
	if err != nil {
		return refuse(ErrTokenMalformed, "the JWT header is not base64url")
	}
	var h struct {
		Alg  string   `json:"alg"`
		Kid  string   `json:"kid"`
		Crit []string `json:"crit"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return refuse(ErrTokenMalformed, "the JWT header is not JSON")
	}
	if h.Alg != string(jose.RS256) {
		return refuse(ErrAlgNotAllowed, "alg %q", h.Alg)
	}
	if h.Kid == "" {
		return refuse(ErrKidMissing, "the header has no kid")
	}
	if len(h.Crit) > 0 {
		return refuse(ErrTokenMalformed, "the header has critical extensions %v", h.Crit)
	}
	// A launch's id_token is a compact JWS (OIDC Core §2): parsed as such,
	// never as the JSON serialization, and whitespace in it is malformed.
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return refuse(ErrTokenMalformed, "%v", err)
	}
	r.kid, r.jws = h.Kid, jws
	return nil
}

func (s *Service) checkSignature(ctx context.Context, r *launchRun) error {
	key, err := s.keySets.key(ctx, r.platform, r.kid)
	switch {
	case errors.Is(err, errUnknownKid):
		return refuse(ErrKidUnknown, "kid %q: %v", r.kid, err)
	case err != nil:
		return refuse(ErrKeySetUnavailable, "%s: %v", r.platform.JWKSURL, err)
	}
	payload, err := r.jws.Verify(key)
	if err != nil {
		return refuse(ErrSignatureInvalid, "kid %q: %v", r.kid, err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return refuse(ErrTokenMalformed, "the claims do not decode: %v", err)
	}
	c.Extensions = extensionClaims(payload)
	r.claims = &c
	return nil
}

func (s *Service) checkIssuer(_ context.Context, r *launchRun) error {
	if r.claims.Issuer != r.platform.Issuer {
		return refuse(ErrIssuerMismatch, "iss %q, registered %q", r.claims.Issuer, r.platform.Issuer)
	}
	return nil
}

func (s *Service) checkAudience(_ context.Context, r *launchRun) error {
	if !slices.Contains([]string(r.claims.Audience), r.platform.ClientID) {
		return refuse(ErrAudienceMismatch, "aud %v lacks client id %q", []string(r.claims.Audience), r.platform.ClientID)
	}
	return nil
}

func (s *Service) checkAZP(_ context.Context, r *launchRun) error {
	c := r.claims
	if len(c.Audience) > 1 && c.AZP == "" {
		return refuse(ErrAZPMismatch, "several audiences %v and no azp", []string(c.Audience))
	}
	if c.AZP != "" && c.AZP != r.platform.ClientID {
		return refuse(ErrAZPMismatch, "azp %q, client id %q", c.AZP, r.platform.ClientID)
	}
	return nil
}

func (s *Service) checkLifetime(_ context.Context, r *launchRun) error {
	now, skew := s.now(), s.opts.Skew
	c := r.claims
	if c.Expiry == nil {
		return refuse(ErrTokenExpired, "no exp")
	}
	if exp := c.Expiry.Time(); !now.Before(exp.Add(skew)) {
		return refuse(ErrTokenExpired, "exp %s, now %s", exp.UTC().Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if c.IssuedAt == nil {
		return refuse(ErrTokenTime, "no iat")
	}
	iat := c.IssuedAt.Time()
	if iat.After(now.Add(skew)) || now.Sub(iat) > s.opts.MaxAge {
		return refuse(ErrTokenTime, "iat %s, now %s", iat.UTC().Format(time.RFC3339), now.Format(time.RFC3339))
	}
	return nil
}

// checkNonce holds the nonce to the one stored with the state. The state
// row was deleted by this launch alone, so the nonce is used once, on every
// replica: a replayed id_token, even with a fresh state, carries the nonce
// of a login that is gone.
func (s *Service) checkNonce(_ context.Context, r *launchRun) error {
	if r.claims.Nonce == "" || !token.Equal(token.Hash(r.claims.Nonce), r.state.NonceHash) {
		return refuse(ErrNonceMismatch, "the nonce is not the login's")
	}
	return nil
}

func (s *Service) checkDeployment(_ context.Context, r *launchRun) error {
	if !r.platform.HasDeployment(r.claims.DeploymentID) {
		return refuse(ErrDeploymentUnknown, "deployment_id %q", r.claims.DeploymentID)
	}
	return nil
}

func (s *Service) checkMessageType(_ context.Context, r *launchRun) error {
	switch r.claims.MessageType {
	case MessageResourceLink, MessageDeepLinking:
		return nil
	}
	return refuse(ErrMessageType, "message_type %q", r.claims.MessageType)
}

func (s *Service) checkVersion(_ context.Context, r *launchRun) error {
	if r.claims.Version != Version {
		return refuse(ErrVersion, "version %q", r.claims.Version)
	}
	return nil
}

func (s *Service) checkRoles(_ context.Context, r *launchRun) error {
	if r.claims.Roles == nil {
		return refuse(ErrRolesMissing, "no roles claim")
	}
	return nil
}

func (s *Service) checkSubject(_ context.Context, r *launchRun) error {
	if strings.TrimSpace(r.claims.Subject) == "" {
		return refuse(ErrSubjectMissing, "no sub")
	}
	return nil
}

// checkResourceLink holds a resource link launch to its link; a deep
// linking request is about no link yet.
func (s *Service) checkResourceLink(_ context.Context, r *launchRun) error {
	if r.claims.MessageType == MessageDeepLinking {
		return nil
	}
	if r.claims.ResourceLink == nil || strings.TrimSpace(r.claims.ResourceLink.ID) == "" {
		return refuse(ErrResourceLinkMissing, "no resource_link.id")
	}
	return nil
}

func (s *Service) checkTargetLink(_ context.Context, r *launchRun) error {
	if !s.onGateway(r.claims.TargetLinkURI) {
		return refuse(ErrLoginTarget, "target_link_uri %q", r.claims.TargetLinkURI)
	}
	return nil
}
