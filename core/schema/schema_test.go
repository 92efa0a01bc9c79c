package schema_test

import (
	"context"
	"slices"
	"testing"

	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

// An empty database migrated with the list holds exactly the tables the
// list names.
func TestMigrateMakesExactlyTheListedTables(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		var want []string
		for _, m := range schema.Models() {
			n, err := table.Name(m)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, n)
		}
		slices.Sort(want)
		found, err := db.Tables(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(found, want) {
			t.Fatalf("tables after migrating:\n%v\nlisted:\n%v", found, want)
		}
	})
}
