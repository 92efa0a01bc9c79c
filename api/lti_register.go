package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/lti"
)

// LTI Dynamic Registration (lti/dynreg.go): the registration URL an
// account admin makes, and the pages the LMS opens it with.

func (s *Server) ltiRegisterRoutes(e *gin.Engine) {
	if s.cfg.LTI == nil {
		return
	}
	r := e.Group("/lti/register", noStore)
	r.GET("", s.ltiRegisterPage)
	r.POST("", s.ltiRegister)
}

func (s *Server) ltiRegistrationAPIRoutes(v1 *gin.RouterGroup) {
	if s.cfg.LTI != nil {
		v1.POST("/lti/registrations", s.adminOnly, s.createLTIRegistrationURL)
	}
}

func (s *Server) createLTIRegistrationURL(c *gin.Context) {
	// The body is optional; when sent, it is an empty JSON object.
	if c.Request.ContentLength != 0 {
		if err := bind(c, &struct{}{}); err != nil {
			s.fail(c, err)
			return
		}
	}
	p := who(c)
	u, err := s.cfg.LTI.NewRegistrationURL(c.Request.Context(), p.AccountID, p.Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, u)
}

type ltiRegisterPage struct {
	Request lti.RegistrationRequest
	Offer   *lti.RegistrationOffer
	// Platform is the registration made, once done.
	Platform *lti.Platform
}

func registrationRequest(c *gin.Context, param func(string) string) lti.RegistrationRequest {
	return lti.RegistrationRequest{Token: param("token"), ConfigURL: param("openid_configuration"), PlatformToken: param("registration_token")}
}

// ltiRegisterPage is the confirmation the LMS shows in its window or
// frame: the platform as its configuration says, the tool's name and the
// room adapter to choose. Opening it changes nothing.
func (s *Server) ltiRegisterPage(c *gin.Context) {
	req := registrationRequest(c, c.Query)
	offer, err := s.cfg.LTI.OpenRegistration(c.Request.Context(), req)
	if err != nil {
		s.ltiRegisterFail(c, err)
		return
	}
	frameAncestors(c, offer.FrameOrigins)
	s.render(c, http.StatusOK, "lti_register", pageData{Title: "Register the tool", Me: &principal{},
		Data: ltiRegisterPage{Request: req, Offer: offer}})
}

// ltiRegister is the confirmation: the tool registers with the platform
// and the page ends the registration in the LMS.
func (s *Server) ltiRegister(c *gin.Context) {
	req := registrationRequest(c, c.PostForm)
	p, err := s.cfg.LTI.CompleteRegistration(c.Request.Context(), req,
		lti.RegistrationChoice{ToolName: c.PostForm("tool_name"), Adapter: c.PostForm("adapter")})
	if err != nil {
		s.ltiRegisterFail(c, err)
		return
	}
	frameAncestors(c, p.Origins())
	s.render(c, http.StatusOK, "lti_register", pageData{Title: "Tool registered", Me: &principal{},
		Data: ltiRegisterPage{Request: req, Platform: p}})
}

// ltiRegisterFail shows a refused registration as its page, which may
// show in any LMS's frame: it holds nothing of anyone.
func (s *Server) ltiRegisterFail(c *gin.Context, err error) {
	frameAncestors(c, nil)
	if _, ok := problem.As(err); !ok {
		s.fail(c, err)
		return
	}
	b := describe(c, err)
	s.render(c, statusOf(err), "lti_error", pageData{Title: "This registration was refused", Error: &b, Me: &principal{}})
	c.Abort()
}
