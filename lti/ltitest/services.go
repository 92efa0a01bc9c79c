package ltitest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The platform's services the tool calls, written from the specifications:
// the OAuth 2 token endpoint of the client credentials grant, which
// authenticates the tool by its signed JWT assertion against the tool's
// published key set (1EdTech Security Framework §4.1); the Names and Role
// Provisioning Services 2.0 endpoint of each course, paged with Link
// rel="next" and filtered by rlid; and the deep linking return endpoint,
// which verifies the tool's LtiDeepLinkingResponse (Deep Linking 2.0 §4.5)
// and keeps its content items.

// ScopeNRPS is the scope of a token that reads memberships.
const ScopeNRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

// nrpsMediaType is the membership container's media type.
const nrpsMediaType = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

// Member is a person in a course, as the NRPS endpoint lists them.
type Member struct {
	UserID, Email, GivenName, FamilyName, Name string
	// Status is Active (default), Inactive or Deleted.
	Status string
	Roles  []string
	// Links are the resource links the member may see: a read with rlid
	// lists those whose Links hold it.
	Links []string
}

// ContentItem is a content item of a deep linking response.
type ContentItem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	URL    string            `json:"url"`
	Custom map[string]string `json:"custom"`
}

// DeepLinkReturn is a deep linking response the return endpoint verified.
type DeepLinkReturn struct {
	Items []ContentItem
	// Data is the data claim, as it came back.
	Data json.RawMessage
}

// services hold the state of the platform's services.
type services struct {
	mu       sync.Mutex
	members  map[string][]Member // by context id
	tokens   map[string]time.Time
	jtis     map[string]bool
	returned []DeepLinkReturn

	tokenRequests atomic.Int64
	nrpsRequests  atomic.Int64
}

func newServices() *services {
	return &services{members: map[string][]Member{}, tokens: map[string]time.Time{}, jtis: map[string]bool{}}
}

func (p *Platform) routeServices(mux *http.ServeMux) {
	mux.HandleFunc("POST /token", p.serveToken)
	mux.HandleFunc("GET /nrps/{context}", p.serveMemberships)
	mux.HandleFunc("POST /deep-link-return", p.serveDeepLinkReturn)
}

// AddMember puts a person in a course's roster.
func (p *Platform) AddMember(contextID string, m Member) {
	p.svc.mu.Lock()
	p.svc.members[contextID] = append(p.svc.members[contextID], m)
	p.svc.mu.Unlock()
}

// MembershipsURL is the NRPS endpoint of a course.
func (p *Platform) MembershipsURL(contextID string) string {
	return p.Issuer + "/nrps/" + url.PathEscape(contextID)
}

// DeepLinkReturnURL is where the tool posts its deep linking responses.
func (p *Platform) DeepLinkReturnURL() string { return p.Issuer + "/deep-link-return" }

// TokenRequests counts the requests to the token endpoint, granted or not.
func (p *Platform) TokenRequests() int64 { return p.svc.tokenRequests.Load() }

// NRPSRequests counts the requests to the NRPS endpoints.
func (p *Platform) NRPSRequests() int64 { return p.svc.nrpsRequests.Load() }

// DeepLinkReturns are the deep linking responses received and verified.
func (p *Platform) DeepLinkReturns() []DeepLinkReturn {
	p.svc.mu.Lock()
	defer p.svc.mu.Unlock()
	return append([]DeepLinkReturn(nil), p.svc.returned...)
}

// oauthError answers a token request as RFC 6749 §5.2 says.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// serveToken is the token endpoint: a client credentials grant whose
// client is authenticated by its JWT assertion (RFC 7523), signed with a
// key of the tool's published set, issued by and about the client id, for
// this endpoint, unexpired, and never seen before.
func (p *Platform) serveToken(w http.ResponseWriter, r *http.Request) {
	p.svc.tokenRequests.Add(1)
	r.ParseForm()
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "a client credentials grant with a JWT bearer assertion is expected")
		return
	}
	if !slices.Contains(strings.Fields(r.Form.Get("scope")), ScopeNRPS) {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "scope "+r.Form.Get("scope"))
		return
	}
	var c jwt.Claims
	if err := p.verifyTool(r.Context(), r.Form.Get("client_assertion"), &c); err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	now := p.Now()
	err := c.ValidateWithLeeway(jwt.Expected{Issuer: p.ClientID, Subject: p.ClientID, AnyAudience: jwt.Audience{p.TokenURL()}, Time: now}, time.Minute)
	if err == nil && (c.ID == "" || c.Expiry == nil) {
		err = fmt.Errorf("the assertion has no jti or exp")
	}
	p.svc.mu.Lock()
	if err == nil && p.svc.jtis[c.ID] {
		err = fmt.Errorf("the assertion's jti %q was used before", c.ID)
	}
	if err != nil {
		p.svc.mu.Unlock()
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	p.svc.jtis[c.ID] = true
	tok := randomText()
	ttl := p.TokenTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	p.svc.tokens[tok] = now.Add(ttl)
	p.svc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds()), "scope": ScopeNRPS})
}

// verifyTool verifies a JWT of the tool with the key its header names, from
// the tool's published key set, and decodes its claims into out.
func (p *Platform) verifyTool(ctx context.Context, raw string, out any) error {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return fmt.Errorf("not an RS256 JWS: %v", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	if kid == "" {
		return fmt.Errorf("no kid in the header")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.ToolJWKSURL, nil)
	resp, err := p.ToolHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("the tool's key set: %v", err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("the tool's key set: %v", err)
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		return fmt.Errorf("the tool publishes no key %q", kid)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return fmt.Errorf("the signature does not verify with the tool's key %q", kid)
	}
	return json.Unmarshal(payload, out)
}

// serveMemberships is a course's NRPS endpoint: with a token of the token
// endpoint, the members (of one resource link with rlid, of one role with
// role), PageSize at a time with a Link to the next page.
func (p *Platform) serveMemberships(w http.ResponseWriter, r *http.Request) {
	p.svc.nrpsRequests.Add(1)
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.svc.mu.Lock()
	exp, known := p.svc.tokens[tok]
	members := append([]Member(nil), p.svc.members[r.PathValue("context")]...)
	p.svc.mu.Unlock()
	if !ok || !known || !p.Now().Before(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), nrpsMediaType) {
		http.Error(w, "the membership container's media type must be accepted", http.StatusNotAcceptable)
		return
	}
	q := r.URL.Query()
	var list []map[string]any
	for _, m := range members {
		if rl := q.Get("rlid"); rl != "" && !slices.Contains(m.Links, rl) {
			continue
		}
		if role := q.Get("role"); role != "" && !slices.Contains(m.Roles, role) {
			continue
		}
		status := m.Status
		if status == "" {
			status = "Active"
		}
		list = append(list, map[string]any{"user_id": m.UserID, "status": status, "email": m.Email, "given_name": m.GivenName,
			"family_name": m.FamilyName, "name": m.Name, "roles": m.Roles})
	}
	page, _ := strconv.Atoi(q.Get("page"))
	size := p.PageSize
	if size > 0 {
		from := min(page*size, len(list))
		to := min(from+size, len(list))
		if to < len(list) {
			q.Set("page", strconv.Itoa(page+1))
			next := *r.URL
			next.RawQuery = q.Encode()
			w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, p.Issuer, next.RequestURI()))
		}
		list = list[from:to]
	}
	if list == nil {
		list = []map[string]any{}
	}
	w.Header().Set("Content-Type", nrpsMediaType)
	json.NewEncoder(w).Encode(map[string]any{"id": p.Issuer + r.URL.RequestURI(),
		"context": map[string]any{"id": r.PathValue("context")}, "members": list})
}

var returnedPage = template.Must(template.New("returned").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Content added</title></head>
<body><h1 id="dl-returned">Content added</h1><ul>{{range .}}<li class="item">{{.Title}}</li>{{end}}</ul></body></html>`))

// serveDeepLinkReturn takes a tool's deep linking response (§4.5): the JWT
// form field, signed by the tool, from its client id to this platform,
// for its deployment, an LtiDeepLinkingResponse of version 1.3.0 with a
// nonce, unexpired.
func (p *Platform) serveDeepLinkReturn(w http.ResponseWriter, r *http.Request) {
	var claims struct {
		jwt.Claims
		Nonce        string          `json:"nonce"`
		MessageType  string          `json:"https://purl.imsglobal.org/spec/lti/claim/message_type"`
		Version      string          `json:"https://purl.imsglobal.org/spec/lti/claim/version"`
		DeploymentID string          `json:"https://purl.imsglobal.org/spec/lti/claim/deployment_id"`
		Items        []ContentItem   `json:"https://purl.imsglobal.org/spec/lti-dl/claim/content_items"`
		Data         json.RawMessage `json:"https://purl.imsglobal.org/spec/lti-dl/claim/data"`
	}
	err := p.verifyTool(r.Context(), r.PostFormValue("JWT"), &claims)
	if err == nil {
		err = claims.ValidateWithLeeway(jwt.Expected{Issuer: p.ClientID, AnyAudience: jwt.Audience{p.Issuer}, Time: p.Now()}, time.Minute)
	}
	switch {
	case err != nil:
	case claims.Expiry == nil || claims.IssuedAt == nil || claims.Nonce == "":
		err = fmt.Errorf("exp, iat and nonce are required")
	case claims.MessageType != "LtiDeepLinkingResponse" || claims.Version != "1.3.0":
		err = fmt.Errorf("message_type %q version %q", claims.MessageType, claims.Version)
	case claims.DeploymentID != p.DeploymentID:
		err = fmt.Errorf("deployment_id %q", claims.DeploymentID)
	}
	if err != nil {
		http.Error(w, "the deep linking response is refused: "+err.Error(), http.StatusBadRequest)
		return
	}
	p.svc.mu.Lock()
	p.svc.returned = append(p.svc.returned, DeepLinkReturn{Items: claims.Items, Data: claims.Data})
	p.svc.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	returnedPage.Execute(w, claims.Items)
}

// DeepLinkingClaims are the claims of a deep linking request of u from
// l's course (Deep Linking 2.0 §4.4), as a map a test may change.
func (p *Platform) DeepLinkingClaims(u User, l Link, nonce string) map[string]any {
	c := p.Claims(u, l, nonce)
	const lti = "https://purl.imsglobal.org/spec/lti/claim/"
	delete(c, lti+"resource_link")
	c[lti+"message_type"] = "LtiDeepLinkingRequest"
	c[lti+"target_link_uri"] = p.toolURL + "/lti/deep-linking"
	c["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = map[string]any{
		"deep_link_return_url": p.DeepLinkReturnURL(), "accept_types": []string{"ltiResourceLink", "link"},
		"accept_presentation_document_targets": []string{"iframe", "window"}, "accept_multiple": false,
		"title": l.Title, "data": "dl-" + l.ID,
	}
	return c
}

func randomText() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
