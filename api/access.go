package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/problem"
)

// accessRoutes serves the account's groups and a closed event's access:
// its granted groups and its settings. Every console user organizes the
// account's events, so each may grant and revoke; only admins make manual
// groups and change their members.
func (s *Server) accessRoutes(v1 *gin.RouterGroup) {
	v1.GET("/groups", s.listGroups)
	v1.POST("/groups", s.adminOnly, s.createGroup)
	v1.POST("/groups/:id/members", s.adminOnly, s.addGroupMember)
	v1.DELETE("/groups/:id/members", s.adminOnly, s.removeGroupMember)
	v1.GET("/events/:id/access/groups", s.listEventGroups)
	v1.GET("/events/:id/access/groups/:group", s.getEventGroup)
	v1.PUT("/events/:id/access/groups/:group", s.grantEventGroup)
	v1.DELETE("/events/:id/access/groups/:group", s.revokeEventGroup)
	v1.GET("/events/:id/access/settings", s.getAccessSettings)
	v1.PUT("/events/:id/access/settings", s.putAccessSettings)
}

// maxGroupSearch bounds a search by group name, in characters.
const maxGroupSearch = group.MaxNameLength

// pageQuery reads page and per_page (1 to event.MaxPageSize, default
// event.DefaultPageSize) into fs.
func pageQuery(v url.Values, fs *problem.Fields) (page, perPage int) {
	page, perPage = 1, event.DefaultPageSize
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		switch {
		case err != nil:
			fs.Add("page", fmt.Sprintf("page %q is not a whole number", p))
		case n < 1 || n > maxPage:
			fs.Add("page", fmt.Sprintf("page %d is out of range: pages count from 1", n))
		default:
			page = n
		}
	}
	if p := v.Get("per_page"); p != "" {
		n, err := strconv.Atoi(p)
		switch {
		case err != nil:
			fs.Add("per_page", fmt.Sprintf("per_page %q is not a whole number", p))
		case n < 1 || n > event.MaxPageSize:
			fs.Add("per_page", fmt.Sprintf("per_page %d is out of range: between 1 and %d", n, event.MaxPageSize))
		default:
			perPage = n
		}
	}
	return page, perPage
}

// onlyParams names, in fs, every query parameter not in known.
func onlyParams(v url.Values, fs *problem.Fields, known ...string) {
	for k := range v {
		ok := false
		for _, n := range known {
			ok = ok || k == n
		}
		if !ok {
			fs.Add(k, fmt.Sprintf("unknown query parameter %q: use %v", k, known))
		}
	}
}

func searchParam(v url.Values, fs *problem.Fields) string {
	s := v.Get("search")
	if n := utf8.RuneCountInString(s); n > maxGroupSearch {
		fs.Add("search", fmt.Sprintf("search is %d characters long; at most %d are allowed", n, maxGroupSearch))
	}
	return s
}

// groupsQuery reads GET /groups' query string.
func groupsQuery(v url.Values) (group.Query, int, int, error) {
	var fs problem.Fields
	onlyParams(v, &fs, "search", "source", "provenance", "page", "per_page")
	q := group.Query{Search: searchParam(v, &fs), Source: v.Get("source"), Provenance: v.Get("provenance")}
	if utf8.RuneCountInString(q.Source) > 100 {
		fs.Add("source", "source is longer than 100 characters")
	}
	switch q.Provenance {
	case "", group.ProvenanceSync, group.ProvenanceLogin, group.ProvenanceManual, group.ProvenanceSCIM:
	default:
		fs.Add("provenance", fmt.Sprintf("unknown provenance %q: use sync, login, manual or scim", q.Provenance))
	}
	page, per := pageQuery(v, &fs)
	return q, page, per, fs.Err()
}

func (s *Server) listGroups(c *gin.Context) {
	q, page, per, err := groupsQuery(c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	p, err := group.Search(c.Request.Context(), s.cfg.DB.R, who(c).AccountID, q, page, per)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": p.Rows, "total": p.Total, "page": page, "per_page": per})
}

type groupInput struct {
	Name string `json:"name"`
}

func (s *Server) createGroup(c *gin.Context) {
	var in groupInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	g, err := group.CreateManual(c.Request.Context(), s.cfg.DB, p.AccountID, p.Actor, in.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, group.Listed{Group: *g, Provenance: group.ProvenanceManual})
}

type memberInput struct {
	Email string `json:"email"`
}

func (s *Server) addGroupMember(c *gin.Context) {
	var in memberInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	m, err := group.AddMember(c.Request.Context(), s.cfg.DB, p.AccountID, p.Actor, c.Param("id"), in.Email)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, m)
}

func (s *Server) removeGroupMember(c *gin.Context) {
	var in memberInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := group.RemoveMember(c.Request.Context(), s.cfg.DB, p.AccountID, p.Actor, c.Param("id"), in.Email); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// grantQuery reads the Event access list's query string.
func grantQuery(v url.Values) (event.GrantQuery, error) {
	var fs problem.Fields
	onlyParams(v, &fs, "filter", "search", "page", "per_page")
	q := event.GrantQuery{Filter: v.Get("filter"), Search: searchParam(v, &fs)}
	switch q.Filter {
	case "", event.GrantsAll, event.GrantsGranted, event.GrantsNotGranted:
	default:
		fs.Add("filter", fmt.Sprintf("unknown filter %q: use all, granted or not_granted", q.Filter))
	}
	q.Page, q.PerPage = pageQuery(v, &fs)
	return q, fs.Err()
}

func (s *Server) listEventGroups(c *gin.Context) {
	ctx := c.Request.Context()
	if _, err := event.GetEvent(ctx, s.cfg.DB, who(c).AccountID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	q, err := grantQuery(c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	p, err := s.cfg.Events.Grants(ctx, who(c).eventCaller(), c.Param("id"), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	if last := (p.Total + int64(q.PerPage) - 1) / int64(q.PerPage); q.Page > 1 && int64(q.Page) > last {
		s.fail(c, problem.Field("page", fmt.Sprintf("page %d is out of range: %d groups match, %d pages of %d", q.Page, p.Total, last, q.PerPage)))
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": p.Items, "total": p.Total, "granted_total": p.Granted, "page": q.Page, "per_page": q.PerPage})
}

func (s *Server) getEventGroup(c *gin.Context) {
	g, err := s.cfg.Events.GroupAccessOf(c.Request.Context(), who(c).eventCaller(), c.Param("id"), c.Param("group"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, g)
}

func (s *Server) grantEventGroup(c *gin.Context) {
	g, err := s.cfg.Events.Grant(c.Request.Context(), who(c).eventCaller(), c.Param("id"), c.Param("group"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, g)
}

func (s *Server) revokeEventGroup(c *gin.Context) {
	if err := s.cfg.Events.Revoke(c.Request.Context(), who(c).eventCaller(), c.Param("id"), c.Param("group")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// accessSettings are an event's access settings as the API shows them.
type accessSettings struct {
	Closed          bool `json:"closed"`
	AdditionalUsers bool `json:"additional_users"`
}

// accessSettingsInput changes them; an absent field keeps its value.
type accessSettingsInput struct {
	Closed          *bool `json:"closed"`
	AdditionalUsers *bool `json:"additional_users"`
}

func (s *Server) getAccessSettings(c *gin.Context) {
	ev, err := event.GetEvent(c.Request.Context(), s.cfg.DB, who(c).AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, accessSettings{Closed: ev.Closed, AdditionalUsers: ev.AdditionalUsers})
}

func (s *Server) putAccessSettings(c *gin.Context) {
	ctx := c.Request.Context()
	if _, err := event.GetEvent(ctx, s.cfg.DB, who(c).AccountID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	var in accessSettingsInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	ev, err := s.cfg.Events.UpdateEvent(ctx, who(c).eventCaller(), c.Param("id"), event.EventPatch{Closed: in.Closed, AdditionalUsers: in.AdditionalUsers})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, accessSettings{Closed: ev.Closed, AdditionalUsers: ev.AdditionalUsers})
}
