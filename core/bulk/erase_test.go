package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/erase"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

const erased = "erin@example.org"

// onEvent puts erin on the event, so she is a person the gateway can erase.
func (e *env) onEvent(t *testing.T) *user.User {
	t.Helper()
	ctx := context.Background()
	if _, err := e.events.Invite(ctx, e.caller, e.ev.ID, event.InviteInput{Email: erased, Profile: event.Profile{FirstName: "Erin", LastName: "Erased"}}); err != nil {
		t.Fatal(err)
	}
	u, err := user.ByEmail(ctx, e.db, e.caller.AccountID, erased)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) chunks(t *testing.T, jobID string) int64 {
	t.Helper()
	var n int64
	if err := e.db.R.Model(&bulk.Chunk{}).Where("job_id = ?", jobID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// rows writes n valid rows of other people (speakers, so their title
// and company are taken).
func rows(w io.Writer, from, n int) {
	for i := from; i < from+n; i++ {
		fmt.Fprintf(w, "person%06d@example.org,Person,Number %d,A title long enough to fill the file,Company,Yes,\n", i, i)
	}
}

// An import under way whose file names a person who is erased stops: its
// runner's next batch finds the job gone from under it, nobody resumes it,
// and the staged file is dropped.
func TestErasureStopsARunningImport(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationInviteOnly)
			e.tune(func(b *bulk.Service) { b.BatchRows = 50 })
			ctx := context.Background()
			erin := e.onEvent(t)
			var b strings.Builder
			b.WriteString(hdr)
			rows(&b, 0, 500)
			fmt.Fprintf(&b, "%s,Erin,Erased,,,,\n", strings.ToUpper(erased))
			rows(&b, 500, 500)
			up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", strings.NewReader(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			if up.Report.Valid != 1001 {
				t.Fatalf("the check refused rows of the file: %+v", up.Report)
			}
			if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, false); err != nil {
				t.Fatal(err)
			}
			// The runner stops once 200 rows are in, its job still running.
			cctx, cancel := context.WithCancel(ctx)
			go func() {
				for cctx.Err() == nil {
					if j, err := e.bulk.Job(ctx, e.caller, up.Job.ID); err == nil && j.Processed >= 200 {
						cancel()
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			first := &job.Runner{DB: e.db, Handlers: map[string]job.Handler{bulk.Kind: e.bulk.Handler()}, ID: "first"}
			first.Run(cctx, up.Job.ID)
			cancel()
			if j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID); j.Status != job.Running {
				t.Fatalf("after the stop: %+v, want it running", j)
			}

			if _, err := erase.Erase(ctx, e.db, e.caller.AccountID, erin.ID, audit.System); err != nil {
				t.Fatal(err)
			}
			j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID)
			if j.Status != job.Failed || j.Error != bulk.StoppedByErasure {
				t.Fatalf("after the erasure: %+v", j)
			}
			if n := e.chunks(t, up.Job.ID); n != 0 {
				t.Errorf("%d chunks of the stopped file left", n)
			}
			later := &job.Runner{DB: e.db, Handlers: map[string]job.Handler{bulk.Kind: e.bulk.Handler()}, ID: "later",
				Now: func() time.Time { return time.Now().UTC().Add(time.Hour) }}
			if n, err := later.RunPending(ctx); err != nil || n != 0 {
				t.Fatalf("the stopped import was resumed: %d, %v", n, err)
			}
			if _, err := user.ByEmail(ctx, e.db, e.caller.AccountID, erased); err == nil {
				t.Error("the erased person is back")
			}
		})
	}
}

// A file being uploaded when a person it names is erased (their row is
// already staged) is stopped: the upload answers so and keeps nothing.
func TestErasureStopsAnUploadInProgress(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationInviteOnly)
			ctx := context.Background()
			erin := e.onEvent(t)
			pr, pw := io.Pipe()
			type result struct {
				up  *bulk.Upload
				err error
			}
			done := make(chan result, 1)
			go func() {
				up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", pr)
				done <- result{up, err}
			}()
			io.WriteString(pw, hdr)
			fmt.Fprintf(pw, "%s,Erin,Erased,,,,\n", erased)
			// More than a chunk, so Erin's row is in the database.
			rows(pw, 0, bulk.ChunkBytes/90+100)
			var jobID string
			deadline := time.Now().Add(10 * time.Second)
			for jobID == "" || e.chunks(t, jobID) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("nothing was staged")
				}
				var ids []string
				if err := e.db.R.Model(&job.Job{}).Where("status = ?", job.Checking).Pluck("id", &ids).Error; err != nil {
					t.Fatal(err)
				}
				if len(ids) == 1 {
					jobID = ids[0]
				}
				time.Sleep(5 * time.Millisecond)
			}

			if _, err := erase.Erase(ctx, e.db, e.caller.AccountID, erin.ID, audit.System); err != nil {
				t.Fatal(err)
			}
			rows(pw, 100000, 1000)
			pw.Close()
			r := <-done
			if !errors.Is(r.err, bulk.ErrStoppedByErasure) {
				t.Fatalf("upload = %+v, %v; want it stopped", r.up, r.err)
			}
			j, _ := e.bulk.Job(ctx, e.caller, jobID)
			if j.Status != job.Failed || j.Error != bulk.StoppedByErasure {
				t.Errorf("the stopped upload's job: %+v", j)
			}
			if n := e.chunks(t, jobID); n != 0 {
				t.Errorf("%d chunks of the stopped upload left", n)
			}
		})
	}
}
