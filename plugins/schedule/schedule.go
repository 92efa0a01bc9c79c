// Package schedule runs the plugins' scheduled jobs: group sync for group
// sources (applied to core/group as a difference) and template refresh for
// template providers. robfig/cron fires each job on its plugin's schedule; a
// job never overlaps itself; each run is recorded in the database with its
// outcome (core/scheduled owns the records, core data migrated with the
// rest of the schema), and a failed run is simply tried again at the next
// tick. With several replicas on one PostgreSQL database, an advisory lock
// and the run record's unique (plugin, tick) make exactly one replica run
// each tick.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"os"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// TemplateSink receives every template a provider listed at a refresh
// (core/mail's Catalog.Refresh stores them in the database). It checks each
// one itself, keeps the last good version of any it refuses, and returns an
// error naming the refused ones, which fails the run.
type TemplateSink func(ctx context.Context, provider string, templates []templateprovider.Template) error

// Plugins is what the scheduler needs of the plugin host (*host.Host).
type Plugins interface {
	Configs() []host.Config
	StatusOf(name string) (host.Status, bool)
	GroupSource(name string) (groupsource.GroupSource, error)
	TemplateProvider(name string) (templateprovider.TemplateProvider, error)
}

// Options configure a Scheduler.
type Options struct {
	DB   *store.DB
	Host Plugins
	// Logger receives job logs (default: discard).
	Logger *slog.Logger
	// Templates receives every refreshed template; without it they are
	// kept only in memory (see Scheduler.Templates).
	Templates TemplateSink
	// JobTimeout bounds one run (default 30m); a run still marked running
	// after it is considered abandoned by a replica that stopped.
	JobTimeout time.Duration
	// Replica names this process in run records (default host:pid).
	Replica string
	Now     func() time.Time
}

// Scheduler runs the scheduled jobs of the host's plugins.
type Scheduler struct {
	opts Options
	log  *slog.Logger
	cron *cron.Cron
	jobs map[string]*job

	mu        sync.Mutex
	templates map[string]map[string]templateprovider.Template // provider -> name/locale -> last good
	running   sync.WaitGroup
	ctx       context.Context
	cancel    context.CancelFunc
}

type job struct {
	cfg   host.Config
	sched cron.Schedule
	busy  sync.Mutex // a job never overlaps itself in this process
	entry cron.EntryID
}

// New prepares the jobs of every scheduled plugin of the host.
func New(opts Options) (*Scheduler, error) {
	if opts.DB == nil || opts.Host == nil {
		return nil, errors.New("schedule: DB and Host are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 30 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Replica == "" {
		h, _ := os.Hostname()
		opts.Replica = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	s := &Scheduler{
		opts: opts, log: opts.Logger,
		cron:      cron.New(cron.WithLocation(time.UTC)),
		jobs:      map[string]*job{},
		templates: map[string]map[string]templateprovider.Template{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, c := range opts.Host.Configs() {
		if c.Schedule == "" {
			continue
		}
		sched, err := host.ParseSchedule(c.Schedule)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: schedule: %w", c.Name, err)
		}
		j := &job{cfg: c, sched: sched}
		j.entry = s.cron.Schedule(sched, cron.FuncJob(func() { s.tick(j) }))
		s.jobs[c.Name] = j
	}
	return s, nil
}

// Start marks runs abandoned by stopped replicas as failed and starts the
// clock.
func (s *Scheduler) Start(ctx context.Context) error {
	now := s.opts.Now()
	if err := scheduled.Abandon(ctx, s.opts.DB, now.Add(-s.opts.JobTimeout), now); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	s.cron.Start()
	return nil
}

// Stop stops the clock, cancels runs in progress and waits for them until
// ctx ends.
func (s *Scheduler) Stop(ctx context.Context) error {
	<-s.cron.Stop().Done()
	s.cancel()
	done := make(chan struct{})
	go func() { s.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping scheduled jobs: %w", ctx.Err())
	}
}

// Next is when the plugin's job runs next (zero if it has none or the
// scheduler is not started).
func (s *Scheduler) Next(name string) time.Time {
	j, ok := s.jobs[name]
	if !ok {
		return time.Time{}
	}
	return s.cron.Entry(j.entry).Next
}

// Templates returns the last good templates of a provider.
func (s *Scheduler) Templates(provider string) []templateprovider.Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]templateprovider.Template, 0, len(s.templates[provider]))
	for _, t := range s.templates[provider] {
		out = append(out, t)
	}
	return out
}

// ErrBusy: the job is already running (here, or on another replica).
var ErrBusy = errors.New("the job is already running")

// errElsewhere: another replica holds the job's lock.
var errElsewhere = fmt.Errorf("%w on another replica", ErrBusy)

// RunNow runs the plugin's job at once (an operator's "sync now"), under the
// same rules as a scheduled run, and returns its record.
func (s *Scheduler) RunNow(ctx context.Context, name string) (*scheduled.Run, error) {
	j, ok := s.jobs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q has no scheduled job", host.ErrUnknownPlugin, name)
	}
	return s.run(ctx, j, s.opts.Now().UTC(), "manual")
}

// tick is what cron calls.
func (s *Scheduler) tick(j *job) {
	now := s.opts.Now().UTC()
	// The tick every replica computes alike: cron fires on whole seconds, and
	// an @every schedule is bucketed by its period.
	tick := now.Truncate(time.Second)
	if d, ok := j.sched.(cron.ConstantDelaySchedule); ok {
		tick = now.Truncate(d.Delay)
	}
	r, err := s.run(s.ctx, j, tick, "schedule")
	switch {
	case errors.Is(err, errElsewhere):
		s.log.Debug("scheduled job left to the replica running it", "plugin", j.cfg.Name)
	case errors.Is(err, ErrBusy):
		s.log.Info("scheduled job skipped: the previous run is still going", "plugin", j.cfg.Name)
	case err != nil && r == nil:
		s.log.Error("scheduled job could not run", "plugin", j.cfg.Name, "error", err)
	}
}

// run executes one run of j for tick, unless it is running already or
// another replica claimed the tick (then it returns nil, nil).
func (s *Scheduler) run(ctx context.Context, j *job, tick time.Time, trigger string) (*scheduled.Run, error) {
	if !j.busy.TryLock() {
		return nil, ErrBusy
	}
	defer j.busy.Unlock()
	s.running.Add(1)
	defer s.running.Done()

	release, ok, err := s.opts.DB.TryLock(ctx, "plugin-job:"+j.cfg.Name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errElsewhere
	}
	defer release()

	r := &scheduled.Run{
		ID: id.New(), Plugin: j.cfg.Name, Kind: j.cfg.Kind, Job: jobName(j.cfg.Kind),
		Tick: tick, Trigger: trigger, StartedAt: s.opts.Now().UTC(), Status: scheduled.StatusRunning, Replica: s.opts.Replica,
	}
	if st, ok := s.opts.Host.StatusOf(j.cfg.Name); ok {
		r.PluginVersion = st.Version
	}
	if first, err := scheduled.Begin(ctx, s.opts.DB, r); err != nil || !first {
		return nil, err // !first: another replica ran this tick
	}
	log := s.log.With("plugin", j.cfg.Name, "job", r.Job, "run", r.ID)
	log.Info("plugin job started")

	jctx, cancel := context.WithTimeout(ctx, s.opts.JobTimeout)
	summary, runErr := s.execute(jctx, j.cfg)
	cancel()

	finished := s.opts.Now().UTC()
	r.FinishedAt, r.Summary = &finished, summary
	r.Status = scheduled.StatusOK
	if runErr != nil {
		r.Status, r.Error = scheduled.StatusFailed, runErr.Error()
		log.Error("plugin job failed; it runs again at the next tick", "error", runErr, "summary", summary)
	} else {
		log.Info("plugin job done", "summary", summary, "took", finished.Sub(r.StartedAt))
	}
	if st, ok := s.opts.Host.StatusOf(j.cfg.Name); ok && st.Version != "" {
		r.PluginVersion = st.Version
	}
	// Record the outcome even when ctx was cancelled by shutdown.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	if err := scheduled.Finish(wctx, s.opts.DB, r); err != nil {
		return r, err
	}
	return r, runErr
}

func jobName(kind string) string {
	if plugins.Kind(kind) == plugins.KindGroupSource {
		return JobGroupSync
	}
	return JobTemplateRefresh
}

func (s *Scheduler) execute(ctx context.Context, c host.Config) (string, error) {
	switch plugins.Kind(c.Kind) {
	case plugins.KindGroupSource:
		gs, err := s.opts.Host.GroupSource(c.Name)
		if err != nil {
			return "", err
		}
		return s.syncGroups(ctx, c, gs)
	case plugins.KindTemplateProvider:
		tp, err := s.opts.Host.TemplateProvider(c.Name)
		if err != nil {
			return "", err
		}
		return s.refreshTemplates(ctx, c, tp)
	}
	return "", fmt.Errorf("plugin %q of kind %s has no job", c.Name, c.Kind)
}

// syncGroups lists the source's groups, streams their members into
// core/group.Apply, and lets Apply remove what is gone only if the stream
// completed.
func (s *Scheduler) syncGroups(ctx context.Context, c host.Config, gs groupsource.GroupSource) (string, error) {
	listed, err := gs.ListGroups(ctx)
	if err != nil {
		return "", err
	}
	groups := make([]group.SourceGroup, len(listed))
	for i, g := range listed {
		groups[i] = group.SourceGroup{ExternalID: g.ID, Name: g.Name}
	}
	res, err := group.Apply(ctx, s.opts.DB, c.Account, c.Name, groups, func(emit func(group.SourceMember) error) error {
		return gs.ListMembers(ctx, nil, func(m groupsource.Member) error {
			return emit(group.SourceMember{GroupExternalID: m.GroupID, ExternalID: m.ID, Email: m.Email, Name: m.Name})
		})
	})
	return res.String(), err
}

// refreshTemplates fetches templates and keeps, per name and locale, the
// newest version that parses; a broken new version leaves the last good one
// in service and fails the run so the operator sees it.
func (s *Scheduler) refreshTemplates(ctx context.Context, c host.Config, tp templateprovider.TemplateProvider) (string, error) {
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
	good := make([]templateprovider.Template, 0, len(next))
	for _, t := range next {
		good = append(good, t)
	}
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
