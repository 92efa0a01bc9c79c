package schedule

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/host"
)

// Overview is one plugin as an operator sees it: its declaration, its
// process (when this process runs the host) and its job's record.
type Overview struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Path     string `json:"path"`
	Schedule string `json:"schedule,omitempty"`
	// Job is what the schedule runs, from the kind's entry in the table of
	// kinds ("" for a kind without a job).
	Job string `json:"job,omitempty"`
	// State and the fields after it come from the host; State is empty when
	// the plugin is not run by this process (e.g. `gateway plugins list`).
	State       host.State `json:"state,omitempty"`
	Version     string     `json:"version,omitempty"`
	APIVersion  uint32     `json:"api_version,omitempty"`
	PID         int        `json:"pid,omitempty"`
	Restarts    int        `json:"restarts"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt time.Time  `json:"last_error_at,omitzero"`
	// NextRun is the next tick of the schedule.
	NextRun time.Time `json:"next_run,omitzero"`
	// LastRun is the latest run of its job, from the database.
	LastRun       *scheduled.Run `json:"last_run,omitempty"`
	LastSuccessAt time.Time      `json:"last_success_at,omitzero"`
}

// Overviews combines declarations, the host's statuses (nil when the host
// runs elsewhere) and the run records in db, in config order.
func Overviews(ctx context.Context, db *gorm.DB, cfgs []host.Config, statuses []host.Status, now time.Time) ([]Overview, error) {
	names := make([]string, len(cfgs))
	for i, c := range cfgs {
		names[i] = c.Name
	}
	last, err := scheduled.LastRuns(ctx, db, names)
	if err != nil {
		return nil, err
	}
	ok, err := scheduled.LastSuccess(ctx, db, names)
	if err != nil {
		return nil, err
	}
	byName := map[string]host.Status{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	out := make([]Overview, len(cfgs))
	for i, c := range cfgs {
		o := Declared(c, now)
		o.LastSuccessAt = ok[c.Name]
		if st, found := byName[c.Name]; found {
			o.State, o.Version, o.APIVersion, o.PID = st.State, st.Version, st.APIVersion, st.PID
			o.Restarts, o.LastError, o.LastErrorAt = st.Restarts, st.LastError, st.LastErrorAt
		}
		if r, found := last[c.Name]; found {
			rr := r
			o.LastRun = &rr
			if o.Version == "" {
				o.Version = r.PluginVersion
			}
			if o.LastError == "" && r.Status == scheduled.StatusFailed {
				o.LastError, o.LastErrorAt = r.Error, r.StartedAt
			}
		}
		out[i] = o
	}
	return out, nil
}

// Declared is what the declaration alone says of a plugin: its kind's job
// and, from the schedule, the next run after now.
func Declared(c host.Config, now time.Time) Overview {
	o := Overview{Name: c.Name, Kind: c.Kind, Path: c.Path, Schedule: c.Schedule}
	if kind, err := host.LookupKind(plugins.Kind(c.Kind)); err == nil {
		o.Job = kind.Job
	}
	if c.Schedule != "" {
		if sched, err := host.ParseSchedule(c.Schedule); err == nil {
			o.NextRun = sched.Next(now)
		}
	}
	return o
}

// Overview reports every plugin of the host with its job's record.
func (s *Scheduler) Overview(ctx context.Context) ([]Overview, error) {
	var statuses []host.Status
	for _, c := range s.opts.Host.Configs() {
		if st, ok := s.opts.Host.StatusOf(c.Name); ok {
			statuses = append(statuses, st)
		}
	}
	out, err := Overviews(ctx, s.opts.DB.R, s.opts.Host.Configs(), statuses, s.opts.Now())
	for i := range out {
		if next := s.Next(out[i].Name); !next.IsZero() {
			out[i].NextRun = next
		}
	}
	return out, err
}
