package lti

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/problem"
)

// The Names and Role Provisioning Services 2.0 client: the tool reads a
// course's members from the platform, with an access token it obtains by
// the OAuth 2 client credentials grant, authenticating with a JWT it signs
// with its own key (1EdTech Security Framework §4.1). The invite dialog of
// the room page uses it for its autocomplete (roster.go).

// ScopeNRPS is the scope of the access token that reads memberships.
const ScopeNRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

// nrpsMediaType is the membership container's media type (NRPS 2.0 §2.2).
const nrpsMediaType = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

// Security limits of what a platform answers. A course's page of members
// is well under a megabyte; the bounds keep a broken or hostile platform
// from filling the gateway's memory or holding a request forever.
const (
	maxTokenAnswer = 64 << 10 // a token response
	maxNRPSPage    = 4 << 20  // one page of members
	maxNRPSPages   = 50       // pages followed by Link rel="next"
	maxMembers     = 20000    // members kept of one context
)

// NRPSClaim is the launch's namesroleservice claim: where its context's
// members are read.
type NRPSClaim struct {
	ContextMembershipsURL string   `json:"context_memberships_url"`
	ServiceVersions       []string `json:"service_versions"`
}

// usable reports a claim the tool can use: version 2.0 offered (the only
// one there is) at an endpoint the tool may call.
func (c *NRPSClaim) usable() bool {
	return c != nil && slices.Contains(c.ServiceVersions, "2.0") && len(c.ContextMembershipsURL) <= MaxURL &&
		checkURL(c.ContextMembershipsURL) == ""
}

// Member is a person in a context, as NRPS 2.0 §2.2 describes them.
type Member struct {
	UserID     string   `json:"user_id"`
	Status     string   `json:"status,omitempty"`
	Name       string   `json:"name,omitempty"`
	GivenName  string   `json:"given_name,omitempty"`
	FamilyName string   `json:"family_name,omitempty"`
	Email      string   `json:"email,omitempty"`
	Roles      []string `json:"roles"`
}

// Active reports a member who is in the course now: the status is Active,
// or absent (which NRPS says means Active).
func (m *Member) Active() bool { return m.Status == "" || strings.EqualFold(m.Status, "Active") }

// MembersQuery narrows a membership read.
type MembersQuery struct {
	// RLID reads the members of one resource link of the context (those
	// who may see it) instead of the whole context.
	RLID string
	// Role reads the members with this role only.
	Role string
}

// Why the members could not be read. The message tells the LMS admin what
// to fix; the detail (the platform's answer) is the cause, for the log.
var (
	ErrNRPSToken = problem.New(problem.Unavailable, "lti_nrps_token_refused",
		"the LMS refused the tool an access token for the course roster: in the LMS, let the tool use the Names and Role Provisioning Service (the contextmembership.readonly scope), and check that its registration's client id, token URL and the tool's keyset URL are right")
	ErrNRPSUnavailable = problem.New(problem.Unavailable, "lti_nrps_unavailable",
		"the course roster could not be read from the LMS now; try again shortly")
)

// accessToken is a token of the platform's, and when to stop using it.
type accessToken struct {
	mu      sync.Mutex
	value   string
	expires time.Time
}

// accessTokens are the access tokens the tool holds, per registration,
// token URL and scope, until shortly before they expire. One entry's mutex
// makes concurrent readers wait for one token request instead of each
// making their own.
type accessTokens struct {
	mu     sync.Mutex
	tokens map[string]*accessToken
}

func (a *accessTokens) entry(key string) *accessToken {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tokens[key]
	if !ok {
		t = &accessToken{}
		a.tokens[key] = t
	}
	return t
}

// tokenMargin is how long before its expiry a token is no longer used, so
// it does not expire on the way to the platform.
const tokenMargin = 30 * time.Second

// AccessToken is an access token of the platform for scope, the one
// held while it lasts, else a new one.
func (s *Service) AccessToken(ctx context.Context, p *Platform, scope string) (string, error) {
	t := s.tokens.entry(p.ID + "\x00" + p.TokenURL + "\x00" + scope)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != "" && s.now().Before(t.expires) {
		return t.value, nil
	}
	value, expires, err := s.requestToken(ctx, p, scope)
	if err != nil {
		return "", err
	}
	t.value, t.expires = value, expires
	return value, nil
}

// dropToken forgets a token the platform no longer takes.
func (s *Service) dropToken(p *Platform, scope, value string) {
	t := s.tokens.entry(p.ID + "\x00" + p.TokenURL + "\x00" + scope)
	t.mu.Lock()
	if t.value == value {
		t.value = ""
	}
	t.mu.Unlock()
}

// requestToken asks the platform's token endpoint for a token (RFC 6749
// §4.4 with the RFC 7523 client assertion).
func (s *Service) requestToken(ctx context.Context, p *Platform, scope string) (string, time.Time, error) {
	assertion, err := s.clientAssertion(ctx, p)
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, ErrNRPSToken.Because(fmt.Errorf("token URL %q: %w", p.TokenURL, err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	asked := s.now()
	resp, err := s.opts.HTTP.Do(req)
	if err != nil {
		return "", time.Time{}, ErrNRPSUnavailable.Because(fmt.Errorf("token request to %s: %w", p.TokenURL, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer+1))
	if err != nil || len(body) > maxTokenAnswer {
		return "", time.Time{}, ErrNRPSUnavailable.Because(fmt.Errorf("token response of %s unreadable or over 64 KB", p.TokenURL))
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	decodeErr := json.Unmarshal(body, &out)
	switch {
	case resp.StatusCode >= 500:
		return "", time.Time{}, ErrNRPSUnavailable.Because(fmt.Errorf("token endpoint %s answered %d", p.TokenURL, resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return "", time.Time{}, ErrNRPSToken.Because(fmt.Errorf("token endpoint %s answered %d: %s %s", p.TokenURL, resp.StatusCode, out.Error, clip(out.Description, 300)))
	case decodeErr != nil || out.AccessToken == "" || !strings.EqualFold(out.TokenType, "bearer"):
		return "", time.Time{}, ErrNRPSToken.Because(fmt.Errorf("token endpoint %s answered no bearer token", p.TokenURL))
	}
	life := time.Duration(out.ExpiresIn) * time.Second
	if out.ExpiresIn <= 0 || life > 24*time.Hour {
		// No lifetime said: used for one reading, asked again next time.
		life = 0
	}
	return out.AccessToken, asked.Add(life - tokenMargin), nil
}

// clientAssertion is the JWT that authenticates the tool at the token
// endpoint: issued by and about its client id, for the token endpoint (or
// the audience the platform registered for it), used once (jti), short
// lived.
func (s *Service) clientAssertion(ctx context.Context, p *Platform) (string, error) {
	aud := p.TokenURL
	if p.TokenAudience != "" {
		aud = p.TokenAudience
	}
	now := s.now()
	claims, err := json.Marshal(map[string]any{"iss": p.ClientID, "sub": p.ClientID, "aud": aud,
		"iat": now.Unix(), "exp": now.Add(SignedTTL).Unix(), "jti": randomID()})
	if err != nil {
		return "", err
	}
	return s.Keys.Sign(ctx, claims)
}

// randomID is 128 random bits, base64url.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Members reads the members of a context from its memberships URL, every
// page of them, with an access token held for the registration. A token
// the platform refuses (401) is dropped and a new one asked for once.
func (s *Service) Members(ctx context.Context, p *Platform, membershipsURL string, q MembersQuery) ([]Member, error) {
	if checkURL(membershipsURL) != "" {
		return nil, ErrNRPSUnavailable.Because(fmt.Errorf("memberships URL %q is not an https URL", membershipsURL))
	}
	u, err := url.Parse(membershipsURL)
	if err != nil {
		return nil, ErrNRPSUnavailable.Because(err)
	}
	v := u.Query()
	if q.RLID != "" {
		v.Set("rlid", q.RLID)
	}
	if q.Role != "" {
		v.Set("role", q.Role)
	}
	u.RawQuery = v.Encode()
	var out []Member
	next := u.String()
	for page := 0; next != ""; page++ {
		if page == maxNRPSPages {
			return nil, ErrNRPSUnavailable.Because(fmt.Errorf("%s: more than %d pages of members", membershipsURL, maxNRPSPages))
		}
		var members []Member
		members, next, err = s.membersPage(ctx, p, next, true)
		if err != nil {
			return nil, err
		}
		out = append(out, members...)
		if len(out) > maxMembers {
			return nil, ErrNRPSUnavailable.Because(fmt.Errorf("%s: more than %d members", membershipsURL, maxMembers))
		}
	}
	return out, nil
}

// linkNext finds the next page's URL in a Link header (RFC 8288).
var linkNext = regexp.MustCompile(`<([^>]*)>\s*;[^,]*\brel="?next"?`)

// membersPage reads one page, and the next page's URL ("" after the last).
func (s *Service) membersPage(ctx context.Context, p *Platform, pageURL string, retry bool) ([]Member, string, error) {
	tok, err := s.AccessToken(ctx, p, ScopeNRPS)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return nil, "", ErrNRPSUnavailable.Because(err)
	}
	req.Header.Set("Accept", nrpsMediaType)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.opts.HTTP.Do(req)
	if err != nil {
		return nil, "", ErrNRPSUnavailable.Because(fmt.Errorf("memberships %s: %w", pageURL, err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized && retry:
		s.dropToken(p, ScopeNRPS, tok)
		return s.membersPage(ctx, p, pageURL, false)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, "", ErrNRPSToken.Because(fmt.Errorf("memberships %s answered %d to the tool's token", pageURL, resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return nil, "", ErrNRPSUnavailable.Because(fmt.Errorf("memberships %s answered %d", pageURL, resp.StatusCode))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != nrpsMediaType && mt != "application/json" {
		return nil, "", ErrNRPSUnavailable.Because(fmt.Errorf("memberships %s answered %q, not a membership container", pageURL, mt))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxNRPSPage+1))
	if err != nil || len(body) > maxNRPSPage {
		return nil, "", ErrNRPSUnavailable.Because(fmt.Errorf("memberships %s unreadable or over 4 MB", pageURL))
	}
	var container struct {
		Members []Member `json:"members"`
	}
	if err := json.Unmarshal(body, &container); err != nil {
		return nil, "", ErrNRPSUnavailable.Because(fmt.Errorf("memberships %s: not a membership container: %w", pageURL, err))
	}
	next, err := nextPage(pageURL, resp.Header.Values("Link"))
	if err != nil {
		return nil, "", ErrNRPSUnavailable.Because(err)
	}
	return container.Members, next, nil
}

// nextPage is the absolute URL of the Link rel="next" of a page, "" when
// there is none. It must be on the page's own host, since the access
// token goes with it.
func nextPage(pageURL string, links []string) (string, error) {
	for _, l := range links {
		m := linkNext.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		base, _ := url.Parse(pageURL)
		ref, err := url.Parse(m[1])
		if err != nil {
			return "", fmt.Errorf("memberships %s: a next link that is no URL: %q", pageURL, m[1])
		}
		nu := base.ResolveReference(ref)
		next := nu.String()
		if checkURL(next) != "" || !strings.EqualFold(nu.Host, base.Host) || nu.Scheme != base.Scheme {
			return "", fmt.Errorf("memberships %s: the next page %q is not on the same https host", pageURL, next)
		}
		if next == pageURL {
			return "", errors.New("memberships: a page names itself as the next")
		}
		return next, nil
	}
	return "", nil
}
