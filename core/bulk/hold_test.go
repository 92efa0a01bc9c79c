package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
)

// slowUpload is an upload whose client sends the file a part at a time:
// the check waits in the middle of the file until the test sends more.
type slowUpload struct {
	w     *io.PipeWriter
	next  int
	done  chan error
	jobID string
}

func startSlowUpload(t *testing.T, e *env) *slowUpload {
	t.Helper()
	r, w := io.Pipe()
	u := &slowUpload{w: w, done: make(chan error, 1)}
	go func() {
		_, err := e.bulk.Upload(context.Background(), e.caller, e.ev.ID, "big.csv", r)
		r.CloseWithError(err)
		u.done <- err
	}()
	t.Cleanup(func() { w.Close() })
	u.send(t, hdr, 1)
	// More than a chunk, so the staged file is in bulk_chunks, and a row
	// with a problem, which the check stores when it ends.
	u.send(t, "bad@example.con,Bad,Domain,,,,\n", 50_000)
	deadline := time.Now().Add(30 * time.Second)
	for u.jobID == "" || stagedChunks(t, e, u.jobID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upload staged nothing")
		}
		var j job.Job
		if e.db.R.Where("kind = ? AND status = ?", bulk.Kind, job.Checking).Order("created_at DESC").Limit(1).Find(&j); j.ID != "" {
			u.jobID = j.ID
		}
		time.Sleep(5 * time.Millisecond)
	}
	return u
}

// send writes rows (line, then n people) to the upload.
func (u *slowUpload) send(t *testing.T, line string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString(line)
	for range n {
		fmt.Fprintf(&b, "p%07d@example.org,First,Last,,,,\n", u.next)
		u.next++
	}
	if _, err := io.WriteString(u.w, b.String()); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// finish sends the rest of the file and returns what the upload answered.
func (u *slowUpload) finish(t *testing.T) error {
	t.Helper()
	u.w.Close()
	select {
	case err := <-u.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("the upload did not end")
		return nil
	}
}

func stagedChunks(t *testing.T, e *env, jobID string) int64 {
	t.Helper()
	var n int64
	if err := e.db.R.Model(&bulk.Chunk{}).Where("job_id = ?", jobID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInterruptedCheckIsEnded: an upload checking its file holds the job
// under a lease. Another gateway (a service whose clock is injected) leaves
// it alone while the lease runs; once it has run out unrenewed the job ends
// failed, saying the upload was interrupted, its staged chunks and problems
// deleted. The old upload, still going (its process was only stalled),
// then learns that its job is gone and leaves nothing behind.
func TestInterruptedCheckIsEnded(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationOpen)
			ctx := context.Background()
			start := time.Now().UTC()
			u := startSlowUpload(t, e)
			other := func(at time.Time) *bulk.Service {
				return &bulk.Service{DB: e.db, Events: e.events, Now: func() time.Time { return at }}
			}
			if err := other(start.Add(bulk.CheckLease - time.Second)).EndInterrupted(ctx); err != nil {
				t.Fatal(err)
			}
			if j, _ := e.bulk.Job(ctx, e.caller, u.jobID); j.Status != job.Checking || stagedChunks(t, e, u.jobID) == 0 {
				t.Fatalf("a check whose lease runs was ended: %+v", j)
			}

			later := start.Add(bulk.CheckLease + time.Minute)
			if err := other(later).EndInterrupted(ctx); err != nil {
				t.Fatal(err)
			}
			j, _ := e.bulk.Job(ctx, e.caller, u.jobID)
			if j.Status != job.Failed || j.Error != bulk.Interrupted || !j.Finished() || j.FinishedAt == nil || j.FinishedAt.Sub(later).Abs() > time.Millisecond {
				t.Fatalf("after the lease ran out: %+v", j)
			}
			if n := stagedChunks(t, e, u.jobID); n != 0 {
				t.Fatalf("%d staged chunks left of the interrupted upload", n)
			}
			var audits int64
			e.db.R.Table("audit_entries").Where("action = ? AND target_id = ?", "bulk_invite.interrupted", u.jobID).Count(&audits)
			if audits != 1 {
				t.Fatalf("%d audit entries for the interruption, want 1", audits)
			}

			// The stalled upload goes on and ends: it stages nothing more
			// and leaves the job as it was ended.
			u.send(t, "", 50_000)
			if err := u.finish(t); !errors.Is(err, bulk.ErrCheckEnded) {
				t.Fatalf("the upload whose job was ended answered %v", err)
			}
			var problems int64
			e.db.R.Model(&bulk.StoredProblem{}).Where("job_id = ?", u.jobID).Count(&problems)
			if n := stagedChunks(t, e, u.jobID); n != 0 || problems != 0 {
				t.Fatalf("after the old upload ended: %d chunks, %d problems", n, problems)
			}
			if j, _ := e.bulk.Job(ctx, e.caller, u.jobID); j.Status != job.Failed || j.Error != bulk.Interrupted {
				t.Fatalf("the old upload changed the ended job: %+v", j)
			}
			// A failed upload can be discarded: it stays failed, saying why.
			if err := e.bulk.Discard(ctx, e.caller, u.jobID); err != nil {
				t.Fatal(err)
			}
			if j, _ := e.bulk.Job(ctx, e.caller, u.jobID); j.Status != job.Failed || j.Error != bulk.Interrupted {
				t.Fatalf("discarded failed job: %+v", j)
			}
		})
	}
}

// TestDiscardWhileChecking: discarding a file still being checked works
// at once; the upload learns it when it next renews its hold and stops
// reading, before the client has sent the whole file, staging nothing more.
func TestDiscardWhileChecking(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationOpen)
			e.tune(func(b *bulk.Service) { b.CheckRenewal = 10 * time.Millisecond })
			ctx := context.Background()
			u := startSlowUpload(t, e)
			if err := e.bulk.Discard(ctx, e.caller, u.jobID); err != nil {
				t.Fatal(err)
			}
			if j, _ := e.bulk.Job(ctx, e.caller, u.jobID); j.Status != job.Discarded || stagedChunks(t, e, u.jobID) != 0 {
				t.Fatalf("discarded while checking: %+v", j)
			}
			// The client goes on sending (200 MB) until the upload stops
			// reading.
			sent := make(chan error, 1)
			go func() {
				row := strings.Repeat("q@example.org,First,Last,,,,\n", 1000)
				for i := 0; i < 7000; i++ {
					if _, err := io.WriteString(u.w, row); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			var err error
			select {
			case err = <-u.done:
			case <-time.After(60 * time.Second):
				t.Fatal("the upload of a discarded file did not stop")
			}
			if !errors.Is(err, bulk.ErrCheckEnded) {
				t.Fatalf("the upload of a discarded file answered %v", err)
			}
			if err := <-sent; err == nil {
				t.Fatal("the upload read the whole file after it was discarded")
			}
			if j, _ := e.bulk.Job(ctx, e.caller, u.jobID); j.Status != job.Discarded || stagedChunks(t, e, u.jobID) != 0 {
				t.Fatalf("after the upload ended: %+v, %d chunks", j, stagedChunks(t, e, u.jobID))
			}
			if err := e.bulk.Discard(ctx, e.caller, u.jobID); !errors.Is(err, job.ErrNotDiscardable) {
				t.Fatalf("second discard: %v", err)
			}
		})
	}
}

// TestDiscardRefusedFile: a refused file can be discarded; a confirmed one
// cannot.
func TestDiscardRefusedFile(t *testing.T) {
	e := newEnv(t, store.SQLite, event.RegistrationOpen)
	ctx := context.Background()
	up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", strings.NewReader("Email;First Name;Last Name\n"))
	if err != nil || up.Job.Status != job.Refused {
		t.Fatalf("%v %+v", err, up)
	}
	if err := e.bulk.Discard(ctx, e.caller, up.Job.ID); err != nil {
		t.Fatal(err)
	}
	if j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID); j.Status != job.Discarded {
		t.Fatalf("discarded refused file: %+v", j)
	}
	up, err = e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", strings.NewReader(hdr+"ann@example.org,Ann,Lee,,,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if up.Job.Status != job.Ready || up.Job.LeaseUntil != nil {
		t.Fatalf("checked job %+v", up.Job)
	}
	if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := e.bulk.Discard(ctx, e.caller, up.Job.ID); !errors.Is(err, job.ErrNotDiscardable) {
		t.Fatalf("discard of a confirmed file: %v", err)
	}
}
