package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/scheduled"
)

// The account's group sources as its admins see and run them: each
// source's schedule, runs and held sync, Run now, and the confirmation or
// discarding of a held sync. The declarations and the scheduler live with
// the plugins (GroupSources); the runs and held syncs are core's rows.

// GroupSources are the group source plugins of the gateway, for the admin
// API and the Directory sync console page.
type GroupSources interface {
	// GroupSourcesOf are the account's group sources, in config order.
	GroupSourcesOf(accountID string) []GroupSourceDecl
	// BeginGroupSync starts a sync of the account's source now and returns
	// its run record once it is recorded; the sync goes on in the
	// background. One runs at a time per source across replicas: a problem
	// of kind Conflict when one is running.
	BeginGroupSync(ctx context.Context, accountID, name string) (*scheduled.Run, error)
}

// GroupSourceDecl is a group source as the config declares it and the
// scheduler plans it.
type GroupSourceDecl struct {
	Name string
	// Plugin is the executable's file name.
	Plugin          string
	Schedule        string
	MaxRemovalShare float64
	// State is the plugin process's (empty when this gateway does not run
	// the plugins).
	State   string
	NextRun time.Time
}

// errNoGroupSource: the account has no group source of that name.
var errNoGroupSource = problem.New(problem.NotFound, "group_source_not_found", "this account has no group source of that name")

// groupSourcePerPage is a held sync's default page of members.
const groupSourcePerPage = 50

func (s *Server) groupSourceRoutes(v1 *gin.RouterGroup) {
	g := v1.Group("/group-sources", s.adminOnly)
	g.GET("", s.listGroupSources)
	g.GET("/:name/runs", s.listGroupSourceRuns)
	g.POST("/:name/run", s.runGroupSource)
	g.GET("/:name/held", s.getHeldSync)
	g.POST("/:name/held/confirm", s.confirmHeldSync)
	g.POST("/:name/held/discard", s.discardHeldSync)
}

// syncRun is a run of a group source's sync: its record and the counts
// of its result.
type syncRun struct {
	ID         string     `json:"id"`
	Trigger    string     `json:"trigger"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMS *int64     `json:"duration_ms,omitempty"`
	Error      string     `json:"error,omitempty"`
	Summary    string     `json:"summary,omitempty"`
	// Counts from the result; zero while running.
	GroupsAdded    int  `json:"groups_added"`
	GroupsRenamed  int  `json:"groups_renamed"`
	GroupsRemoved  int  `json:"groups_removed"`
	MembersAdded   int  `json:"members_added"`
	MembersUpdated int  `json:"members_updated"`
	MembersRemoved int  `json:"members_removed"`
	MembersSkipped int  `json:"members_skipped"`
	Held           bool `json:"held"`
	HeldMembers    int  `json:"held_members"`
	HeldGroups     int  `json:"held_groups"`
	// MembersSeen is how many members the directory sent so far;
	// ExpectedTotal how many the source had before the run (0: unknown).
	MembersSeen   int64 `json:"members_seen"`
	ExpectedTotal int64 `json:"expected_total"`
}

func syncRunOf(r scheduled.Run) syncRun {
	out := syncRun{ID: r.ID, Trigger: r.Trigger, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Error: r.Error, Summary: r.Summary, MembersSeen: r.Seen, ExpectedTotal: r.Expected}
	if r.FinishedAt != nil {
		ms := r.FinishedAt.Sub(r.StartedAt).Milliseconds()
		out.DurationMS = &ms
	}
	var res group.Result
	if r.Details != "" && json.Unmarshal([]byte(r.Details), &res) == nil {
		out.GroupsAdded, out.GroupsRenamed, out.GroupsRemoved = res.GroupsAdded, res.GroupsUpdated, res.GroupsRemoved
		out.MembersAdded, out.MembersUpdated, out.MembersRemoved, out.MembersSkipped = res.MembersAdded, res.MembersUpdated, res.MembersRemoved, res.MembersSkipped
		out.Held, out.HeldMembers, out.HeldGroups = res.Held, res.HeldMembers, res.HeldGroups
	}
	return out
}

// groupSourceView is a group source as GET /group-sources shows it.
type groupSourceView struct {
	Name            string          `json:"name"`
	Plugin          string          `json:"plugin"`
	Schedule        string          `json:"schedule"`
	MaxRemovalShare float64         `json:"max_removal_share"`
	State           string          `json:"state,omitempty"`
	NextRun         *time.Time      `json:"next_run,omitempty"`
	LastRun         *syncRun        `json:"last_run,omitempty"`
	Held            *group.HeldSync `json:"held_sync,omitempty"`
}

// groupSource returns the account's source named in the path.
func (s *Server) groupSource(c *gin.Context) (GroupSourceDecl, error) {
	for _, d := range s.cfg.GroupSources.GroupSourcesOf(who(c).AccountID) {
		if d.Name == c.Param("name") {
			return d, nil
		}
	}
	return GroupSourceDecl{}, errNoGroupSource
}

// viewOf adds to d its last run and held sync.
func (s *Server) viewOf(ctx context.Context, accountID string, d GroupSourceDecl) (groupSourceView, error) {
	v := groupSourceView{Name: d.Name, Plugin: d.Plugin, Schedule: d.Schedule, MaxRemovalShare: d.MaxRemovalShare, State: d.State}
	if !d.NextRun.IsZero() {
		next := d.NextRun
		v.NextRun = &next
	}
	last, err := scheduled.History(ctx, s.cfg.DB.R, d.Name, 1)
	if err != nil {
		return v, err
	}
	if len(last) == 1 {
		r := syncRunOf(last[0])
		v.LastRun = &r
	}
	v.Held, err = group.Held(ctx, s.cfg.DB.R, accountID, d.Name)
	return v, err
}

func (s *Server) listGroupSources(c *gin.Context) {
	ctx, acct := c.Request.Context(), who(c).AccountID
	out := []groupSourceView{}
	for _, d := range s.cfg.GroupSources.GroupSourcesOf(acct) {
		v, err := s.viewOf(ctx, acct, d)
		if err != nil {
			s.fail(c, err)
			return
		}
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (s *Server) listGroupSourceRuns(c *gin.Context) {
	var fs problem.Fields
	v := c.Request.URL.Query()
	onlyParams(v, &fs, "page", "per_page")
	page, per := pageQuery(v, &fs)
	if err := fs.Err(); err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.groupSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	total, err := scheduled.Count(ctx, s.cfg.DB.R, d.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	runs, err := scheduled.Page(ctx, s.cfg.DB.R, d.Name, (page-1)*per, per)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]syncRun, len(runs))
	for i, r := range runs {
		items[i] = syncRunOf(r)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "total": total, "page": page, "per_page": per})
}

func (s *Server) runGroupSource(c *gin.Context) {
	d, err := s.groupSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, ctx := who(c), c.Request.Context()
	r, err := s.cfg.GroupSources.BeginGroupSync(ctx, p.AccountID, d.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := group.SyncRequested(ctx, s.cfg.DB, p.AccountID, d.Name, r.ID, p.Actor); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"run_id": r.ID, "run": syncRunOf(*r)})
}

func (s *Server) getHeldSync(c *gin.Context) {
	var fs problem.Fields
	v := c.Request.URL.Query()
	onlyParams(v, &fs, "page", "per_page")
	if v.Get("per_page") == "" {
		v.Set("per_page", strconv.Itoa(groupSourcePerPage))
	}
	page, per := pageQuery(v, &fs)
	if err := fs.Err(); err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.groupSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx, acct := c.Request.Context(), who(c).AccountID
	h, err := group.Held(ctx, s.cfg.DB.R, acct, d.Name)
	if err == nil && h == nil {
		err = group.ErrNoHeldSync
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	items, total, err := group.HeldRemovals(ctx, s.cfg.DB.R, h.ID, page, per)
	if err != nil {
		s.fail(c, err)
		return
	}
	groups, err := group.HeldGroups(ctx, s.cfg.DB.R, h.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"held_sync": h, "items": items, "total": total, "page": page, "per_page": per, "groups": groups})
}

// heldInput names the held sync an admin reviewed; without it, the
// source's current one is meant.
type heldInput struct {
	HeldID string `json:"held_id"`
}

// heldSync reads what confirm and discard act on: the source named in the
// path and the optional body naming one held sync.
func (s *Server) heldSync(c *gin.Context) (GroupSourceDecl, heldInput, error) {
	var in heldInput
	if c.Request.ContentLength != 0 {
		if err := bind(c, &in); err != nil {
			return GroupSourceDecl{}, in, err
		}
		if len(in.HeldID) > 36 {
			return GroupSourceDecl{}, in, problem.Field("held_id", "held_id is a held sync's id (36 characters at most)")
		}
	}
	d, err := s.groupSource(c)
	return d, in, err
}

func (s *Server) confirmHeldSync(c *gin.Context) {
	d, in, err := s.heldSync(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	res, err := group.Confirm(c.Request.Context(), s.cfg.DB, p.AccountID, d.Name, in.HeldID, p.Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"members_removed": res.MembersRemoved, "groups_removed": res.GroupsRemoved})
}

func (s *Server) discardHeldSync(c *gin.Context) {
	d, in, err := s.heldSync(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := group.Discard(c.Request.Context(), s.cfg.DB, p.AccountID, d.Name, in.HeldID, p.Actor); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// SharePercent is the source's allowed removal share as pages show it
// ("20 %").
func (v groupSourceView) SharePercent() string {
	return strconv.FormatFloat(v.MaxRemovalShare*100, 'f', -1, 64) + " %"
}

// Duration is how long the run took, as pages show it ("" while running).
func (r syncRun) Duration() string {
	if r.DurationMS == nil {
		return ""
	}
	return (time.Duration(*r.DurationMS) * time.Millisecond).String()
}
