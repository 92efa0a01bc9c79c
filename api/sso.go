package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso"
)

// SSO, for account admins (JSON):
//
//	GET    /api/v1/sso/connections                 the account's connections
//	POST   /api/v1/sso/connections                 creates one
//	GET    /api/v1/sso/connections/{id}            one connection
//	PATCH  /api/v1/sso/connections/{id}            changes it
//	DELETE /api/v1/sso/connections/{id}            removes it
//	POST   /api/v1/sso/connections/{id}/rotate-key one step of its key rollover
func (s *Server) ssoAPIRoutes(v1 *gin.RouterGroup) {
	g := v1.Group("/sso/connections", s.adminOnly)
	g.GET("", s.listSSOConnections)
	g.POST("", s.createSSOConnection)
	g.GET("/:id", s.getSSOConnection)
	g.PATCH("/:id", s.updateSSOConnection)
	g.DELETE("/:id", s.deleteSSOConnection)
	g.POST("/:id/rotate-key", s.rotateSSOKey)
}

// ssoList is the list's answer: the connections and the types this
// gateway can connect to.
type ssoList struct {
	Connections []sso.View `json:"connections"`
	Types       []string   `json:"types"`
}

func (s *Server) listSSOConnections(c *gin.Context) {
	vs, err := s.cfg.SSO.List(c.Request.Context(), who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if vs == nil {
		vs = []sso.View{}
	}
	c.JSON(http.StatusOK, ssoList{Connections: vs, Types: s.cfg.SSO.TypeNames()})
}

func (s *Server) createSSOConnection(c *gin.Context) {
	var in sso.Input
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	v, err := s.cfg.SSO.Create(c.Request.Context(), p.AccountID, p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, v)
}

func (s *Server) getSSOConnection(c *gin.Context) {
	v, err := s.cfg.SSO.Get(c.Request.Context(), who(c).AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) updateSSOConnection(c *gin.Context) {
	var in sso.Input
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	v, err := s.cfg.SSO.Update(c.Request.Context(), p.AccountID, p.Actor, c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) deleteSSOConnection(c *gin.Context) {
	p := who(c)
	if err := s.cfg.SSO.Delete(c.Request.Context(), p.AccountID, p.Actor, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) rotateSSOKey(c *gin.Context) {
	p := who(c)
	v, err := s.cfg.SSO.RotateKey(c.Request.Context(), p.AccountID, p.Actor, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// SSO in the browser:
//
//	GET  /sso/start                      the "sign in with your organization" form (?connection= starts at once)
//	POST /sso/start                      starts a login: email (home-realm discovery) or connection; purpose, event, return
//	GET  /sso/saml/{connection}/metadata the SAML service provider's metadata
//	POST /sso/saml/{connection}/acs      the SAML provider's answer
//	GET|POST /sso/oidc/{connection}/callback the OIDC provider's answer
//
// The provider's answer signs the person in with the cookie the other
// sign-in paths set (the console's, or the event site's) and goes to the
// return path, a relative path of this gateway.
func (s *Server) ssoRoutes(e *gin.Engine) {
	g := e.Group("/sso", noStore)
	g.GET("/start", s.ssoStartPage)
	g.HEAD("/start", s.ssoStartPage)
	g.POST("/start", s.ssoStart)
	g.GET("/saml/:connection/metadata", s.ssoMetadata)
	g.POST("/saml/:connection/acs", s.ssoFinish("saml"))
	g.GET("/oidc/:connection/callback", s.ssoFinish("oidc"))
	g.POST("/oidc/:connection/callback", s.ssoFinish("oidc"))
}

// ssoAnswerRoutes are the routes a provider's answer reaches by a POST
// from the provider's own site (SAML HTTP-POST binding, OIDC form_post):
// the cross-origin check cannot pass them, so it lets them through. What
// protects them is their own: the provider's signature, and the login in
// flight their key names, usable once.
var ssoAnswerRoutes = []string{"POST /sso/saml/{connection}/acs", "POST /sso/oidc/{connection}/callback"}

// ssoStartView is the model of the start form and of the page that posts
// a SAML request to the provider.
type ssoStartView struct {
	Email, Purpose, Event, Return string
	// PostURL and Fields: the form that submits itself to the provider,
	// or (Relay) the provider's answer to this gateway again.
	PostURL string
	Fields  map[string]string
	Relay   bool
}

func (s *Server) ssoStartPage(c *gin.Context) {
	if c.Query("connection") != "" && c.Request.Method == http.MethodGet {
		s.ssoBegin(c, sso.StartInput{ConnectionID: c.Query("connection"), Purpose: c.Query("purpose"),
			EventID: c.Query("event"), ReturnPath: c.Query("return")})
		return
	}
	s.render(c, http.StatusOK, "sso_start", pageData{Title: "Sign in with your organization",
		Data: &ssoStartView{Email: c.Query("email"), Purpose: c.Query("purpose"), Event: c.Query("event"), Return: c.Query("return")}})
}

func (s *Server) ssoStart(c *gin.Context) {
	s.ssoBegin(c, sso.StartInput{ConnectionID: c.PostForm("connection"), Email: c.PostForm("email"),
		Purpose: c.PostForm("purpose"), EventID: c.PostForm("event"), ReturnPath: c.PostForm("return")})
}

// ssoBegin starts the login and sends the browser to the provider: a
// redirect, or a page whose form posts itself there (SAML HTTP-POST).
//
// Each start stores a login in flight, so starts count against the
// client's site form sends (limits.site_forms_per_minute), as the event
// site's sign-in requests do.
func (s *Server) ssoBegin(c *gin.Context, in sso.StartInput) {
	client := c.ClientIP()
	if s.siteForms.exhausted(client) {
		s.fail(c, errTooManySiteForms)
		return
	}
	s.siteForms.spend(client)
	in.Browser = s.ssoBrowser(c)
	rd, err := s.cfg.SSO.Start(c.Request.Context(), in)
	if err != nil {
		s.ssoFail(c, err, &ssoStartView{Email: in.Email, Purpose: in.Purpose, Event: in.EventID, Return: in.ReturnPath})
		return
	}
	if rd.Form == nil {
		c.Redirect(http.StatusSeeOther, rd.URL)
		return
	}
	s.render(c, http.StatusOK, "sso_post", pageData{Title: "Signing in", Data: &ssoStartView{PostURL: rd.URL, Fields: rd.Form}})
}

// ssoFail shows a refusal: on the start form when the person can fix it
// there (an email that finds no connection), else on its own page.
func (s *Server) ssoFail(c *gin.Context, err error, again *ssoStartView) {
	if again != nil && !wantsJSON(c) {
		b := describe(c, err)
		switch b.Field {
		case "email", "event", "purpose":
			s.render(c, statusOf(err), "sso_start", pageData{Title: "Sign in with your organization", Error: &b, Data: again})
			c.Abort()
			return
		}
		if b.Code == "sso_no_connection" || b.Code == "sso_ambiguous_domain" {
			s.render(c, statusOf(err), "sso_start", pageData{Title: errorTitle(b.Code), Error: &b, Data: again})
			c.Abort()
			return
		}
	}
	s.fail(c, err)
}

func (s *Server) ssoMetadata(c *gin.Context) {
	b, err := s.cfg.SSO.Metadata(c.Request.Context(), "saml", c.Param("connection"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/samlmetadata+xml", b)
}

// ssoBrowserCookie holds the browser's login binding: a random value
// whose hash each login started in this browser stores, so only this
// browser can finish them. It lives as long as a login in flight.
const ssoBrowserCookie = "ig_sso"

// ssoBrowser is the browser's login binding, made (and set) when the
// browser has none yet. Several logins in flight in one browser (two
// tabs) share it.
func (s *Server) ssoBrowser(c *gin.Context) string {
	v, err := c.Cookie(ssoBrowserCookie)
	if err != nil || !token.WellFormed(v) {
		v, _ = token.New()
	}
	s.setCookie(c, ssoBrowserCookie, v, "/sso/", int(sso.DefaultRequestTTL.Seconds()))
	return v
}

// ssoRelayed marks a provider's POSTed answer that the gateway posted to
// itself again (see ssoFinish).
const ssoRelayed = "ig_relayed"

// ssoFinish completes a login with the provider's answer.
//
// The answer must come with the login cookie of the browser that started
// the login. A provider's answer by cross-site POST (SAML HTTP-POST,
// OIDC form_post) arrives without it, the cookie being SameSite=Lax (an
// http gateway cannot set SameSite=None): that first POST gets a page
// that posts the same fields to the same address again, now from this
// site, so the browser sends its cookie. The page changes nothing; the
// answer is checked only on the second POST.
func (s *Server) ssoFinish(typ string) gin.HandlerFunc {
	return func(c *gin.Context) {
		browser, _ := c.Cookie(ssoBrowserCookie)
		if browser == "" && c.Request.Method == http.MethodPost && c.PostForm(ssoRelayed) == "" {
			s.ssoRelay(c)
			return
		}
		res, err := s.cfg.SSO.Finish(c.Request.Context(), typ, c.Param("connection"), c.Request, browser)
		if err != nil {
			s.fail(c, err)
			return
		}
		switch {
		case res.Console != nil:
			o := res.Console
			s.setCookie(c, sessionCookie, o.Token, "/", int(o.Session.ExpiresAt.Sub(o.Session.CreatedAt).Seconds()))
		case res.Event != nil:
			s.startSiteSession(c, res.Event)
		}
		c.Redirect(http.StatusSeeOther, res.ReturnPath)
	}
}

// ssoRelay answers a provider's cross-site POST with a form that posts
// its fields to the same address again from this site.
func (s *Server) ssoRelay(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		s.fail(c, problem.Field("body", "the sign-in answer is not a form"))
		return
	}
	fields := map[string]string{ssoRelayed: "1"}
	for name, values := range c.Request.PostForm {
		if len(values) > 0 {
			fields[name] = values[0]
		}
	}
	s.render(c, http.StatusOK, "sso_post", pageData{Title: "Signing in", Data: &ssoStartView{PostURL: c.Request.URL.Path, Fields: fields, Relay: true}})
}
