package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
)

// resendAttendees (POST /events/{id}/attendees/resend) is "Resend to
// these": it takes the All users list's filter in the query string, as
// GET /events/{id}/attendees does (paging aside: every page), and queues
// a job that emails each matching attendee again through the outbox. The
// job's counts say how many were resent and how many were skipped, by
// status; the console polls /jobs/{id} for its progress.
func (s *Server) resendAttendees(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	q, err := attendeeQuery(c.Request.URL.Query(), ev.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	j, err := s.cfg.Resend.Start(ctx, p.eventCaller(), ev.ID, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.viewJob(c, j, ev.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, v)
}
