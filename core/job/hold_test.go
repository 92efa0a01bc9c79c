package job_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

// TestHoldEndsWhenItsHolderIsGone: a held job is abandoned only once its
// lease has run out unrenewed; renewing keeps it; ending it as abandoned
// wins over a late renewal or release by the old holder, and once over it
// cannot be ended again. A job held without a lease (held before holds had
// leases) counts as abandoned after UnheldAfter without a change.
func TestHoldEndsWhenItsHolderIsGone(t *testing.T) {
	storetest.Each(t, table.Models(job.Tables()), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		until := now.Add(15 * time.Second)
		held := &job.Job{AccountID: "acct", Kind: "k", Status: job.Checking, Runner: "a", LeaseUntil: &until}
		unheld := &job.Job{AccountID: "acct", Kind: "k", Status: job.Checking}
		for _, j := range []*job.Job{held, unheld} {
			if err := db.Tx(ctx, func(tx *store.Tx) error { return job.New(tx, j, now) }); err != nil {
				t.Fatal(err)
			}
		}
		abandoned := func(at time.Time) []string {
			t.Helper()
			jobs, err := job.Abandoned(ctx, db, "k", job.Checking, at, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, j := range jobs {
				if j.AccountID != "acct" {
					t.Fatalf("abandoned job without its account: %+v", j)
				}
				ids = append(ids, j.ID)
			}
			return ids
		}
		if ids := abandoned(now.Add(10 * time.Second)); len(ids) != 0 {
			t.Fatalf("held jobs abandoned: %v", ids)
		}
		// The holder renews at +10 s: the lease now runs to +25 s.
		if ok, err := job.Renew(ctx, db, held.ID, job.Checking, "a", now.Add(10*time.Second), now.Add(25*time.Second)); !ok || err != nil {
			t.Fatalf("renew: %v %v", ok, err)
		}
		if ok, _ := job.Renew(ctx, db, held.ID, job.Checking, "b", now, now.Add(time.Hour)); ok {
			t.Fatal("another process renewed the hold")
		}
		if ids := abandoned(now.Add(20 * time.Second)); len(ids) != 0 {
			t.Fatalf("a renewed hold is abandoned: %v", ids)
		}
		at := now.Add(30 * time.Second)
		if ids := abandoned(at); len(ids) != 1 || ids[0] != held.ID {
			t.Fatalf("abandoned at +30 s: %v, want the held job", ids)
		}
		tx := func(f func(tx *store.Tx) (bool, error)) bool {
			t.Helper()
			var ok bool
			if err := db.Tx(ctx, func(tx *store.Tx) (err error) { ok, err = f(tx); return }); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !tx(func(tx *store.Tx) (bool, error) { return job.Abandon(tx, held.ID, job.Checking, "gone", at) }) {
			t.Fatal("the abandoned job was not ended")
		}
		if tx(func(tx *store.Tx) (bool, error) { return job.Abandon(tx, held.ID, job.Checking, "again", at) }) {
			t.Fatal("an ended job was ended again")
		}
		if ok, _ := job.Renew(ctx, db, held.ID, job.Checking, "a", at, at.Add(time.Minute)); ok {
			t.Fatal("the old holder renewed an ended job")
		}
		if tx(func(tx *store.Tx) (bool, error) { return job.Release(tx, held.ID, job.Checking, "a", job.Ready, 5, at) }) {
			t.Fatal("the old holder released an ended job")
		}
		got, _ := job.Get(ctx, db, "acct", held.ID)
		if got.Status != job.Failed || got.Error != "gone" || !got.Finished() || got.FinishedAt == nil || got.LeaseUntil != nil {
			t.Fatalf("ended job %+v", got)
		}

		if ids := abandoned(now.Add(job.UnheldAfter - time.Minute)); len(ids) != 0 {
			t.Fatalf("a job without a lease is abandoned before UnheldAfter: %v", ids)
		}
		if ids := abandoned(now.Add(job.UnheldAfter + time.Minute)); len(ids) != 1 || ids[0] != unheld.ID {
			t.Fatalf("after UnheldAfter: %v, want the job without a lease", ids)
		}
	})
}

// TestReleaseHandsTheJobOn: the holder's release moves the job on and
// clears the hold, which nobody then abandons.
func TestReleaseHandsTheJobOn(t *testing.T) {
	storetest.Each(t, table.Models(job.Tables()), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		until := now.Add(15 * time.Second)
		j := &job.Job{AccountID: "acct", Kind: "k", Status: job.Checking, Runner: "a", LeaseUntil: &until}
		if err := db.Tx(ctx, func(tx *store.Tx) error { return job.New(tx, j, now) }); err != nil {
			t.Fatal(err)
		}
		var ok bool
		if err := db.Tx(ctx, func(tx *store.Tx) (err error) {
			ok, err = job.Release(tx, j.ID, job.Checking, "a", job.Ready, 7, now)
			return
		}); err != nil || !ok {
			t.Fatalf("release: %v %v", ok, err)
		}
		got, _ := job.Get(ctx, db, "acct", j.ID)
		if got.Status != job.Ready || got.Total != 7 || got.LeaseUntil != nil || got.Runner != "" {
			t.Fatalf("released job %+v", got)
		}
		if jobs, _ := job.Abandoned(ctx, db, "k", job.Checking, now.Add(2*job.UnheldAfter), 10); len(jobs) != 0 {
			t.Fatalf("a released job is abandoned: %+v", jobs)
		}
	})
}

// TestRunnerSweeps: a started runner sweeps at once and then every Poll,
// and not after Stop.
func TestRunnerSweeps(t *testing.T) {
	db := storetest.Open(t, store.SQLite, table.Models(job.Tables())...)
	swept := make(chan struct{}, 100)
	r := &job.Runner{DB: db, Handlers: map[string]job.Handler{"k": nil}, Poll: 10 * time.Millisecond,
		Sweep: func(context.Context) error { swept <- struct{}{}; return nil }}
	r.Start()
	for i := range 3 {
		select {
		case <-swept:
		case <-time.After(10 * time.Second):
			r.Stop(context.Background())
			t.Fatalf("%d sweeps, want 3", i)
		}
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for len(swept) > 0 {
		<-swept
	}
	time.Sleep(50 * time.Millisecond)
	if len(swept) != 0 {
		t.Fatal("the runner swept after Stop")
	}
}
