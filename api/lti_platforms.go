package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/lti"
)

// The account's LTI platform registrations, for its admins: the API, and
// the console page that also shows what an LMS admin pastes.

func (s *Server) ltiConsoleRoutes(con *gin.RouterGroup) {
	if s.cfg.LTI != nil {
		con.GET("/lti", s.consoleLTI)
	}
}

func (s *Server) ltiAPIRoutes(v1 *gin.RouterGroup) {
	if s.cfg.LTI == nil {
		return
	}
	v1.GET("/lti/tool", s.adminOnly, s.ltiTool)
	v1.GET("/lti/platforms", s.adminOnly, s.listLTIPlatforms)
	v1.POST("/lti/platforms", s.adminOnly, s.createLTIPlatform)
	v1.GET("/lti/platforms/:id", s.adminOnly, s.getLTIPlatform)
	v1.PATCH("/lti/platforms/:id", s.adminOnly, s.updateLTIPlatform)
	v1.DELETE("/lti/platforms/:id", s.adminOnly, s.deleteLTIPlatform)
}

// ltiToolView is the tool as an LMS admin registers it.
type ltiToolView struct {
	lti.URLs
	// KeyID and PublicKeyPEM are the key signing now, for platforms that
	// take a key rather than the key set URL.
	KeyID        string `json:"key_id"`
	PublicKeyPEM string `json:"public_key_pem"`
}

func (s *Server) toolView(c *gin.Context) (*ltiToolView, error) {
	kid, pemText, err := s.cfg.LTI.Keys.PublicPEM(c.Request.Context())
	if err != nil {
		return nil, err
	}
	return &ltiToolView{URLs: s.cfg.LTI.URLs(), KeyID: kid, PublicKeyPEM: pemText}, nil
}

func (s *Server) ltiTool(c *gin.Context) {
	v, err := s.toolView(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) listLTIPlatforms(c *gin.Context) {
	ps, err := s.cfg.LTI.ListPlatforms(c.Request.Context(), who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"platforms": ps})
}

func (s *Server) createLTIPlatform(c *gin.Context) {
	var in lti.PlatformInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	pl, err := s.cfg.LTI.CreatePlatform(c.Request.Context(), p.AccountID, p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, pl)
}

func (s *Server) getLTIPlatform(c *gin.Context) {
	pl, err := s.cfg.LTI.GetPlatform(c.Request.Context(), who(c).AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl)
}

func (s *Server) updateLTIPlatform(c *gin.Context) {
	var in lti.PlatformInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	pl, err := s.cfg.LTI.UpdatePlatform(c.Request.Context(), p.AccountID, c.Param("id"), p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl)
}

func (s *Server) deleteLTIPlatform(c *gin.Context) {
	p := who(c)
	if err := s.cfg.LTI.DeletePlatform(c.Request.Context(), p.AccountID, c.Param("id"), p.Actor); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type consoleLTIPage struct {
	Tool      *ltiToolView
	Platforms []lti.Platform
}

func (s *Server) consoleLTI(c *gin.Context) {
	if !who(c).Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may manage LTI platforms"))
		return
	}
	t, err := s.toolView(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ps, err := s.cfg.LTI.ListPlatforms(c.Request.Context(), who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "console_lti", pageData{Title: "LTI platforms", Data: consoleLTIPage{Tool: t, Platforms: ps}})
}
