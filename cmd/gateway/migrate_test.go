package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// `gateway migrate` on an empty database makes exactly the tables
// core/schema declares: none missing from the list, none beyond it.
func TestMigrateMakesExactlyTheSchema(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			cmd := exec.Command(binary, "migrate")
			cmd.Env, cmd.Dir = append(os.Environ(), "GATEWAY_DATABASE_DSN="+dsn), t.TempDir()
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "up to date") {
				t.Fatalf("migrate: %v\n%s", err, out)
			}
			ctx := context.Background()
			db, err := store.Open(ctx, store.Config{DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := schema.Check(ctx, db); err != nil {
				t.Fatalf("the migrated database and core/schema disagree:\n%v", err)
			}
		})
	}
}
