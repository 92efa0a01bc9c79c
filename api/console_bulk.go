package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/problem"
)

// The console's bulk invite page. bulk.js drives it with the same /api/v1
// calls a program makes: upload and check, confirm or discard, then follow
// the job. The page's address names the job it follows (?job=), so an
// organizer who went on working elsewhere comes back to it from the
// banner that every console page shows while a job of the account runs
// (jobs.js).

// consoleBulkRoutes serves the bulk invite page of an event.
func (s *Server) consoleBulkRoutes(con *gin.RouterGroup) {
	con.GET("/events/:id/bulk", s.consoleBulk)
}

type consoleBulkPage struct {
	Event *event.Event
	// Job is the job the address names, if any.
	Job *jobView
	// Recent are the event's latest bulk invites.
	Recent []consoleBulkJob
	// EmailUnavailable says why "Invite" cannot email, when it cannot.
	EmailUnavailable string
	Mandatory        []string
	Optional         []string
	MaxMB            int
	MaxRows          string // with thousands separators
}

type consoleBulkJob struct {
	*jobView
	StatusLabel string
	Counts      bulk.Counts
}

// consoleJobStatus is a job's status in the organizer's words.
func consoleJobStatus(st string) string {
	switch st {
	case job.Checking:
		return "Being checked"
	case job.Ready:
		return "Checked, waiting for Invite"
	case job.Refused:
		return "File refused"
	case job.Queued, job.Running:
		return "Inviting"
	case job.Done:
		return "Ended"
	case job.Failed:
		return "Stopped"
	case job.Discarded:
		return "Discarded"
	}
	return st
}

func (s *Server) consoleBulk(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleBulkPage{Event: ev, Mandatory: bulk.Columns[:3], Optional: bulk.Columns[3:],
		MaxMB: bulk.MaxBytes >> 20, MaxRows: thousands(bulk.MaxRows)}
	if id := strings.TrimSpace(c.Query("job")); id != "" {
		j, err := s.cfg.Bulk.Job(ctx, p.eventCaller(), id)
		if err == nil && j.SubjectID != ev.ID {
			err = problem.ErrNotFound
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		if d.Job, err = s.viewJob(c, j, ev.Name); err != nil {
			s.fail(c, err)
			return
		}
	}
	recent, err := job.List(ctx, s.cfg.DB, p.AccountID, job.Filter{Kind: bulk.Kind, SubjectID: ev.ID, Limit: 10,
		Statuses: []string{job.Ready, job.Refused, job.Queued, job.Running, job.Done, job.Failed}})
	if err != nil {
		s.fail(c, err)
		return
	}
	for i := range recent {
		v, err := s.viewJob(c, &recent[i], ev.Name)
		if err != nil {
			s.fail(c, err)
			return
		}
		d.Recent = append(d.Recent, consoleBulkJob{jobView: v, StatusLabel: consoleJobStatus(v.Status), Counts: v.Counts.(bulk.Counts)})
	}
	if err := s.cfg.Events.EmailReady(ctx, p.AccountID); err != nil {
		d.EmailUnavailable = describe(c, err).Message
	}
	s.render(c, http.StatusOK, "console_bulk", pageData{Title: "Bulk invite · " + ev.Name, Data: d})
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
