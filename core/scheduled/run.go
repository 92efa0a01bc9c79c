// Package scheduled owns the records of the plugins' scheduled jobs (a
// group source's sync, a template provider's refresh): one row per run,
// with its outcome, which the operator sees in `gateway plugins list` and
// the console.
//
// The records are core's data, as the jobs of core/job are, and migrate
// with every other table in core/schema's list; core knows nothing of
// plugins, so only the records live here and plugins/schedule keeps the
// clock and the calls to plugins. They are not core/job's jobs: a run is
// claimed by inserting its (plugin, tick) row, whose unique index decides
// between replicas; it is never resumed, and a failed run simply waits for
// the next tick.
package scheduled

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Run statuses.
const (
	StatusRunning = "running"
	StatusOK      = "ok"
	StatusFailed  = "failed"
	// StatusHeld: the run finished, and what it found was not all applied:
	// a group sync whose removals the mass-removal guard held for an
	// admin to confirm.
	StatusHeld = "held"
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
	// Details is the job's own account of the run as JSON (a group sync's
	// counts), for pages that show more than the summary.
	Details string `json:"-"`
	// Seen counts the items the run went through so far (a group sync's
	// members), updated while it runs; Expected is how many it expects,
	// 0 when unknown.
	Seen     int64 `gorm:"not null;default:0" json:"seen"`
	Expected int64 `gorm:"not null;default:0" json:"expected"`
}

// TableName keeps the table name plain.
func (Run) TableName() string { return "plugin_runs" }

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{{Model: &Run{}, NoPersonalData: "when each plugin's job ran and how it went: " +
		"a group sync's summary counts members and never names them"}}
}

// Begin records r, a run starting; false means another replica recorded
// the same plugin and tick first, and runs it.
func Begin(ctx context.Context, db *store.DB, r *Run) (bool, error) {
	if err := db.W.WithContext(ctx).Create(r).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return false, nil
		}
		return false, fmt.Errorf("record run: %w", err)
	}
	return true, nil
}

// Finish records how r went: its end, status, error, summary and the
// plugin's version.
func Finish(ctx context.Context, db *store.DB, r *Run) error {
	err := db.W.WithContext(ctx).Model(&Run{}).Where("id = ?", r.ID).Updates(map[string]any{
		"finished_at": r.FinishedAt, "status": r.Status, "error": r.Error, "summary": r.Summary, "plugin_version": r.PluginVersion,
		"details": r.Details, "seen": r.Seen, "expected": r.Expected,
	}).Error
	if err != nil {
		return fmt.Errorf("record run outcome: %w", err)
	}
	return nil
}

// Progress records how far a running run got, for pages that poll it.
func Progress(ctx context.Context, db *store.DB, id string, seen, expected int64) error {
	return db.W.WithContext(ctx).Model(&Run{}).Where("id = ? AND status = ?", id, StatusRunning).
		Updates(map[string]any{"seen": seen, "expected": expected}).Error
}

// Get returns one run of the plugin.
func Get(ctx context.Context, db *gorm.DB, plugin, id string) (*Run, error) {
	var r Run
	if err := db.WithContext(ctx).Where("plugin = ? AND id = ?", plugin, id).Limit(1).Find(&r).Error; err != nil || r.ID == "" {
		return nil, err
	}
	return &r, nil
}

// Abandon marks runs still running that started before cutoff as failed:
// the replica running them stopped before it could record their end.
func Abandon(ctx context.Context, db *store.DB, cutoff, now time.Time) error {
	return db.W.WithContext(ctx).Model(&Run{}).
		Where("status = ? AND started_at < ?", StatusRunning, cutoff).
		Updates(map[string]any{"status": StatusFailed, "error": "abandoned: the replica running it stopped", "finished_at": now}).Error
}

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
	return Page(ctx, db, name, 0, limit)
}

// Page returns limit of a plugin's runs, newest first, after skipping
// offset.
func Page(ctx context.Context, db *gorm.DB, name string, offset, limit int) ([]Run, error) {
	out := []Run{}
	err := db.WithContext(ctx).Where("plugin = ?", name).Order("started_at DESC, id DESC").Offset(offset).Limit(limit).Find(&out).Error
	return out, err
}

// Count is how many runs a plugin has.
func Count(ctx context.Context, db *gorm.DB, name string) (int64, error) {
	var n int64
	return n, db.WithContext(ctx).Model(&Run{}).Where("plugin = ?", name).Count(&n).Error
}
