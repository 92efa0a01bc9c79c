package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/invitegate/gateway/core/session"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
)

// demoAudience is the audience of join tokens for the built-in demo room.
const demoAudience = "demo-room"

type invitePage struct {
	View  *invite.View
	Email string // what was typed, on a retry
}

// visitor is what the request shows of who opened a link: the device
// cookie, and a console session or the session an earlier redemption
// opened on a resource.
func (s *Server) visitor(c *gin.Context) (invite.Visitor, *principal) {
	var v invite.Visitor
	v.DeviceSecret, _ = c.Cookie(deviceCookie)
	p := s.optionalSession(c)
	if p != nil {
		v.SessionEmail, v.SessionAccountID = p.User.Email, p.AccountID
	} else if tok, err := c.Cookie(roomCookie); err == nil && tok != "" {
		if sess, _, err := s.cfg.Sessions.Authenticate(c.Request.Context(), session.ScopeResource, "", tok); err == nil {
			v.SessionAccountID, v.SessionUserID, v.SessionResourceID = sess.AccountID, sess.UserID, sess.ScopeID
		}
	}
	return v, p
}

// invitePage shows what a link offers. GET and HEAD never change anything.
func (s *Server) invitePage(c *gin.Context) {
	v, p := s.visitor(c)
	view, err := s.cfg.Invites.Inspect(c.Request.Context(), c.Param("token"), v)
	if err != nil {
		s.fail(c, err)
		return
	}
	platformWarn(c, view.Resource, view.PlatformErr)
	s.recordView(c, view.Invitation.AccountID, view.Invitation.ID, "invite")
	d := invitePage{View: view}
	s.render(c, http.StatusOK, "invite", pageData{Title: view.Resource.Title, Me: p, Data: d})
}

// inviteEnter is the button press that redeems the link.
func (s *Server) inviteEnter(c *gin.Context) {
	client := c.ClientIP()
	if _, blocked, err := s.guesses.Blocked(c.Request.Context(), client); err != nil {
		reqLog(c).Warn("guess limit not checked", "error", err.Error())
	} else if blocked {
		s.metrics.redemptions.WithLabelValues("too_many_attempts").Inc()
		s.fail(c, invite.ErrTooManyGuesses)
		return
	}
	v, p := s.visitor(c)
	tok := c.Param("token")
	email := c.PostForm("email")
	e, err := s.cfg.Invites.Redeem(c.Request.Context(), invite.RedeemInput{Token: tok, Email: email, Visitor: v})
	if err != nil {
		code := "error"
		if pe, ok := problem.As(err); ok {
			code = pe.Code
		}
		s.metrics.redemptions.WithLabelValues(code).Inc()
		if code == invite.ErrEmailMismatch.Code || code == invite.ErrEmailTooLong.Code {
			if err := s.guesses.Add(c.Request.Context(), client); err != nil {
				reqLog(c).Warn("wrong guess not counted", "error", err.Error())
			}
			s.lobbyAgain(c, tok, email, v, p, err)
			return
		}
		s.fail(c, err)
		return
	}
	outcome := "ok"
	if e.Reentry {
		outcome = "reentry"
	}
	s.metrics.redemptions.WithLabelValues(outcome).Inc()
	if e.NotifyErr != nil {
		reqLog(c).Warn("room not told of role upgrade", "resource", e.Resource.ID, "error", e.NotifyErr.Error())
	}
	platformWarn(c, e.Resource, e.PlatformErr)
	if e.Invitation.DeviceBinding {
		s.setCookie(c, deviceCookie, e.DeviceSecret, "/i/", 365*24*3600)
	}
	if e.Session != nil {
		ss := e.Session.Session
		s.setCookie(c, roomCookie, e.Session.Token, "/i/", int(ss.ExpiresAt.Sub(ss.CreatedAt).Seconds()))
	}
	dest, err := s.enterURL(c.Request.Context(), e.Resource, e.User.ID, e.User.Email, e.User.Name(), e.Role)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, dest)
}

// platformWarn logs that the platform hosting res could not say whether
// it exists and when it starts, so the stored values decided.
func platformWarn(c *gin.Context, res *resource.Resource, err error) {
	if err != nil {
		reqLog(c).Warn("room adapter not available; the stored schedule is used", "resource", res.ID, "adapter", res.Adapter, "error", errorText(err))
	}
}

// errorText is err for the log, with the fault behind a refusal.
func errorText(err error) string {
	if p, ok := problem.As(err); ok && p.Cause != nil {
		return p.Error() + ": " + p.Cause.Error()
	}
	return err.Error()
}

// lobbyAgain shows the lobby with the refusal, so the person can retype;
// the room's platform, asked by the redemption, is not asked again.
func (s *Server) lobbyAgain(c *gin.Context, tok, email string, v invite.Visitor, p *principal, cause error) {
	view, err := s.cfg.Invites.InspectAfter(c.Request.Context(), tok, v, cause)
	if err != nil {
		s.fail(c, err)
		return
	}
	b := describe(c, cause)
	d := invitePage{View: view, Email: email}
	s.render(c, statusOf(cause), "invite", pageData{Title: view.Resource.Title, Error: &b, Me: p, Data: d})
}

// enterURL is where a person goes in: the room's join URL with a signed join token.
func (s *Server) enterURL(ctx context.Context, res *resource.Resource, userID, email, name, role string) (string, error) {
	aud, base := demoAudience, s.URL("/demo/rooms/"+res.ID)
	if res.Adapter != "" {
		u, err := s.cfg.Rooms.JoinURL(ctx, res, Entrant{UserID: userID, Email: email, Name: name, Role: role})
		if err != nil {
			return "", err
		}
		aud, base = res.Adapter, u
	}
	claims := jointoken.Claims{Email: email, Name: name, Resource: res.ID, Role: role, Privileges: resource.Privileges(role)}
	claims.Subject = userID
	jt, err := s.cfg.Signer.Issue(ctx, aud, claims)
	if err != nil {
		return "", err
	}
	if res.Adapter == "" {
		// The demo room's URL is the gateway's own and has no query; the
		// token (base64url and dots) needs no escaping.
		return base + "?jt=" + jt, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("jt", jt)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
