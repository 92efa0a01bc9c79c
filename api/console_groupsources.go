package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/scheduled"
)

// The console's Directory sync pages: the account's group sources, and per
// source its schedule, last runs, a progress bar while one runs, Run now
// and the held sync to review, confirm or discard. The pages are rendered
// on the server; directory.js calls the same /api/v1/group-sources
// endpoints a program would, and polls them while a run goes on.

func (s *Server) consoleGroupSourceRoutes(con *gin.RouterGroup) {
	con.GET("/directory-sync", s.adminOnly, s.consoleGroupSources)
	con.GET("/directory-sync/:name", s.adminOnly, s.consoleGroupSource)
}

// consoleRuns is how many recent runs a source's page lists.
const consoleRuns = 10

func (s *Server) consoleGroupSources(c *gin.Context) {
	ctx, acct := c.Request.Context(), who(c).AccountID
	var views []groupSourceView
	for _, d := range s.cfg.GroupSources.GroupSourcesOf(acct) {
		v, err := s.viewOf(ctx, acct, d)
		if err != nil {
			s.fail(c, err)
			return
		}
		views = append(views, v)
	}
	s.render(c, http.StatusOK, "directory_syncs", pageData{Title: "Directory sync", Data: views})
}

type consoleGroupSourcePage struct {
	Source groupSourceView
	Runs   []syncRun
	// Running is the run going on, if any.
	Running *syncRun
	// The held sync's first page of members it would remove, how many in
	// all, and the groups it would remove.
	Removals     []group.HeldRemoval
	RemovalTotal int64
	HeldGroups   []group.Group
	// More says there are more than the first page.
	More bool
}

func (s *Server) consoleGroupSource(c *gin.Context) {
	d, err := s.groupSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx, acct := c.Request.Context(), who(c).AccountID
	v, err := s.viewOf(ctx, acct, d)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := consoleGroupSourcePage{Source: v}
	runs, err := scheduled.History(ctx, s.cfg.DB.R, d.Name, consoleRuns)
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, r := range runs {
		p.Runs = append(p.Runs, syncRunOf(r))
	}
	if v.LastRun != nil && v.LastRun.Status == scheduled.StatusRunning {
		p.Running = v.LastRun
	}
	if v.Held != nil {
		if p.Removals, p.RemovalTotal, err = group.HeldRemovals(ctx, s.cfg.DB.R, v.Held.ID, 1, groupSourcePerPage); err == nil {
			p.HeldGroups, err = group.HeldGroups(ctx, s.cfg.DB.R, v.Held.ID)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		p.More = p.RemovalTotal > int64(len(p.Removals))
	}
	s.render(c, http.StatusOK, "directory_sync", pageData{Title: "Directory sync: " + d.Name, Data: p})
}
