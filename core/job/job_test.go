package job_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

// TestLeaseDecidesTheRunner: one claim wins; a step by a runner whose
// lease was taken over is refused; the job is claimable again only once
// its lease has run out.
func TestLeaseDecidesTheRunner(t *testing.T) {
	storetest.Each(t, table.Models(job.Tables()), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		j := &job.Job{AccountID: "acct", Kind: "k", Status: job.Queued}
		if err := db.Tx(ctx, func(tx *store.Tx) error { return job.New(tx, j, now) }); err != nil {
			t.Fatal(err)
		}
		lease := now.Add(15 * time.Second)
		ok1, err1 := job.Claim(ctx, db, j.ID, "a", now, lease)
		ok2, err2 := job.Claim(ctx, db, j.ID, "b", now, lease)
		if err1 != nil || err2 != nil || !ok1 || ok2 {
			t.Fatalf("claims: a %v %v, b %v %v", ok1, err1, ok2, err2)
		}
		if ids, _ := job.Claimable(ctx, db, []string{"k"}, now.Add(10*time.Second), 10); len(ids) != 0 {
			t.Fatalf("a leased job is claimable: %v", ids)
		}
		later := now.Add(16 * time.Second)
		if ids, _ := job.Claimable(ctx, db, []string{"k"}, later, 10); len(ids) != 1 {
			t.Fatalf("a job whose lease ran out is not claimable: %v", ids)
		}
		if ok, err := job.Claim(ctx, db, j.ID, "b", later, later.Add(15*time.Second)); !ok || err != nil {
			t.Fatalf("take-over after the lease: %v %v", ok, err)
		}
		err := db.Tx(ctx, func(tx *store.Tx) error {
			return job.Step(tx, j.ID, "a", 10, map[string]int{"added": 10}, later, later.Add(time.Minute))
		})
		if !errors.Is(err, job.ErrLeaseLost) {
			t.Fatalf("step by the runner that lost the lease: %v", err)
		}
		if err := db.Tx(ctx, func(tx *store.Tx) error {
			return job.Step(tx, j.ID, "b", 20, map[string]int{"added": 20}, later, later.Add(time.Minute))
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Tx(ctx, func(tx *store.Tx) error { return job.Finish(tx, j.ID, "b", job.Done, "", later) }); err != nil {
			t.Fatal(err)
		}
		got, err := job.Get(ctx, db, "acct", j.ID)
		if err != nil || got.Status != job.Done || got.Processed != 20 || got.Counts != `{"added":20}` || got.Attempts != 2 || got.FinishedAt == nil {
			t.Fatalf("job %+v %v", got, err)
		}
		if _, err := job.Get(ctx, db, "other", j.ID); err == nil {
			t.Fatal("another account sees the job")
		}
	})
}
