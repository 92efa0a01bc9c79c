package schema_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

// An empty database migrated with the list holds exactly the tables the
// list declares, each declared with its eraser or why it holds no personal
// data; a table that appears without a declaration fails the check, naming
// it.
func TestTablesAreExactlyTheDeclaredOnes(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := schema.Check(ctx, db); err != nil {
			t.Fatalf("the schema and the database disagree:\n%v", err)
		}
		found, err := db.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != len(schema.Tables()) {
			t.Fatalf("%d tables after migrating, %d declared", len(found), len(schema.Tables()))
		}
		for _, want := range []string{"users", "group_members", "groups", "plugin_runs", "bulk_chunks", "mail_messages"} {
			if !slices.Contains(found, want) {
				t.Errorf("no table %s after migrating: %v", want, found)
			}
		}

		if err := db.W.Exec("CREATE TABLE stray_notes (id INTEGER PRIMARY KEY, email TEXT)").Error; err != nil {
			t.Fatal(err)
		}
		err = schema.Check(ctx, db)
		if err == nil || !strings.Contains(err.Error(), "stray_notes exists but no package declares it") {
			t.Fatalf("an undeclared table passed the check: %v", err)
		}
	})
}

// A declaration is exactly one of an eraser and a reason.
func TestCheckRefusesIncompleteDeclarations(t *testing.T) {
	type note struct{ ID int }
	type memo struct{ ID int }
	erase := func(*store.Tx, table.Person) error { return nil }
	err := table.Check([]table.Table{
		{Model: &note{}},
		{Model: &memo{}, Erase: erase, NoPersonalData: "none"},
	})
	for _, want := range []string{"notes: neither an eraser nor why", "memos: both an eraser and a reason"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check = %v, want it to say %q", err, want)
		}
	}
	if err := table.Check(schema.Tables()); err != nil {
		t.Errorf("the schema's declarations: %v", err)
	}
}
