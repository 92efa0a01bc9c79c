package account_test

import (
	"context"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// TestEnsureFirstOnceAcrossStarts: replicas starting together on one
// database each ask for the first account at the same moment; one makes
// it, with one admin and one API key, and the others are told it exists.
func TestEnsureFirstOnceAcrossStarts(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		const starts = 6
		boots := make([]*account.Bootstrap, starts)
		errs := make([]error, starts)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range starts {
			wg.Go(func() {
				<-gate
				boots[i], errs[i] = account.EnsureFirst(context.Background(), db, "Org", "admin@org.test")
			})
		}
		close(gate)
		wg.Wait()
		made := 0
		for i := range starts {
			if errs[i] != nil {
				t.Fatalf("start %d: %v", i, errs[i])
			}
			if boots[i] != nil {
				made++
			}
		}
		if made != 1 {
			t.Fatalf("%d of %d concurrent starts made the first account", made, starts)
		}
		for table, want := range map[string]int64{"accounts": 1, "users": 1, "api_keys": 1} {
			var n int64
			if err := db.R.Table(table).Count(&n).Error; err != nil || n != want {
				t.Fatalf("%s: %d rows (%v), want %d", table, n, err, want)
			}
		}
	})
}
