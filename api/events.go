package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/problem"
)

// eventRoutes serves the events API: /api/v1/events and their attendees.
// Every console user of the account organizes its events (and API keys act
// as its admin); events of other accounts are "not found".
func (s *Server) eventRoutes(v1 *gin.RouterGroup) {
	v1.GET("/events", s.listEvents)
	v1.POST("/events", s.createEvent)
	v1.GET("/events/:id", s.getEvent)
	v1.PATCH("/events/:id", s.updateEvent)
	v1.GET("/events/:id/attendees", s.listAttendees)
	v1.POST("/events/:id/attendees", s.inviteAttendee)
	v1.POST("/events/:id/attendees/resend", s.resendAttendees)
	v1.GET("/events/:id/attendees/:aid", s.getAttendee)
	v1.PATCH("/events/:id/attendees/:aid", s.editAttendee)
	v1.DELETE("/events/:id/attendees/:aid", s.removeAttendee)
	v1.POST("/events/:id/attendees/:aid/actions/:action", s.attendeeAction)
	v1.GET("/events/:id/attendees/:aid/analytics", s.attendeeAnalytics)
	v1.POST("/events/:id/attendees/:aid/block", s.adminOnly, s.blockAttendee)
	v1.POST("/images", s.uploadImage)
}

func (p *principal) eventCaller() event.Caller {
	return event.Caller{AccountID: p.AccountID, Actor: p.Actor}
}

// attendeeView is an attendee as the All users list shows it: the row plus
// what a person reads (labels), what they may do (actions) and the newest
// email about them.
type attendeeView struct {
	*event.Attendee
	Name        string         `json:"name"`
	Roles       []string       `json:"roles"`
	StatusLabel string         `json:"status_label"`
	DetailLabel string         `json:"detail_label"`
	Actions     []event.Action `json:"actions"`
	// LastEmail is null when no email was ever queued for the attendee.
	LastEmail *mail.Delivery `json:"last_email"`
	ImageURL  string         `json:"image_url,omitempty"`
}

// viewAttendees builds the views of attendees of ev, with their last emails
// read in one query.
func (s *Server) viewAttendees(c *gin.Context, ev *event.Event, rows []event.Attendee) ([]attendeeView, error) {
	out := make([]attendeeView, len(rows))
	ids := make([]string, len(rows))
	for i := range rows {
		a := &rows[i]
		ids[i] = a.ID
		actions := event.Allowed(a, ev)
		if actions == nil {
			actions = []event.Action{}
		}
		out[i] = attendeeView{Attendee: a, Name: a.Name(), Roles: a.Roles(), StatusLabel: a.Status.Label(),
			DetailLabel: a.Detail.Label(), Actions: actions}
		if a.ImageRef != "" {
			out[i].ImageURL = event.ImageURL(a.ImageRef)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	last, err := mail.LastDeliveries(c.Request.Context(), s.cfg.DB, ev.AccountID, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].LastEmail = last[out[i].ID]
	}
	return out, nil
}

// answerAttendee writes one attendee's view with status.
func (s *Server) answerAttendee(c *gin.Context, status int, ev *event.Event, a *event.Attendee) {
	v, err := s.viewAttendees(c, ev, []event.Attendee{*a})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, v[0])
}

func (s *Server) listEvents(c *gin.Context) {
	evs, err := event.ListEvents(c.Request.Context(), s.cfg.DB, who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if evs == nil {
		evs = []event.Event{}
	}
	c.JSON(http.StatusOK, gin.H{"items": evs})
}

func (s *Server) createEvent(c *gin.Context) {
	var in event.EventInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	ev, err := s.cfg.Events.CreateEvent(c.Request.Context(), who(c).eventCaller(), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, ev)
}

func (s *Server) getEvent(c *gin.Context) {
	ev, err := event.GetEvent(c.Request.Context(), s.cfg.DB, who(c).AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ev)
}

func (s *Server) updateEvent(c *gin.Context) {
	// The event is looked up first so another account's id is "not found"
	// whatever the body holds.
	if _, err := event.GetEvent(c.Request.Context(), s.cfg.DB, who(c).AccountID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	var p event.EventPatch
	if err := bind(c, &p); err != nil {
		s.fail(c, err)
		return
	}
	ev, err := s.cfg.Events.UpdateEvent(c.Request.Context(), who(c).eventCaller(), c.Param("id"), p)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ev)
}

// maxPage bounds page before the query runs, so the offset cannot overflow;
// the real bound (the last page) is checked against the total.
const maxPage = 1_000_000

var statusNames, roleNames = func() (string, string) {
	var ss []string
	for _, s := range event.Statuses {
		ss = append(ss, string(s))
	}
	return strings.Join(ss, ", "), strings.Join([]string{event.RoleAttendee, event.RoleSpeaker, event.RoleModerator, event.RoleOrganizer}, ", ")
}()

// attendeeQuery reads the All users list's query string, naming every wrong
// parameter at once. Repeated role and status parameters mean "any of".
func attendeeQuery(v url.Values, accountID string) (event.Query, error) {
	var q event.Query
	var fs problem.Fields
	for k := range v {
		switch k {
		case "search", "role", "status", "delivery", "sort", "order", "page", "per_page":
		default:
			fs.Add(k, fmt.Sprintf("unknown query parameter %q: use search, role, status, delivery, sort, order, page or per_page", k))
		}
	}
	switch d := v["delivery"]; {
	case len(d) > 1:
		fs.Add("delivery", "give at most one delivery status")
	case len(d) == 1 && d[0] != "":
		if msg := mail.FilterProblem(d[0]); msg != "" {
			fs.Add("delivery", msg)
		} else {
			q.Within = mail.RefsWithDelivery(accountID, d[0])
		}
	}
	q.Search = v.Get("search")
	if utf8.RuneCountInString(q.Search) > 254 {
		fs.Add("search", "search is longer than 254 characters")
	}
	for _, r := range v["role"] {
		switch r {
		case event.RoleAttendee, event.RoleSpeaker, event.RoleModerator, event.RoleOrganizer:
			q.Roles = append(q.Roles, r)
		default:
			fs.Add("role", fmt.Sprintf("unknown role %q: use %s", r, roleNames))
		}
	}
	for _, st := range v["status"] {
		if !event.Status(st).Valid() {
			fs.Add("status", fmt.Sprintf("unknown status %q: use %s", st, statusNames))
			continue
		}
		q.Statuses = append(q.Statuses, event.Status(st))
	}
	switch sort := v.Get("sort"); sort {
	case "", event.SortName, event.SortCreatedAt:
		q.Sort = sort
	default:
		fs.Add("sort", fmt.Sprintf("unknown sort %q: use name or created_at", sort))
	}
	switch o := v.Get("order"); o {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		fs.Add("order", fmt.Sprintf("unknown order %q: use asc or desc", o))
	}
	q.Page = 1
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		switch {
		case err != nil:
			fs.Add("page", fmt.Sprintf("page %q is not a whole number", p))
		case n < 1 || n > maxPage:
			fs.Add("page", fmt.Sprintf("page %d is out of range: pages count from 1", n))
		default:
			q.Page = n
		}
	}
	q.PageSize = event.DefaultPageSize
	if p := v.Get("per_page"); p != "" {
		n, err := strconv.Atoi(p)
		switch {
		case err != nil:
			fs.Add("per_page", fmt.Sprintf("per_page %q is not a whole number", p))
		case n < 1 || n > event.MaxPageSize:
			fs.Add("per_page", fmt.Sprintf("per_page %d is out of range: between 1 and %d", n, event.MaxPageSize))
		default:
			q.PageSize = n
		}
	}
	return q, fs.Err()
}

func (s *Server) listAttendees(c *gin.Context) {
	ctx := c.Request.Context()
	ev, err := event.GetEvent(ctx, s.cfg.DB, who(c).AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	q, err := attendeeQuery(c.Request.URL.Query(), ev.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	page, err := event.List(ctx, s.cfg.DB, ev.ID, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Page 1 always exists (it may be empty); a page past the last one is
	// a client's mistake worth naming rather than an empty answer that
	// looks like "no attendees".
	if last := (page.Total + int64(q.PageSize) - 1) / int64(q.PageSize); q.Page > 1 && int64(q.Page) > last {
		s.fail(c, problem.Field("page", fmt.Sprintf("page %d is out of range: %d attendees match, %d pages of %d", q.Page, page.Total, last, q.PageSize)))
		return
	}
	items, err := s.viewAttendees(c, ev, page.Rows)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "total": page.Total, "page": q.Page, "per_page": q.PageSize})
}

func (s *Server) inviteAttendee(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	var in event.InviteInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if err := event.CheckImageRef(ctx, s.cfg.DB, p.AccountID, strings.TrimSpace(in.ImageRef)); err != nil {
		s.fail(c, err)
		return
	}
	in.ImageRef = strings.TrimSpace(in.ImageRef)
	a, err := s.cfg.Events.Invite(ctx, p.eventCaller(), ev.ID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAttendee(c, http.StatusCreated, ev, a)
}

func (s *Server) getAttendee(c *gin.Context) {
	a, ev, err := s.cfg.Events.GetAttendee(c.Request.Context(), who(c).eventCaller(), c.Param("id"), c.Param("aid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAttendee(c, http.StatusOK, ev, a)
}

// editAttendee is the Edit action. Fields absent from the body keep their
// value: the body is decoded over the attendee's current profile.
func (s *Server) editAttendee(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	a, ev, err := s.cfg.Events.GetAttendee(ctx, p.eventCaller(), c.Param("id"), c.Param("aid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	prof := event.Profile{FirstName: a.FirstName, LastName: a.LastName, Speaker: a.Speaker, Moderator: a.Moderator,
		Organizer: a.Organizer, Title: a.Title, Company: a.Company, Bio: a.Bio, ImageRef: a.ImageRef}
	if err := bind(c, &prof); err != nil {
		s.fail(c, err)
		return
	}
	prof.ImageRef = strings.TrimSpace(prof.ImageRef)
	if prof.ImageRef != a.ImageRef {
		if err := event.CheckImageRef(ctx, s.cfg.DB, p.AccountID, prof.ImageRef); err != nil {
			s.fail(c, err)
			return
		}
	}
	a, err = s.cfg.Events.Update(ctx, p.eventCaller(), ev.ID, a.ID, prof)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAttendee(c, http.StatusOK, ev, a)
}

func (s *Server) removeAttendee(c *gin.Context) {
	if err := s.cfg.Events.Remove(c.Request.Context(), who(c).eventCaller(), c.Param("id"), c.Param("aid")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// attendeeAction runs one of the row actions that has no endpoint of its
// own. Each core method checks the action against the attendee's status in
// its transaction (409 with the reason when refused).
func (s *Server) attendeeAction(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	act := event.Action(c.Param("action"))
	switch act {
	case event.ActionResendInvitation, event.ActionResendRegistration, event.ActionBlockFromChat, event.ActionGenerateLoginLink:
	case event.ActionEdit, event.ActionRemove, event.ActionViewAnalytics:
		s.fail(c, problem.Field("action", fmt.Sprintf("%q has its own endpoint: %s", string(act), ownEndpoint[act])))
		return
	default:
		s.fail(c, problem.Field("action", fmt.Sprintf("unknown action %q: use resend_invitation, resend_registration_confirmation, block_from_chat or generate_login_link", string(act))))
		return
	}
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	var a *event.Attendee
	switch act {
	case event.ActionResendInvitation:
		a, err = s.cfg.Events.ResendInvitation(ctx, p.eventCaller(), ev.ID, c.Param("aid"))
	case event.ActionResendRegistration:
		a, err = s.cfg.Events.ResendConfirmation(ctx, p.eventCaller(), ev.ID, c.Param("aid"))
	case event.ActionBlockFromChat:
		a, err = s.cfg.Events.BlockFromChat(ctx, p.eventCaller(), ev.ID, c.Param("aid"))
	case event.ActionGenerateLoginLink:
		// The link is shown only in this answer: only its hash is kept.
		var l *event.IssuedLink
		if l, err = s.cfg.Events.GenerateLoginLink(ctx, p.eventCaller(), ev.ID, c.Param("aid")); err == nil {
			c.JSON(http.StatusOK, l)
			return
		}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAttendee(c, http.StatusOK, ev, a)
}

var ownEndpoint = map[event.Action]string{
	event.ActionEdit:          "PATCH /api/v1/events/{id}/attendees/{aid}",
	event.ActionRemove:        "DELETE /api/v1/events/{id}/attendees/{aid}",
	event.ActionViewAnalytics: "GET /api/v1/events/{id}/attendees/{aid}/analytics",
}

func (s *Server) attendeeAnalytics(c *gin.Context) {
	an, err := s.cfg.Events.Analytics(c.Request.Context(), who(c).eventCaller(), c.Param("id"), c.Param("aid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, an)
}

// blockAttendee bars an attendee from the event (account admins only: it is
// not a row action of the organizer's menu).
func (s *Server) blockAttendee(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.cfg.Events.Block(ctx, p.eventCaller(), ev.ID, c.Param("aid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAttendee(c, http.StatusOK, ev, a)
}
