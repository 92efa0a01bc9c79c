package api

import (
	"net/http"
	"strings"

	"github.com/invitegate/gateway/core/session"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
)

const (
	sessionCookie = "ig_session"
	deviceCookie  = "ig_device"
	// roomCookie holds the session a redemption opened on its resource; it
	// is sent to the invite pages only.
	roomCookie = "ig_room"
)

// principal is the authenticated caller: an API key (acting as the
// account's admin) or a console user.
type principal struct {
	AccountID string
	Actor     audit.Actor
	User      *user.User // nil for API keys
	Admin     bool
	SessionID string
}

func (p *principal) caller() invite.Caller {
	c := invite.Caller{AccountID: p.AccountID, Actor: p.Actor, Admin: p.Admin}
	if p.User != nil {
		c.UserID = p.User.ID
	}
	return c
}

func who(c *gin.Context) *principal { return c.MustGet("principal").(*principal) }

// authenticate finds the caller from a Bearer API key or the session cookie.
func (s *Server) authenticate(c *gin.Context) (*principal, error) {
	if h := c.GetHeader("Authorization"); h != "" {
		key, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, problem.New(problem.Unauthorized, "bad_authorization", `the Authorization header must be "Bearer <API key>"`)
		}
		k, err := account.Authenticate(c.Request.Context(), s.cfg.DB, strings.TrimSpace(key))
		if err != nil {
			return nil, err
		}
		return &principal{AccountID: k.AccountID, Actor: audit.Actor{Kind: audit.ActorAPIKey, ID: k.ID}, Admin: true}, nil
	}
	tok, err := c.Cookie(sessionCookie)
	if err != nil || tok == "" {
		return nil, problem.ErrUnauthorized
	}
	sess, u, err := s.cfg.Sessions.Authenticate(c.Request.Context(), session.ScopeConsole, "", tok)
	if err != nil {
		return nil, err
	}
	return &principal{AccountID: sess.AccountID, Actor: audit.Actor{Kind: audit.ActorUser, ID: u.ID}, User: u, Admin: u.IsAdmin(), SessionID: sess.ID}, nil
}

func (s *Server) apiAuth(c *gin.Context) {
	p, err := s.authenticate(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set("principal", p)
	c.Next()
}

func (s *Server) consoleAuth(c *gin.Context) {
	if c.GetHeader("Authorization") != "" {
		s.fail(c, problem.New(problem.Unauthorized, "console_needs_session", "the console uses sign-in links; API keys work under /api/v1"))
		return
	}
	p, err := s.authenticate(c)
	if err != nil {
		s.render(c, http.StatusUnauthorized, "signin", pageData{Title: "Sign in"})
		c.Abort()
		return
	}
	c.Set("principal", p)
	c.Next()
}

func (s *Server) adminOnly(c *gin.Context) {
	if !who(c).Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may do this"))
		return
	}
	c.Next()
}

// optionalSession returns the console user of the request, if signed in.
func (s *Server) optionalSession(c *gin.Context) *principal {
	tok, err := c.Cookie(sessionCookie)
	if err != nil || tok == "" {
		return nil
	}
	sess, u, err := s.cfg.Sessions.Authenticate(c.Request.Context(), session.ScopeConsole, "", tok)
	if err != nil {
		return nil
	}
	return &principal{AccountID: sess.AccountID, Actor: audit.Actor{Kind: audit.ActorUser, ID: u.ID}, User: u, Admin: u.IsAdmin(), SessionID: sess.ID}
}

func (s *Server) setCookie(c *gin.Context, name, value, path string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}
