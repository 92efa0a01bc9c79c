package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// TestMigrateConcurrently: replicas starting together migrate one empty
// database at once, each through its own pool; every one succeeds (the
// advisory lock lets one create the tables while the others wait and then
// find them), which on PostgreSQL fails without it (two CREATE TABLE or
// CREATE INDEX of one name at once). PostgreSQL only: a SQLite database
// belongs to one process, which migrates it once.
func TestMigrateConcurrently(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	const replicas = 3
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range replicas {
		db, err := store.Open(context.Background(), store.Config{DSN: dsn, MaxOpenConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		wg.Go(func() {
			<-gate
			errs[i] = db.Migrate(schema.Models()...)
		})
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
}
