package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"reflect"
	"sync/atomic"
	texttemplate "text/template"
	"time"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// runner does one run of a job for a plugin, given the plugin's client, and
// says what it did. r is the run's record: a job may set its Details and
// Status (StatusHeld) and report progress on it.
type runner func(s *Scheduler, ctx context.Context, c host.Config, client plugins.Plugin, r *scheduled.Run) (summary string, err error)

// runners are the jobs the scheduler runs, by the name the table of kinds
// gives them (host.KindSpec.Job). New refuses a kind whose job is not here.
func runners() map[string]runner {
	return map[string]runner{
		host.JobGroupSync:       runAs((*Scheduler).syncGroups),
		host.JobTemplateRefresh: runAs((*Scheduler).refreshTemplates),
	}
}

// runAs adapts a job written against its kind's interface T.
func runAs[T plugins.Plugin](run func(*Scheduler, context.Context, host.Config, T, *scheduled.Run) (string, error)) runner {
	return func(s *Scheduler, ctx context.Context, c host.Config, client plugins.Plugin, r *scheduled.Run) (string, error) {
		t, ok := client.(T)
		if !ok {
			return "", fmt.Errorf("plugin %q (a %s) cannot run this job: its client is not a %s", c.Name, c.Kind, reflect.TypeFor[T]())
		}
		return run(s, ctx, c, t, r)
	}
}

// syncGroups lists the source's groups and streams their members into
// core/group's guarded sync, which removes what is gone only if the stream
// completed, and holds the removals when they are too many (the source's
// max_removal_share). Progress goes to the run record as members arrive.
func (s *Scheduler) syncGroups(ctx context.Context, c host.Config, gs groupsource.GroupSource, r *scheduled.Run) (string, error) {
	listed, err := gs.ListGroups(ctx)
	if err != nil {
		return "", err
	}
	groups := make([]group.SourceGroup, len(listed))
	for i, g := range listed {
		groups[i] = group.SourceGroup{ExternalID: g.ID, Name: g.Name}
	}
	share := group.DefaultMaxRemovalShare
	if c.MaxRemovalShare != nil {
		share = *c.MaxRemovalShare
	}
	guarded := group.Sync{Account: c.Account, Source: c.Name, Groups: groups, MaxRemovalShare: share, RunID: r.ID,
		Members: func(emit func(group.SourceMember) error) error {
			return gs.ListMembers(ctx, nil, func(m groupsource.Member) error {
				return emit(group.SourceMember{GroupExternalID: m.GroupID, ExternalID: m.ID, Email: m.Email, Name: m.Name})
			})
		},
	}
	p := s.startProgress(ctx, r)
	guarded.Progress = p.set
	res, err := guarded.Run(ctx, s.opts.DB)
	r.Seen, r.Expected = p.stop()
	if b, jerr := json.Marshal(res); jerr == nil {
		r.Details = string(b)
	}
	if err == nil && res.Held {
		r.Status = scheduled.StatusHeld
	}
	return res.String(), err
}

// refreshTemplates fetches templates and keeps, per name and locale, the
// newest version that parses; a broken new version leaves the last good one
// in service and fails the run so the operator sees it.
func (s *Scheduler) refreshTemplates(ctx context.Context, c host.Config, tp templateprovider.TemplateProvider, _ *scheduled.Run) (string, error) {
	ts, err := tp.ListTemplates(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	prev := s.templates[c.Name]
	next := make(map[string]templateprovider.Template, len(ts))
	var broken []error
	changed := 0
	for _, t := range ts {
		key := t.Name + "/" + t.Locale
		if err := parseTemplate(t); err != nil {
			broken = append(broken, fmt.Errorf("%s: %w", key, err))
			if old, ok := prev[key]; ok {
				next[key] = old
			}
			continue
		}
		if old, ok := prev[key]; !ok || old.Version != t.Version {
			changed++
		}
		next[key] = t
	}
	s.templates[c.Name] = next
	s.mu.Unlock()
	summary := fmt.Sprintf("%d templates, %d new or changed, %d invalid", len(ts), changed, len(broken))
	if s.opts.Templates != nil {
		// The sink decides for itself (it also renders each template), and
		// keeps its last good versions across restarts and replicas.
		if err := s.opts.Templates(ctx, c.Name, ts); err != nil {
			return summary, err
		}
	}
	if len(broken) > 0 {
		return summary, fmt.Errorf("invalid templates kept their last good version: %w", errors.Join(broken...))
	}
	return summary, nil
}

func parseTemplate(t templateprovider.Template) error {
	if t.Name == "" || t.Locale == "" || t.Subject == "" || (t.HTML == "" && t.Text == "") {
		return errors.New("a template needs a name, a locale, a subject and an HTML or text body")
	}
	if _, err := texttemplate.New("subject").Parse(t.Subject); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	if _, err := template.New("html").Parse(t.HTML); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	if _, err := texttemplate.New("text").Parse(t.Text); err != nil {
		return fmt.Errorf("text: %w", err)
	}
	return nil
}

// progressEvery is how often a run's progress is written while it goes.
const progressEvery = 500 * time.Millisecond

// progress writes a run's progress to its record from a goroutine of its
// own, the latest figures every progressEvery: the member stream only
// stores them, so it never waits for the database (on SQLite, for the
// writer busy with the sync's own batches).
type progress struct {
	seen, expected atomic.Int64
	done           chan struct{}
	stopped        chan struct{}
}

func (s *Scheduler) startProgress(ctx context.Context, r *scheduled.Run) *progress {
	p := &progress{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var wrote int64 = -1
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
			}
			if seen := p.seen.Load(); seen != wrote {
				if err := scheduled.Progress(ctx, s.opts.DB, r.ID, seen, p.expected.Load()); err != nil {
					s.log.Warn("group sync progress not recorded", "plugin", r.Plugin, "error", err)
				}
				wrote = seen
			}
		}
	}()
	return p
}

func (p *progress) set(seen, expected int) {
	p.expected.Store(int64(expected))
	p.seen.Store(int64(seen))
}

// stop ends the writes and returns the last figures, which the run's
// outcome records.
func (p *progress) stop() (seen, expected int64) {
	close(p.done)
	<-p.stopped
	return p.seen.Load(), p.expected.Load()
}
