package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/mail"
)

// Opening a link's page changes nothing (mail filters' link scanners open
// every link), so whether a person opened their email is told in two
// steps. The GET records a page view (mail.ViewLog: when, whether cookies
// came, the user agent's class; never the token or the address) and the
// invitation stays as it was. The page's script then posts to
// {link}/opened, once a person is plainly there (see app.js), which marks
// the newest email about the link opened. A client that never runs the
// script never posts, so a scanner's load stays a view.
//
// The beacon needs no more than the link's token in its path: it changes
// nothing but the opened mark, once (posting again changes nothing). The
// cross-origin protection of every POST applies, so another site cannot
// post it from a person's browser, and the link routes' limit on unknown
// tokens applies as to the other link POSTs.

// recordView records a page view of the link of ref.
func (s *Server) recordView(c *gin.Context, accountID, refID, page string) {
	if s.cfg.Mail.Views == nil || (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) {
		return // no email is sent, so there is nothing to tell apart
	}
	s.cfg.Mail.Views.Record(mail.PageView{AccountID: accountID, RefID: refID, Page: page,
		Cookies: len(c.Request.Cookies()) > 0, UserAgent: c.Request.UserAgent()})
}

// inviteOpened is the beacon of an invite link's page.
func (s *Server) inviteOpened(c *gin.Context) {
	v, _ := s.visitor(c)
	view, err := s.cfg.Invites.Inspect(c.Request.Context(), c.Param("token"), v)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.markOpened(c, view.Invitation.AccountID, view.Invitation.ID)
}

// loginOpened is the beacon of an attendee login link's page.
func (s *Server) loginOpened(c *gin.Context) {
	lv, err := s.cfg.Events.CheckLink(c.Request.Context(), c.Param("token"), event.LinkLogin)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.markOpened(c, lv.Event.AccountID, lv.Attendee.ID)
}

func (s *Server) markOpened(c *gin.Context, accountID, refID string) {
	if err := mail.MarkOpened(c.Request.Context(), s.cfg.DB, accountID, refID, s.cfg.Now()); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
