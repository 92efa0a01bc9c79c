package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/invitegate/gateway/api/scim"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/provision"
)

// scimBasePath is where identity providers provision the account: the
// SCIM base URL is the gateway's base URL and this.
const scimBasePath = scim.Prefix + "/v2"

// SCIMBaseURL is the SCIM base URL to give an identity provider.
func (s *Server) SCIMBaseURL() string { return s.URL(scimBasePath) }

// newSCIM builds the SCIM service provider.
func (s *Server) newSCIM() (http.Handler, error) {
	if s.cfg.Provision == nil {
		return nil, errors.New("api: Provision is required")
	}
	return scim.New(scim.Config{Provision: s.cfg.Provision, BaseURL: s.SCIMBaseURL(), Refusal: scimRefusal})
}

// scimRoutes mounts the SCIM service provider, which its own tokens
// authenticate.
func (s *Server) scimRoutes(e *gin.Engine) {
	e.Any(scim.Prefix+"/*path", noStore, s.serveSCIM)
}

// scimAPIRoutes serve an admin the provisioning tokens.
func (s *Server) scimAPIRoutes(v1 *gin.RouterGroup) {
	v1.GET("/scim", s.adminOnly, s.scimInfo)
	v1.GET("/scim/tokens", s.adminOnly, s.listSCIMTokens)
	v1.POST("/scim/tokens", s.adminOnly, s.createSCIMToken)
	v1.DELETE("/scim/tokens/:id", s.adminOnly, s.revokeSCIMToken)
}

// ginKey carries the gin context into the SCIM handler's request, so its
// refusals are logged with the request's id.
type ginKey struct{}

// serveSCIM authenticates the provider by its bearer token, checks the
// body as every JSON body is checked (size, text) and against the SCIM
// schemas, and hands the request to the SCIM handler with the caller set.
// Every refusal is a SCIM error body.
func (s *Server) serveSCIM(c *gin.Context) {
	r := c.Request
	caller, err := s.scimCaller(c)
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="scim"`)
		s.scimFail(c, err)
		return
	}
	var body []byte
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		if body, err = readJSON(r); err == nil {
			err = checkJSONText(body)
		}
		if err == nil {
			body, err = scim.CheckBody(r.Method, strings.TrimPrefix(r.URL.Path, scim.Prefix), body)
		}
		if err != nil {
			s.scimFail(c, err)
			return
		}
	}
	ctx := context.WithValue(scim.WithCaller(r.Context(), caller), ginKey{}, c)
	r2 := r.Clone(ctx)
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, scim.Prefix)
	r2.URL.RawPath = ""
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	s.scimAPI.ServeHTTP(c.Writer, r2)
}

func (s *Server) scimCaller(c *gin.Context) (provision.Caller, error) {
	key, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		return provision.Caller{}, problem.New(problem.Unauthorized, "bad_authorization",
			`the Authorization header must be "Bearer <provisioning token>", a token an account admin creates on the console's SCIM page`)
	}
	return s.cfg.Provision.Authenticate(c.Request.Context(), strings.TrimSpace(key))
}

// scimFail answers with err as a SCIM error.
func (s *Server) scimFail(c *gin.Context, err error) {
	c.Set(failureKey, err)
	var se scimerrors.ScimError
	if !errors.As(err, &se) {
		se = scimRefusalOf(c, err)
	}
	b, _ := json.Marshal(se)
	c.Data(se.Status, "application/scim+json", b)
	c.Abort()
}

// scimInfo tells an admin what to give the identity provider.
func (s *Server) scimInfo(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"base_url": s.SCIMBaseURL()})
}

func (s *Server) listSCIMTokens(c *gin.Context) {
	ts, err := s.cfg.Provision.Tokens(c.Request.Context(), who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ts, "base_url": s.SCIMBaseURL()})
}

// scimTokenCreated is a new token with its secret, shown this once.
type scimTokenCreated struct {
	*provision.Token
	Secret  string `json:"token"`
	BaseURL string `json:"base_url"`
}

func (s *Server) createSCIMToken(c *gin.Context) {
	var in provision.NewToken
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	plain, k, err := s.cfg.Provision.CreateToken(c.Request.Context(), p.AccountID, p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, scimTokenCreated{Token: k, Secret: plain, BaseURL: s.SCIMBaseURL()})
}

func (s *Server) revokeSCIMToken(c *gin.Context) {
	p := who(c)
	if _, err := s.cfg.Provision.RevokeToken(c.Request.Context(), p.AccountID, p.Actor, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
