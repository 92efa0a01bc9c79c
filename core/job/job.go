// Package job owns background jobs (a bulk import, later syncs): one row per
// job with its status, progress and counts, which the API shows at
// /jobs/{id}, and the claim that decides which process runs it.
//
// A job runs under a lease: the runner that claimed it renews the lease
// with every step it commits, and each step's commit is conditional on
// still holding it. A runner that dies (kill -9, a crashed replica) stops
// renewing; once the lease has run out any runner, in this process or
// another replica, claims the job and resumes it from its last committed
// step. A job never has two runners committing at once. A job being
// prepared before any runner may claim it (an upload being checked) is held
// by its process the same way (hold.go).
package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Statuses of a job.
const (
	// Checking: the input is being read and checked.
	Checking = "checking"
	// Ready: checked; waiting for the person to confirm it.
	Ready = "ready"
	// Refused: the input cannot be used at all; nothing was done.
	Refused = "refused"
	// Queued: confirmed, waiting for a runner.
	Queued = "queued"
	// Running: a runner holds it (until LeaseUntil).
	Running = "running"
	// Done: finished; Counts says what it did.
	Done = "done"
	// Failed: stopped by an error that a retry would not fix (Error).
	Failed = "failed"
	// Discarded: the person dropped it before confirming.
	Discarded = "discarded"
)

// Job is one background job.
type Job struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;index" json:"account_id"`
	// Kind says which package runs it ("bulk_invite").
	Kind   string `gorm:"size:32;not null" json:"kind"`
	Status string `gorm:"size:16;not null;index:idx_jobs_status_lease,priority:1" json:"status"`
	// Subject is what the job is about ("event" and its id).
	SubjectKind string `gorm:"size:32" json:"subject_kind,omitempty"`
	SubjectID   string `gorm:"size:36" json:"subject_id,omitempty"`
	// Total is how many items the job has; Processed how many are done.
	Total     int `gorm:"not null" json:"total"`
	Processed int `gorm:"not null" json:"processed"`
	// Counts is a JSON object of the job's kind ({"added":..}).
	Counts RawJSON `gorm:"type:text" json:"counts"`
	Error  string  `gorm:"type:text" json:"error,omitempty"`
	// CreatedBy is the actor who started it ("user:ID", "api_key:ID").
	CreatedByKind string `gorm:"size:16" json:"created_by_kind"`
	CreatedByID   string `gorm:"size:64" json:"created_by_id"`
	// Runner holds the lease until LeaseUntil.
	Runner     string     `gorm:"size:100" json:"-"`
	LeaseUntil *time.Time `gorm:"index:idx_jobs_status_lease,priority:2" json:"-"`
	// Attempts counts claims: more than one means the job was resumed.
	Attempts   int        `gorm:"not null;default:0" json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// TableName names the table.
func (Job) TableName() string { return "jobs" }

// RawJSON is JSON kept as text in the database and written as is.
type RawJSON string

// MarshalJSON writes the stored JSON ({} when empty).
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("{}"), nil
	}
	return []byte(r), nil
}

// Progress is the share of items processed, 0 to 1.
func (j *Job) Progress() float64 {
	if j.Total <= 0 {
		if j.Status == Done {
			return 1
		}
		return 0
	}
	return float64(j.Processed) / float64(j.Total)
}

// Unfinished are the statuses of a job that may still change: its input
// is still staged, and its work may be ahead.
func Unfinished() []string { return []string{Checking, Ready, Queued, Running} }

// Finished reports whether the job will change no more.
func (j *Job) Finished() bool {
	switch j.Status {
	case Done, Failed, Refused, Discarded:
		return true
	}
	return false
}

// ErrLeaseLost stops a runner whose lease another runner took over: its
// uncommitted step is rolled back, and the other runner carries on.
var ErrLeaseLost = errors.New("job: the lease was taken over by another runner")

// ErrNotConfirmable refuses confirming a job that is not waiting for it.
var ErrNotConfirmable = problem.New(problem.Conflict, "job_not_ready", "this job is not waiting for confirmation (it was confirmed, discarded, refused or already ran)")

// ErrNotDiscardable refuses discarding a job that was confirmed (its work
// has started or ended) or discarded already.
var ErrNotDiscardable = problem.New(problem.Conflict, "job_not_ready", "this job was confirmed (its import has started or ended) or discarded already, so it cannot be discarded")

// New makes a job row in tx.
func New(tx *store.Tx, j *Job, now time.Time) error {
	if j.ID == "" {
		j.ID = id.New()
	}
	if j.Counts == "" {
		j.Counts = "{}"
	}
	j.CreatedAt, j.UpdatedAt = now, now
	return tx.Create(j).Error
}

// Get loads a job of the account.
func Get(ctx context.Context, db store.Reader, accountID, jobID string) (*Job, error) {
	return store.Owned[Job](ctx, db, accountID, jobID)
}

// ByID loads a job of any account, for the server-side command line.
func ByID(ctx context.Context, r store.Reader, jobID string) (*Job, error) {
	if !id.Valid(jobID) {
		return nil, problem.ErrNotFound
	}
	var j Job
	err := r.Read(ctx).Where("id = ?", jobID).Take(&j).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &j, err
}

// SetStatus moves a job from one status to another in tx; false means it
// was not in from (someone else moved it).
func SetStatus(tx *store.Tx, jobID, from, to string, now time.Time) (bool, error) {
	r := tx.Model(&Job{}).Where("id = ? AND status = ?", jobID, from).Updates(map[string]any{"status": to, "updated_at": now})
	return r.RowsAffected == 1, r.Error
}

// Claim takes the job for runner until lease if it is queued, or running
// under a lease that ran out (its runner died). The conditional UPDATE is
// the whole decision: of two runners claiming at once, one matches.
func Claim(ctx context.Context, db *store.DB, jobID, runner string, now, lease time.Time) (bool, error) {
	r := db.W.WithContext(ctx).Model(&Job{}).
		Where("id = ? AND (status = ? OR (status = ? AND (lease_until IS NULL OR lease_until < ?)))", jobID, Queued, Running, now).
		Updates(map[string]any{"status": Running, "runner": runner, "lease_until": lease, "attempts": gorm.Expr("attempts + 1"),
			"started_at": gorm.Expr("COALESCE(started_at, ?)", now), "updated_at": now})
	return r.RowsAffected == 1, r.Error
}

// Claimable lists jobs of kind that a runner could claim now, oldest first.
func Claimable(ctx context.Context, db store.Reader, kinds []string, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := db.Read(ctx).Model(&Job{}).
		Where("kind IN ? AND (status = ? OR (status = ? AND (lease_until IS NULL OR lease_until < ?)))", kinds, Queued, Running, now).
		Order("created_at").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// Step records a runner's progress in tx, the transaction of the work it
// did, and renews its lease. ErrLeaseLost means another runner holds the
// job now: the caller must roll tx back.
func Step(tx *store.Tx, jobID, runner string, processed int, counts any, now, lease time.Time) error {
	b, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	r := tx.Model(&Job{}).Where("id = ? AND runner = ? AND status = ?", jobID, runner, Running).
		Updates(map[string]any{"processed": processed, "counts": string(b), "lease_until": lease, "updated_at": now})
	if r.Error != nil {
		return r.Error
	}
	if r.RowsAffected != 1 {
		return ErrLeaseLost
	}
	return nil
}

// Finish ends a running job in tx with status Done or Failed.
func Finish(tx *store.Tx, jobID, runner, status, why string, now time.Time) error {
	r := tx.Model(&Job{}).Where("id = ? AND runner = ? AND status = ?", jobID, runner, Running).
		Updates(map[string]any{"status": status, "error": why, "lease_until": nil, "finished_at": now, "updated_at": now})
	if r.Error != nil {
		return r.Error
	}
	if r.RowsAffected != 1 {
		return ErrLeaseLost
	}
	return nil
}

// Stop ends an unfinished job at once with status Failed and why, whoever
// runs it, for a job that must not go on (its input named a person who was
// erased). Its runner's next step finds the lease lost and rolls back;
// false means the job had finished already.
func Stop(tx *store.Tx, jobID, why string, now time.Time) (bool, error) {
	r := tx.Model(&Job{}).Where("id = ? AND status IN ?", jobID, Unfinished()).Updates(failed(why, now))
	return r.RowsAffected == 1, r.Error
}

// failed are the fields of a job ended as Failed, saying why: nobody holds
// it any more.
func failed(why string, now time.Time) map[string]any {
	return map[string]any{"status": Failed, "error": why, "runner": "", "lease_until": nil, "finished_at": now, "updated_at": now}
}

// RunnerID names this process's runner: host, pid and a random part, so a
// restarted process never mistakes a dead one's lease for its own.
func RunnerID() string {
	h, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", h, os.Getpid(), hex.EncodeToString(b))
}
