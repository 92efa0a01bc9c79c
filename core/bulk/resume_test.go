package bulk_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
)

// TestImportResumesFromCheckpoint: a runner stopped part way (after the
// batch in hand; cmd/gateway's kill -9 test stops one inside a batch)
// leaves the job to another runner once the lease runs out, which ends with every row counted once: the added,
// updated and refused rows, one audit entry and one email per new attendee.
func TestImportResumesFromCheckpoint(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationInviteOnly)
			e.tune(func(b *bulk.Service) { b.BatchRows = 50 })
			ctx := context.Background()
			if _, err := e.events.Invite(ctx, e.caller, e.ev.ID, event.InviteInput{Email: "p0007@example.org",
				Profile: event.Profile{FirstName: "Already", LastName: "There"}}); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString(hdr)
			for i := range 1000 {
				switch {
				case i%97 == 5:
					fmt.Fprintf(&b, "p%04d@example.con,Bad,Domain,,,,\n", i)
				case i == 7:
					fmt.Fprintf(&b, "p%04d@example.org,Already,There,,,Yes,\n", i)
				default:
					fmt.Fprintf(&b, "p%04d@example.org,\"First, %d\",Last,,,,\n", i, i)
				}
			}
			up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", strings.NewReader(b.String()))
			if err != nil || up.Report.Rows != 1000 {
				t.Fatalf("%v %+v", err, up)
			}
			refusedRows := up.Report.Rows - up.Report.Valid
			if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, true); err != nil {
				t.Fatal(err)
			}

			// The first runner is stopped once 300 rows are in.
			cctx, cancel := context.WithCancel(ctx)
			go func() {
				for cctx.Err() == nil {
					if j, err := e.bulk.Job(ctx, e.caller, up.Job.ID); err == nil && j.Processed >= 300 {
						cancel()
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			first := &job.Runner{DB: e.db, Handlers: map[string]job.Handler{bulk.Kind: e.bulk.Handler()}, ID: "first"}
			if _, err := first.Run(cctx, up.Job.ID); err == nil {
				t.Fatal("the first runner was not stopped")
			}
			cancel()
			mid, _ := e.bulk.Job(ctx, e.caller, up.Job.ID)
			if mid.Status != job.Running || mid.Processed >= 1000 || mid.Processed%50 != 0 {
				t.Fatalf("after the stop: %+v", mid)
			}

			// The stopped runner gave its lease back (a shutdown, not a
			// crash): another runner resumes the job at once.
			if mid.Runner != "" || mid.LeaseUntil != nil {
				t.Fatalf("the stopped runner kept its lease: %+v", mid)
			}
			second := &job.Runner{DB: e.db, Handlers: map[string]job.Handler{bulk.Kind: e.bulk.Handler()}, ID: "second"}
			if n, err := second.RunPending(ctx); err != nil || n != 1 {
				t.Fatalf("resume: %d %v", n, err)
			}
			j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID)
			want := fmt.Sprintf(`{"added":%d,"updated":1,"unchanged":0,"refused":%d}`, 1000-refusedRows-1, refusedRows)
			if j.Status != job.Done || string(j.Counts) != want || j.Attempts != 2 {
				t.Fatalf("job %+v counts %s, want %s", j, j.Counts, want)
			}
			count := func(q string, args ...any) int64 {
				var n int64
				if err := e.db.R.Raw(q, args...).Scan(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := count("SELECT COUNT(*) FROM attendees WHERE event_id = ?", e.ev.ID); n != int64(1000-refusedRows) {
				t.Fatalf("%d attendees, want %d", n, 1000-refusedRows)
			}
			if n := count("SELECT COUNT(*) FROM mail_messages WHERE ref_kind = 'attendee'"); n != int64(1000-refusedRows-1) {
				t.Fatalf("%d invitations, want %d", n, 1000-refusedRows-1)
			}
			if n := count("SELECT COUNT(*) FROM event_links"); n != int64(1000-refusedRows-1) {
				t.Fatalf("%d login links, want %d", n, 1000-refusedRows-1)
			}
			if n := count("SELECT COUNT(*) FROM audit_entries WHERE action = 'attendee.invited' AND detail LIKE ?", "%"+up.Job.ID+"%"); n != int64(1000-refusedRows-1) {
				t.Fatalf("%d audit entries, want one per new attendee", n)
			}
			if n := count("SELECT COUNT(*) FROM attendees WHERE event_id = ? AND email = 'p0007@example.org' AND speaker", e.ev.ID); n != 1 {
				t.Fatal("the attendee already there was not updated")
			}
			if n := count("SELECT COUNT(*) FROM bulk_problems WHERE job_id = ?", up.Job.ID); n != int64(refusedRows) {
				t.Fatalf("%d problems stored, want %d", n, refusedRows)
			}
		})
	}
}

// TestDropStale: a checked file nobody confirmed is discarded after a day,
// with its staged bytes; a younger one stays.
func TestDropStale(t *testing.T) {
	e := newEnv(t, store.SQLite, event.RegistrationOpen)
	ctx := context.Background()
	up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", strings.NewReader(hdr+"ann@example.org,Ann,Lee,,,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	count := func() (n int64) { e.db.R.Model(&bulk.Chunk{}).Where("job_id = ?", up.Job.ID).Count(&n); return }
	if err := e.bulk.DropStale(ctx); err != nil || count() != 1 {
		t.Fatalf("a fresh upload was dropped: %v %d", err, count())
	}
	e.tune(func(b *bulk.Service) {
		b.Now = func() time.Time { return time.Now().Add(bulk.StaleAfter + time.Minute) }
	})
	if err := e.bulk.DropStale(ctx); err != nil || count() != 0 {
		t.Fatalf("a stale upload stays: %v %d", err, count())
	}
	if j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID); j.Status != job.Discarded {
		t.Fatalf("status %s", j.Status)
	}
}

// TestFailedBatchStopsTheBatchBeside: a batch is written while the next
// one is read (on PostgreSQL, while it is written too); when a batch fails,
// the one beside it rolls back or never starts, the checkpoint stays where
// the last committed batch left it, and a resumed run ends with every row
// once.
func TestFailedBatchStopsTheBatchBeside(t *testing.T) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) { failedBatchStopsTheBatchBeside(t, dialect) })
	}
}

func failedBatchStopsTheBatchBeside(t *testing.T, dialect string) {
	e := newEnv(t, dialect, event.RegistrationOpen)
	e.tune(func(b *bulk.Service) { b.BatchRows = 100 })
	ctx := context.Background()
	// Row 450 cannot be written while this trigger is there: the fifth
	// batch fails, the sixth is being read or written beside it.
	create := []string{
		`CREATE FUNCTION refuse_p0450() RETURNS trigger AS $$ BEGIN
		   IF NEW.email = 'p0450@example.org' THEN RAISE EXCEPTION 'p0450 refused by the test'; END IF;
		   RETURN NEW; END $$ LANGUAGE plpgsql`,
		`CREATE TRIGGER refuse_p0450 BEFORE INSERT ON attendees FOR EACH ROW EXECUTE FUNCTION refuse_p0450()`,
	}
	drop := "DROP TRIGGER refuse_p0450 ON attendees"
	if dialect == store.SQLite {
		create = []string{`CREATE TRIGGER refuse_p0450 BEFORE INSERT ON attendees FOR EACH ROW
		   WHEN NEW.email = 'p0450@example.org' BEGIN SELECT RAISE(ABORT, 'p0450 refused by the test'); END`}
		drop = "DROP TRIGGER refuse_p0450"
	}
	for _, q := range create {
		if err := e.db.W.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	b.WriteString(hdr)
	for i := range 1000 {
		fmt.Fprintf(&b, "p%04d@example.org,First,Last,,,,\n", i)
	}
	up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", strings.NewReader(b.String()))
	if err != nil || up.Report.Valid != 1000 {
		t.Fatalf("%v %+v", err, up)
	}
	if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, true); err != nil {
		t.Fatal(err)
	}
	r := &job.Runner{DB: e.db, Handlers: map[string]job.Handler{bulk.Kind: e.bulk.Handler()}, ID: "first"}
	if _, err := r.Run(ctx, up.Job.ID); err == nil || !strings.Contains(err.Error(), "p0450 refused by the test") {
		t.Fatalf("run: %v, want the failed batch's error", err)
	}
	count := func(q string, args ...any) int64 {
		var n int64
		if err := e.db.R.Raw(q, args...).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	var imp bulk.Import
	e.db.R.Where("job_id = ?", up.Job.ID).Take(&imp)
	j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID)
	// Lines 2..401 (p0000..p0399) are in; the batch of p0450 and the one
	// beside it are not.
	if n := count("SELECT COUNT(*) FROM attendees WHERE event_id = ?", e.ev.ID); n != 400 || j.Processed != 400 || imp.Line != 402 {
		t.Fatalf("after the failure: %d attendees, job processed %d, checkpoint line %d; want 400, 400, 402", n, j.Processed, imp.Line)
	}
	if n := count("SELECT COUNT(*) FROM mail_messages WHERE ref_kind = 'attendee'"); n != 400 {
		t.Fatalf("%d invitations queued, want 400", n)
	}

	if err := e.db.W.Exec(drop).Error; err != nil {
		t.Fatal(err)
	}
	again := &job.Runner{DB: e.db, Handlers: map[string]job.Handler{bulk.Kind: e.bulk.Handler()}, ID: "second",
		Now: func() time.Time { return time.Now().UTC().Add(time.Hour) }}
	if n, err := again.RunPending(ctx); err != nil || n != 1 {
		t.Fatalf("resume: %d %v", n, err)
	}
	j, _ = e.bulk.Job(ctx, e.caller, up.Job.ID)
	if j.Status != job.Done || string(j.Counts) != `{"added":1000,"updated":0,"unchanged":0,"refused":0}` {
		t.Fatalf("job %+v counts %s", j, j.Counts)
	}
	if n := count("SELECT COUNT(DISTINCT email) FROM attendees WHERE event_id = ?", e.ev.ID); n != 1000 || count("SELECT COUNT(*) FROM attendees") != 1000 {
		t.Fatalf("%d distinct attendees after the resume, want 1000", n)
	}
	if n := count("SELECT COUNT(DISTINCT ref_id) FROM mail_messages WHERE ref_kind = 'attendee'"); n != 1000 || count("SELECT COUNT(*) FROM mail_messages") != 1000 {
		t.Fatalf("%d invitations after the resume, want one per attendee", n)
	}
}
