package lti

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
)

// LTI Dynamic Registration 1.0 (1EdTech): the LMS opens the tool's
// registration URL with its openid-configuration URL and a registration
// token of its own; the tool reads the platform's configuration, an LMS
// admin confirms, the tool posts its own configuration to the platform's
// registration endpoint and stores the answer as a platform registration
// of the account the URL was made for.

// Claim names of the specification.
const (
	platformConfigClaim = "https://purl.imsglobal.org/spec/lti-platform-configuration"
	toolConfigClaim     = "https://purl.imsglobal.org/spec/lti-tool-configuration"
)

// maxRegistrationBody bounds what the platform's configuration and its
// answer to the registration are read up to; real ones are a few KB.
const maxRegistrationBody = 256 << 10

// RegistrationRequest is what the LMS opens the registration URL with.
type RegistrationRequest struct {
	// Token is the gateway's, from the URL an account admin made.
	Token string
	// ConfigURL is the platform's openid-configuration URL and
	// PlatformToken the registration_token it sent, the bearer of the
	// registration (and of the configuration's fetch).
	ConfigURL, PlatformToken string
}

// RegistrationOffer is what the confirmation page shows: the platform as
// its configuration describes it, and the room adapters to choose from.
type RegistrationOffer struct {
	Issuer, Product, ProductVersion string
	// FrameOrigins may show the registration pages: the platform's.
	FrameOrigins []string
	Adapters     []string
	// ToolName is the name the tool suggests the LMS list it under.
	ToolName string
}

// RegistrationChoice is what the LMS admin confirms.
type RegistrationChoice struct {
	ToolName, Adapter string
}

// Refusals of a dynamic registration; each page says what to fix.
var (
	ErrRegistrationRequest = problem.New(problem.Invalid, "lti_registration_request_invalid",
		"the LMS opened the registration URL without openid_configuration: start the registration from the LMS's dynamic registration (\"register a tool\") with this URL")
	ErrPlatformConfigUnreachable = problem.New(problem.Unavailable, "lti_platform_configuration_unreachable",
		"the LMS's configuration (openid_configuration) could not be fetched")
	ErrPlatformConfigInvalid = problem.New(problem.Invalid, "lti_platform_configuration_invalid",
		"the LMS's configuration (openid_configuration) is not an LTI platform's")
	ErrRegistrationIssuer = problem.New(problem.Invalid, "lti_registration_issuer_mismatch",
		"the LMS's configuration names an issuer on another site than the configuration's own address; the registration is refused, since launches would be believed from that issuer")
	ErrRegistrationRefused = problem.New(problem.Invalid, "lti_registration_refused",
		"the LMS refused the tool's registration")
	ErrRegistrationNoDeployment = problem.New(problem.Invalid, "lti_registration_no_deployment",
		"the LMS registered the tool but named no deployment id")
)

// platformConfig is a platform's openid-configuration (Dynamic
// Registration §3.5.1), the fields the tool uses.
type platformConfig struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	RegistrationEndpoint  string   `json:"registration_endpoint"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	LTI                   *struct {
		ProductFamilyCode string `json:"product_family_code"`
		Version           string `json:"version"`
	} `json:"https://purl.imsglobal.org/spec/lti-platform-configuration"`
}

// OpenRegistration checks the URL's token and reads the platform's
// configuration for the confirmation page. Nothing is stored or sent.
func (s *Service) OpenRegistration(ctx context.Context, r RegistrationRequest) (*RegistrationOffer, error) {
	if _, err := s.registrationTokenOf(ctx, r.Token); err != nil {
		return nil, err
	}
	cfg, err := s.platformConfig(ctx, r)
	if err != nil {
		return nil, err
	}
	return &RegistrationOffer{Issuer: cfg.Issuer, Product: cfg.LTI.ProductFamilyCode, ProductVersion: cfg.LTI.Version,
		FrameOrigins: []string{originOf(cfg.Issuer)}, Adapters: s.adaptersList(), ToolName: DefaultToolName}, nil
}

// DefaultToolName is the name the tool registers under unless the LMS
// admin gives another.
const DefaultToolName = "Invitegate"

// CompleteRegistration registers the tool with the platform and the
// platform with the URL's account: the token is consumed, the platform's
// configuration read again (the page's copy is not believed), the tool's
// configuration posted with the platform's registration token as bearer,
// and the platform's answer stored as a registration (audited as made by
// whoever made the URL). A refusal before the platform is stored gives
// the token back, so the same URL can try again.
func (s *Service) CompleteRegistration(ctx context.Context, r RegistrationRequest, ch RegistrationChoice) (*Platform, error) {
	ch.ToolName = strings.TrimSpace(ch.ToolName)
	if err := s.checkChoice(r, ch); err != nil {
		return nil, err
	}
	row, err := s.claimRegistrationToken(ctx, r.Token)
	if err != nil {
		return nil, err
	}
	p, err := s.register(ctx, r, ch, row)
	if err != nil {
		s.releaseRegistrationToken(ctx, row)
		return nil, err
	}
	if err := s.markRegistrationToken(ctx, row, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Limits of what the LMS opens the registration URL with; real ones are
// far shorter (the gateway's token is 43 characters).
const (
	maxRegistrationToken  = 256
	maxPlatformRegToken   = 8192
	maxRegistrationChoice = resource.MaxAdapter
)

// checkChoice names every field that is too long, then every other wrong
// one: the page marks the first.
func (s *Service) checkChoice(r RegistrationRequest, ch RegistrationChoice) error {
	var fs problem.Fields
	for _, f := range []struct {
		name, v string
		max     int
	}{{"token", r.Token, maxRegistrationToken}, {"openid_configuration", r.ConfigURL, MaxURL},
		{"registration_token", r.PlatformToken, maxPlatformRegToken}, {"tool_name", ch.ToolName, MaxName}, {"adapter", ch.Adapter, maxRegistrationChoice}} {
		if len(f.v) > f.max {
			fs.Add(f.name, fmt.Sprintf("%s is longer than %d characters", f.name, f.max))
		}
	}
	if len(fs) > 0 {
		return fs.Err()
	}
	if ch.ToolName == "" {
		fs.Add("tool_name", "tool_name is required: the name the LMS lists the tool under")
	}
	if a := s.adaptersList(); ch.Adapter == "" || a != nil && !slices.Contains(a, ch.Adapter) {
		fs.Add("adapter", "adapter must be one of the configured room adapters: "+strings.Join(a, ", "))
	}
	return fs.Err()
}

// register posts the tool's configuration and stores the answer.
func (s *Service) register(ctx context.Context, r RegistrationRequest, ch RegistrationChoice, row *registrationToken) (*Platform, error) {
	cfg, err := s.platformConfig(ctx, r)
	if err != nil {
		return nil, err
	}
	ans, err := s.postToolConfig(ctx, cfg, r.PlatformToken, ch.ToolName)
	if err != nil {
		return nil, err
	}
	name := clip(cfg.LTI.ProductFamilyCode+" at "+hostOf(cfg.Issuer), MaxName)
	deps := []string{ans.DeploymentID}
	in := PlatformInput{Name: &name, Issuer: &cfg.Issuer, ClientID: &ans.ClientID, DeploymentIDs: &deps,
		AuthLoginURL: &cfg.AuthorizationEndpoint, TokenURL: &cfg.TokenEndpoint, JWKSURL: &cfg.JWKSURI, Adapter: &ch.Adapter}
	return s.CreatePlatform(ctx, row.AccountID, row.actor(), in)
}

// platformConfig fetches and checks the platform's openid-configuration:
// over https (plain http only on the loopback, and only for a gateway
// that is itself on the loopback, a test's or a developer's), from the
// issuer's own origin, with every field a registration needs.
func (s *Service) platformConfig(ctx context.Context, r RegistrationRequest) (*platformConfig, error) {
	if strings.TrimSpace(r.ConfigURL) == "" {
		return nil, ErrRegistrationRequest
	}
	if msg := s.checkRegistrationURL(r.ConfigURL); msg != "" {
		return nil, withDetail(ErrPlatformConfigInvalid, "openid_configuration", "its address "+msg)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.ConfigURL, nil)
	if err != nil {
		return nil, withDetail(ErrPlatformConfigInvalid, "openid_configuration", "its address is not a URL")
	}
	req.Header.Set("Accept", "application/json")
	if r.PlatformToken != "" {
		req.Header.Set("Authorization", "Bearer "+r.PlatformToken)
	}
	status, body, err := s.registrationCall(req)
	if err != nil {
		s.log.Warn("lti registration: fetching the platform's configuration", "url", r.ConfigURL, "error", err.Error())
		return nil, withDetail(ErrPlatformConfigUnreachable, "openid_configuration", "from "+r.ConfigURL+": "+reason(err))
	}
	if status != http.StatusOK {
		return nil, withDetail(ErrPlatformConfigUnreachable, "openid_configuration", fmt.Sprintf("%s answered HTTP %d", r.ConfigURL, status))
	}
	var cfg platformConfig
	if err := json.Unmarshal(body, &cfg); err != nil {
		return nil, withDetail(ErrPlatformConfigInvalid, "openid_configuration", "it is not JSON")
	}
	if err := s.checkPlatformConfig(r.ConfigURL, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// checkPlatformConfig names what a configuration lacks, all at once.
func (s *Service) checkPlatformConfig(configURL string, cfg *platformConfig) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"issuer", cfg.Issuer}, {"authorization_endpoint", cfg.AuthorizationEndpoint},
		{"token_endpoint", cfg.TokenEndpoint}, {"jwks_uri", cfg.JWKSURI}, {"registration_endpoint", cfg.RegistrationEndpoint}} {
		if f.v == "" {
			missing = append(missing, f.name)
		} else if msg := s.checkRegistrationURL(f.v); msg != "" {
			missing = append(missing, f.name+" ("+msg+")")
		}
	}
	if cfg.LTI == nil || cfg.LTI.ProductFamilyCode == "" {
		missing = append(missing, platformConfigClaim+" with product_family_code")
	}
	if !slices.Contains(cfg.IDTokenAlgs, "RS256") {
		missing = append(missing, "RS256 in id_token_signing_alg_values_supported")
	}
	if len(missing) > 0 {
		return withDetail(ErrPlatformConfigInvalid, "openid_configuration", "it lacks "+strings.Join(missing, ", "))
	}
	if originOf(cfg.Issuer) != originOf(configURL) {
		s.log.Warn("lti registration refused", "code", ErrRegistrationIssuer.Code, "issuer", cfg.Issuer, "openid_configuration", configURL)
		return withDetail(ErrRegistrationIssuer, "openid_configuration", fmt.Sprintf("issuer %s, configuration at %s", cfg.Issuer, originOf(configURL)))
	}
	return nil
}

// checkRegistrationURL says what is wrong with an address of a platform
// that registers itself, or "".
func (s *Service) checkRegistrationURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "must be an absolute https URL"
	}
	switch {
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && loopback(u.Hostname()) && loopback(s.base.Hostname()):
		return ""
	}
	return "must use https"
}

// toolRegistration is the tool's configuration as Dynamic Registration
// §3.6 (OpenID Connect Dynamic Client Registration with the LTI tool
// configuration claim) has it.
type toolRegistration struct {
	ApplicationType  string         `json:"application_type"`
	ResponseTypes    []string       `json:"response_types"`
	GrantTypes       []string       `json:"grant_types"`
	InitiateLoginURI string         `json:"initiate_login_uri"`
	RedirectURIs     []string       `json:"redirect_uris"`
	ClientName       string         `json:"client_name"`
	JWKSURI          string         `json:"jwks_uri"`
	TokenAuthMethod  string         `json:"token_endpoint_auth_method"`
	Scope            string         `json:"scope"`
	LTI              toolConfigPart `json:"https://purl.imsglobal.org/spec/lti-tool-configuration"`
}

type toolConfigPart struct {
	Domain        string        `json:"domain"`
	TargetLinkURI string        `json:"target_link_uri"`
	Claims        []string      `json:"claims"`
	Messages      []toolMessage `json:"messages"`
	DeploymentID  string        `json:"deployment_id,omitempty"`
}

type toolMessage struct {
	Type          string `json:"type"`
	TargetLinkURI string `json:"target_link_uri"`
	Label         string `json:"label,omitempty"`
}

// ToolRegistration is the configuration the tool posts to a platform.
func (s *Service) toolRegistration(name string) toolRegistration {
	u := s.URLs()
	return toolRegistration{
		ApplicationType: "web", ResponseTypes: []string{"id_token"}, GrantTypes: []string{"implicit", "client_credentials"},
		InitiateLoginURI: u.Login, RedirectURIs: []string{u.Launch}, ClientName: name, JWKSURI: u.JWKS,
		TokenAuthMethod: "private_key_jwt", Scope: ScopeNRPS,
		LTI: toolConfigPart{Domain: s.base.Host, TargetLinkURI: u.Launch,
			Claims: []string{"iss", "sub", "name", "given_name", "family_name", "email"},
			Messages: []toolMessage{{Type: MessageResourceLink, TargetLinkURI: u.Launch},
				{Type: MessageDeepLinking, TargetLinkURI: u.Launch, Label: "Add a room"}}},
	}
}

// registered is the platform's answer to the registration.
type registered struct {
	ClientID     string
	DeploymentID string
}

// postToolConfig posts the tool's configuration to the platform's
// registration endpoint and reads the client id and deployment id of its
// answer; a refusal shows the platform's own words.
func (s *Service) postToolConfig(ctx context.Context, cfg *platformConfig, bearer, name string) (*registered, error) {
	body, err := json.Marshal(s.toolRegistration(name))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.RegistrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, withDetail(ErrPlatformConfigInvalid, "registration_endpoint", "registration_endpoint is not a URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	status, ans, err := s.registrationCall(req)
	if err != nil {
		s.log.Warn("lti registration: posting to the platform", "url", cfg.RegistrationEndpoint, "error", err.Error())
		return nil, withDetail(ErrRegistrationRefused, "registration_endpoint", "its registration endpoint could not be reached: "+reason(err))
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return nil, withDetail(ErrRegistrationRefused, "registration_endpoint", fmt.Sprintf("HTTP %d: %s", status, platformWords(ans)))
	}
	var out struct {
		ClientID string `json:"client_id"`
		LTI      *struct {
			DeploymentID string `json:"deployment_id"`
		} `json:"https://purl.imsglobal.org/spec/lti-tool-configuration"`
	}
	if err := json.Unmarshal(ans, &out); err != nil || strings.TrimSpace(out.ClientID) == "" {
		return nil, withDetail(ErrRegistrationRefused, "registration_endpoint", "its answer has no client_id")
	}
	if out.LTI == nil || strings.TrimSpace(out.LTI.DeploymentID) == "" {
		return nil, withDetail(ErrRegistrationNoDeployment, "deployment_id", fmt.Sprintf(
			"client id %s: deploy the tool in the LMS, then add the platform on the console's LTI page with this client id and the deployment id the LMS shows", out.ClientID))
	}
	return &registered{ClientID: out.ClientID, DeploymentID: out.LTI.DeploymentID}, nil
}

// registrationCall makes one request to the platform, without following
// redirects (an answer is the platform's own, from the address its
// configuration names), and reads the body up to maxRegistrationBody.
func (s *Service) registrationCall(req *http.Request) (int, []byte, error) {
	c := *s.opts.HTTP
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistrationBody+1))
	if err != nil {
		return 0, nil, err
	}
	if len(body) > maxRegistrationBody {
		return 0, nil, errors.New("the answer is over 256 KB")
	}
	return resp.StatusCode, body, nil
}

// withDetail is a refusal whose message ends with what exactly was wrong,
// which the LMS admin needs to fix their platform.
func withDetail(p *problem.Error, field, detail string) *problem.Error {
	return &problem.Error{Kind: p.Kind, Code: p.Code, Field: field, Message: p.Message + ": " + detail,
		Details: []problem.FieldError{{Field: field, Message: detail}}}
}

// reason is a transport error in words, without Go's wrapping.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		return "no answer in time"
	}
	return err.Error()
}

// platformWords is a platform's refusal as a person may read it: the
// error and error_description of RFC 7591 §3.2.2, or the start of its
// body, printable characters only.
func platformWords(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
		if e.Description != "" {
			msg += ": " + e.Description
		}
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, msg)
	if msg == "" {
		return "(no message)"
	}
	return clip(msg, 300)
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}
