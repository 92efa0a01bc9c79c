package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
)

// The console's access pages: a closed event's Event access tab (its
// groups, granted or not, and its access settings) and the account's
// groups, where an admin makes manual groups and changes their members.
// Like the All users list, the lists are rendered on the server from the
// query string; access.js adds the confirmations, which call the same
// /api/v1 endpoints a program would.

// consoleAccessRoutes serves the console's access pages.
func (s *Server) consoleAccessRoutes(con *gin.RouterGroup) {
	con.GET("/events/:id/access", s.consoleEventAccess)
	con.GET("/groups", s.consoleGroups)
	con.GET("/groups/:gid", s.consoleGroup)
}

// consoleAccessPerPage is the Event access tab's page size.
const consoleAccessPerPage = 25

type consoleAccessPage struct {
	Event    *event.Event
	Tabs     []consoleLink
	Query    event.GrantQuery
	Items    []event.GroupAccess
	Total    int64
	Granted  int64
	Filters  []consoleOption
	Pages    int
	Prev     string
	Next     string
	ViewAll  string
	ClearURL string
}

// accessURL is the Event access tab's address for q, defaults left out.
func accessURL(eventID string, q event.GrantQuery) string {
	v := url.Values{}
	if q.Filter != "" && q.Filter != event.GrantsAll {
		v.Set("filter", q.Filter)
	}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage != consoleAccessPerPage {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	u := "/console/events/" + eventID + "/access"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

// consoleEventTabs are an event page's tabs: All users and, for a closed
// event, Event access second; Speakers and Moderators after them.
func consoleEventTabs(ev *event.Event, current string) []consoleLink {
	base := "/console/events/" + ev.ID
	tabs := []consoleLink{{Label: "All users", URL: base, Current: current == consoleTabAll}}
	if ev.Closed {
		tabs = append(tabs, consoleLink{Label: "Event access", URL: base + "/access", Current: current == "access"})
	}
	return append(tabs,
		consoleLink{Label: "Speakers", URL: base + "?tab=" + consoleTabSpeakers, Current: current == consoleTabSpeakers},
		consoleLink{Label: "Moderators", URL: base + "?tab=" + consoleTabModerators, Current: current == consoleTabModerators})
}

func (s *Server) consoleEventAccess(c *gin.Context) {
	p := who(c)
	ctx := c.Request.Context()
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	v := c.Request.URL.Query()
	if v.Get("per_page") == "" {
		v.Set("per_page", strconv.Itoa(consoleAccessPerPage))
	}
	q, err := grantQuery(v)
	if err != nil {
		s.fail(c, err)
		return
	}
	if q.Filter == "" {
		q.Filter = event.GrantsAll
	}
	d := consoleAccessPage{Event: ev, Tabs: consoleEventTabs(ev, "access"), Query: q}
	pg, err := s.cfg.Events.Grants(ctx, p.eventCaller(), ev.ID, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	d.Items, d.Total, d.Granted = pg.Items, pg.Total, pg.Granted
	d.Pages = int((d.Total + int64(q.PerPage) - 1) / int64(q.PerPage))
	if q.Page > 1 {
		prev := q
		prev.Page = min(q.Page-1, max(d.Pages, 1))
		d.Prev = accessURL(ev.ID, prev)
	}
	if q.Page < d.Pages {
		next := q
		next.Page++
		d.Next = accessURL(ev.ID, next)
	}
	d.ViewAll = accessURL(ev.ID, event.GrantQuery{Filter: event.GrantsGranted, PerPage: q.PerPage})
	d.ClearURL = accessURL(ev.ID, event.GrantQuery{PerPage: q.PerPage})
	for _, f := range []consoleOption{{Value: event.GrantsAll, Label: "All groups"}, {Value: event.GrantsGranted, Label: "Access granted"}, {Value: event.GrantsNotGranted, Label: "No access"}} {
		f.Checked = f.Value == q.Filter
		d.Filters = append(d.Filters, f)
	}
	s.render(c, http.StatusOK, "event_access", pageData{Title: "Event access: " + ev.Name, Data: d})
}

type consoleGroupsPage struct {
	Query      group.Query
	Page       int
	Items      []group.Listed
	Total      int64
	Pages      int
	Prev, Next string
	MaxName    int
}

func groupsURL(q group.Query, page int) string {
	v := url.Values{}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	if q.Provenance != "" {
		v.Set("provenance", q.Provenance)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/console/groups"
	}
	return "/console/groups?" + v.Encode()
}

func (s *Server) consoleGroups(c *gin.Context) {
	v := c.Request.URL.Query()
	v.Set("per_page", strconv.Itoa(consoleAccessPerPage))
	q, page, per, err := groupsQuery(v)
	if err != nil {
		s.fail(c, err)
		return
	}
	pg, err := group.Search(c.Request.Context(), s.cfg.DB.R, who(c).AccountID, q, page, per)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleGroupsPage{Query: q, Page: page, Items: pg.Rows, Total: pg.Total, MaxName: group.MaxNameLength}
	d.Pages = int((pg.Total + int64(per) - 1) / int64(per))
	if page > 1 {
		d.Prev = groupsURL(q, min(page-1, max(d.Pages, 1)))
	}
	if page < d.Pages {
		d.Next = groupsURL(q, page+1)
	}
	s.render(c, http.StatusOK, "groups", pageData{Title: "Groups", Data: d})
}

// consoleGroupMembers bounds the members one group page shows.
const consoleGroupMembers = 500

type consoleGroupPage struct {
	Group      *group.Group
	Provenance string
	Manual     bool
	Members    []group.Member
	// More says the group has more members than the page shows.
	More bool
}

func (s *Server) consoleGroup(c *gin.Context) {
	ctx := c.Request.Context()
	g, err := group.Get(ctx, s.cfg.DB.R, who(c).AccountID, c.Param("gid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	ms, err := group.Members(ctx, s.cfg.DB.R, g.ID, 0, consoleGroupMembers+1)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleGroupPage{Group: g, Provenance: group.ProvenanceOf(g.Source), Manual: g.Source == group.SourceManual, Members: ms}
	if len(ms) > consoleGroupMembers {
		d.Members, d.More = ms[:consoleGroupMembers], true
	}
	s.render(c, http.StatusOK, "group", pageData{Title: fmt.Sprintf("Group %s", g.Name), Data: d})
}
