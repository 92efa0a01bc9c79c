package schedule

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/plugins/host"
)

// Run statuses.
const (
	StatusRunning = "running"
	StatusOK      = "ok"
	StatusFailed  = "failed"
)

// Jobs, as the table of kinds names them (host.KindSpec.Job).
const (
	JobGroupSync       = host.JobGroupSync
	JobTemplateRefresh = host.JobTemplateRefresh
)

// Run records one execution of a plugin's job. The unique (plugin, tick)
// index is how replicas agree that a tick ran once: the replica whose insert
// succeeds runs it.
type Run struct {
	ID     string `gorm:"primaryKey;size:36" json:"id"`
	Plugin string `gorm:"size:100;not null;uniqueIndex:idx_plugin_runs_tick,priority:1;index:idx_plugin_runs_started,priority:1" json:"plugin"`
	Kind   string `gorm:"size:32;not null" json:"kind"`
	Job    string `gorm:"size:32;not null" json:"job"`
	// Tick is the scheduled time the run is for (the start time for a run
	// asked for by hand).
	Tick time.Time `gorm:"not null;uniqueIndex:idx_plugin_runs_tick,priority:2" json:"tick"`
	// Trigger is "schedule" or "manual".
	Trigger    string     `gorm:"size:16;not null" json:"trigger"`
	StartedAt  time.Time  `gorm:"not null;index:idx_plugin_runs_started,priority:2" json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Status     string     `gorm:"size:16;not null" json:"status"`
	Error      string     `json:"error,omitempty"`
	// Summary says what the run did, e.g. "groups +1 ~0 -0, members +12 ~1 -3".
	Summary       string `json:"summary,omitempty"`
	PluginVersion string `gorm:"size:64" json:"plugin_version,omitempty"`
	// Replica is the host:pid that ran it.
	Replica string `gorm:"size:128" json:"replica"`
}

// TableName keeps the table name plain.
func (Run) TableName() string { return "plugin_runs" }

// Models are the tables this package owns.
func Models() []any { return []any{&Run{}} }

// LastRuns returns the latest run of each named plugin that has one.
func LastRuns(ctx context.Context, db *gorm.DB, names []string) (map[string]Run, error) {
	out := map[string]Run{}
	for _, n := range names {
		var r Run
		err := db.WithContext(ctx).Where("plugin = ?", n).Order("started_at DESC").Limit(1).Find(&r).Error
		if err != nil {
			return nil, err
		}
		if r.ID != "" {
			out[n] = r
		}
	}
	return out, nil
}

// LastSuccess returns when each named plugin's job last succeeded.
func LastSuccess(ctx context.Context, db *gorm.DB, names []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for _, n := range names {
		var r Run
		err := db.WithContext(ctx).Where("plugin = ? AND status = ?", n, StatusOK).Order("started_at DESC").Limit(1).Find(&r).Error
		if err != nil {
			return nil, err
		}
		if r.ID != "" {
			out[n] = r.StartedAt
		}
	}
	return out, nil
}

// History returns a plugin's latest runs, newest first.
func History(ctx context.Context, db *gorm.DB, name string, limit int) ([]Run, error) {
	var out []Run
	err := db.WithContext(ctx).Where("plugin = ?", name).Order("started_at DESC").Limit(limit).Find(&out).Error
	return out, err
}
