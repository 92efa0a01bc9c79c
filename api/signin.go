package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/user"
)

// loginPage shows a sign-in button; opening the link does not use it.
// /l/{token} carries console sign-in links and event attendee login links:
// a token that is no console link is looked up among the attendee links.
func (s *Server) loginPage(c *gin.Context) {
	l, err := s.cfg.Sessions.CheckLoginLink(c.Request.Context(), c.Param("token"))
	if errors.Is(err, session.ErrLinkInvalid) {
		s.eventLoginPage(c)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	u, err := user.Get(c.Request.Context(), s.cfg.DB, l.AccountID, l.UserID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "login", pageData{Title: "Sign in", Data: u})
}

// loginEnter consumes the link and opens a console session.
func (s *Server) loginEnter(c *gin.Context) {
	o, err := s.cfg.Sessions.SignIn(c.Request.Context(), c.Param("token"))
	if errors.Is(err, session.ErrLinkInvalid) {
		s.eventLoginEnter(c)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.setCookie(c, sessionCookie, o.Token, "/", int(o.Session.ExpiresAt.Sub(o.Session.CreatedAt).Seconds()))
	c.Redirect(http.StatusSeeOther, "/console")
}

func (s *Server) signOut(c *gin.Context) {
	if p := s.optionalSession(c); p != nil {
		s.cfg.Sessions.SignOut(c.Request.Context(), p.SessionID)
	}
	s.setCookie(c, sessionCookie, "", "/", -1)
	c.Redirect(http.StatusSeeOther, "/console")
}
