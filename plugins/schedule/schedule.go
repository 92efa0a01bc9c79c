// Package schedule runs the plugins' scheduled jobs: group sync for group
// sources (applied to core/group as a difference) and template refresh for
// template providers. Which job a plugin runs is its kind's entry in the
// table of kinds (host.KindSpec.Job); what each job does is in jobs.go.
// robfig/cron fires each job on its plugin's schedule; a
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
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/workers"
	"github.com/invitegate/gateway/plugins"
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
	// Client is the plugin's typed client (host.Host.Client).
	Client(name string) (plugins.Plugin, error)
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
	name  string // the kind's job, e.g. host.JobGroupSync
	run   runner
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
	known := runners()
	for _, c := range opts.Host.Configs() {
		j, err := newJob(c, known)
		if err != nil {
			return nil, err
		}
		if j == nil {
			continue
		}
		j.entry = s.cron.Schedule(j.sched, cron.FuncJob(func() { s.tick(j) }))
		s.jobs[c.Name] = j
	}
	return s, nil
}

// newJob is the job of a declared plugin as its kind's table entry says,
// nil for a kind that has none.
func newJob(c host.Config, known map[string]runner) (*job, error) {
	kind, err := host.LookupKind(plugins.Kind(c.Kind))
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", c.Name, err)
	}
	if kind.Job == "" {
		return nil, nil
	}
	run, ok := known[kind.Job]
	if !ok {
		return nil, fmt.Errorf("plugin %q: %s run the job %q, which this scheduler does not know", c.Name, kind.Plural, kind.Job)
	}
	sched, err := host.ParseSchedule(c.Schedule)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: schedule: %w", c.Name, err)
	}
	return &job{cfg: c, name: kind.Job, run: run, sched: sched}, nil
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
	return workers.Wait(ctx, &s.running, "scheduled jobs")
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
var ErrBusy = problem.New(problem.Conflict, "job_running", "the job is already running; wait for it to finish")

// errElsewhere: another replica holds the job's lock. It is an ErrBusy
// (errors.Is), with a message that says where.
var errElsewhere = problem.New(problem.Conflict, "job_running", "the job is already running on another replica; wait for it to finish")

// errTickTaken: another replica recorded the same tick first.
var errTickTaken = errors.New("another replica runs this tick")

// RunNow runs the plugin's job at once (an operator's "sync now"), under the
// same rules as a scheduled run, and returns its record.
func (s *Scheduler) RunNow(ctx context.Context, name string) (*scheduled.Run, error) {
	j, ok := s.jobs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q has no scheduled job", host.ErrUnknownPlugin, name)
	}
	c, err := s.claim(ctx, j, s.opts.Now().UTC(), "manual")
	if err != nil {
		return nil, err
	}
	return c.finish(ctx)
}

// Begin starts the plugin's job now in the background, as RunNow does,
// once its run is recorded, and returns that record: the run goes on after
// the caller (a request) is gone, until it ends or the scheduler stops.
// ErrBusy when the job runs already, here or on another replica: the same
// locks as the schedule's keep it one at a time.
func (s *Scheduler) Begin(ctx context.Context, name string) (*scheduled.Run, error) {
	j, ok := s.jobs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q has no scheduled job", host.ErrUnknownPlugin, name)
	}
	c, err := s.claim(ctx, j, s.opts.Now().UTC(), "manual")
	if errors.Is(err, errTickTaken) {
		// A manual run's tick is the start time, shared only by a run
		// another replica began the same instant.
		return nil, ErrBusy
	}
	if err != nil {
		return nil, err
	}
	r := *c.r
	go c.finish(s.ctx)
	return &r, nil
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
	c, err := s.claim(s.ctx, j, tick, "schedule")
	switch {
	case err == errElsewhere, errors.Is(err, errTickTaken):
		s.log.Debug("scheduled job left to the replica running it", "plugin", j.cfg.Name)
		return
	case errors.Is(err, ErrBusy):
		s.log.Info("scheduled job skipped: the previous run is still going", "plugin", j.cfg.Name)
		return
	case err != nil:
		s.log.Error("scheduled job could not run", "plugin", j.cfg.Name, "error", err)
		return
	}
	c.finish(s.ctx)
}

// claimed is a run of a job this process holds the locks of and has
// recorded as running; finish runs it and lets go.
type claimed struct {
	s       *Scheduler
	j       *job
	r       *scheduled.Run
	release func()
}

// claim takes j's locks (this process's, then the database's) and records
// its run for tick. ErrBusy: the job runs already; errTickTaken: another
// replica recorded the tick first.
func (s *Scheduler) claim(ctx context.Context, j *job, tick time.Time, trigger string) (*claimed, error) {
	if !j.busy.TryLock() {
		return nil, ErrBusy
	}
	s.running.Add(1)
	unlock := func() { j.busy.Unlock(); s.running.Done() }
	release, ok, err := s.opts.DB.TryLock(ctx, "plugin-job:"+j.cfg.Name)
	if err != nil || !ok {
		unlock()
		if err == nil {
			err = errElsewhere
		}
		return nil, err
	}
	r := &scheduled.Run{
		ID: id.New(), Plugin: j.cfg.Name, Kind: j.cfg.Kind, Job: j.name,
		Tick: tick, Trigger: trigger, StartedAt: s.opts.Now().UTC(), Status: scheduled.StatusRunning, Replica: s.opts.Replica,
	}
	if st, ok := s.opts.Host.StatusOf(j.cfg.Name); ok {
		r.PluginVersion = st.Version
	}
	first, err := scheduled.Begin(ctx, s.opts.DB, r)
	if err != nil || !first {
		release()
		unlock()
		if err == nil {
			err = errTickTaken
		}
		return nil, err
	}
	return &claimed{s: s, j: j, r: r, release: func() { release(); unlock() }}, nil
}

// finish runs the claimed job, records its outcome and releases its locks.
func (c *claimed) finish(ctx context.Context) (*scheduled.Run, error) {
	defer c.release()
	s, j, r := c.s, c.j, c.r
	log := s.log.With("plugin", j.cfg.Name, "job", r.Job, "run", r.ID)
	log.Info("plugin job started")

	jctx, cancel := context.WithTimeout(ctx, s.opts.JobTimeout)
	summary, runErr := s.execute(jctx, j, r)
	cancel()

	finished := s.opts.Now().UTC()
	r.FinishedAt, r.Summary = &finished, summary
	if r.Status == scheduled.StatusRunning {
		r.Status = scheduled.StatusOK
	}
	if runErr != nil {
		r.Status, r.Error = scheduled.StatusFailed, runErr.Error()
		log.Error("plugin job failed; it runs again at the next tick", "error", runErr, "summary", summary)
	} else {
		log.Info("plugin job done", "status", r.Status, "summary", summary, "took", finished.Sub(r.StartedAt))
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

// execute runs j once with the plugin's client.
func (s *Scheduler) execute(ctx context.Context, j *job, r *scheduled.Run) (string, error) {
	client, err := s.opts.Host.Client(j.cfg.Name)
	if err != nil {
		return "", err
	}
	return j.run(s, ctx, j.cfg, client, r)
}
