package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/invitegate/gateway/api"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/schedule"
)

// GroupSourcesOf implements api.GroupSources: the group sources declared
// for the account, with the next tick of each (the scheduler's when it
// runs here, the schedule's otherwise) and the process state.
func (p *Plugins) GroupSourcesOf(accountID string) []api.GroupSourceDecl {
	var out []api.GroupSourceDecl
	now := p.now()
	for _, c := range p.Host.Configs() {
		if c.Kind != string(groupsource.Kind) || c.Account != accountID {
			continue
		}
		d := api.GroupSourceDecl{Name: c.Name, Plugin: filepath.Base(c.Path), Schedule: c.Schedule,
			MaxRemovalShare: group.DefaultMaxRemovalShare, NextRun: schedule.Declared(c, now).NextRun}
		if c.MaxRemovalShare != nil {
			d.MaxRemovalShare = *c.MaxRemovalShare
		}
		if p.running.Load() {
			if next := p.Scheduler.Next(c.Name); !next.IsZero() {
				d.NextRun = next
			}
			if st, ok := p.Host.StatusOf(c.Name); ok {
				d.State = string(st.State)
			}
		}
		out = append(out, d)
	}
	return out
}

// BeginGroupSync implements api.GroupSources: Run now, under the
// scheduler's locks, so it never overlaps a scheduled run of the source
// on any replica.
func (p *Plugins) BeginGroupSync(ctx context.Context, accountID, name string) (*scheduled.Run, error) {
	found := false
	for _, d := range p.GroupSourcesOf(accountID) {
		found = found || d.Name == name
	}
	if !found {
		return nil, problem.New(problem.NotFound, "group_source_not_found", fmt.Sprintf("this account has no group source %q", name))
	}
	if !p.running.Load() {
		return nil, problem.New(problem.Unavailable, "plugins_not_running", "this gateway process does not run the plugins")
	}
	return p.Scheduler.Begin(ctx, name)
}

var _ api.GroupSources = (*Plugins)(nil)
