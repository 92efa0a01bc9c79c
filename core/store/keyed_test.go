package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

var rowsByName = store.Keyed{Table: "batch_rows", Columns: []string{"id", "name", "n"}, Where: []string{"account"}, Key: "name"}

// SelectIn finds the rows of the keys asked for, in the account asked for
// only, however many keys (more than one statement's worth), with or
// without a run.
func TestSelectInFindsKeys(t *testing.T) {
	storetest.Each(t, []any{&batchRow{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		var rows []batchRow
		for i := range 2500 {
			rows = append(rows, batchRow{ID: fmt.Sprintf("a%05d", i), Account: "a", Name: fmt.Sprintf("name %d", i), N: i, At: at})
		}
		for i := range 10 {
			rows = append(rows, batchRow{ID: fmt.Sprintf("b%05d", i), Account: "b", Name: fmt.Sprintf("name %d", i), N: -i, At: at})
		}
		if err := db.Tx(ctx, func(tx *store.Tx) error { _, err := insertRows(tx, rows); return err }); err != nil {
			t.Fatal(err)
		}
		// 2,300 stored names of account a and 200 unknown ones: three
		// statements on SQLite, two of them full.
		var keys []string
		for i := 200; i < 2700; i++ {
			keys = append(keys, fmt.Sprintf("name %d", i))
		}
		run, err := db.NewRun(ctx, &rowsByName)
		if err != nil {
			t.Fatal(err)
		}
		defer run.Close()
		for name, tx := range map[string]func(context.Context, func(*store.Tx) error) error{"alone": db.Tx, "run": run.Tx} {
			found := map[string]int{}
			err := tx(ctx, func(tx *store.Tx) error {
				return tx.SelectIn(&rowsByName, []any{"a"}, keys, func(rs *sql.Rows) error {
					var id, name string
					var n int
					if err := rs.Scan(&id, &name, &n); err != nil {
						return err
					}
					if id != fmt.Sprintf("a%05d", n) || name != fmt.Sprintf("name %d", n) {
						return fmt.Errorf("row %s %q %d", id, name, n)
					}
					found[id]++
					return nil
				})
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(found) != 2300 {
				t.Fatalf("%s: %d rows found, want 2300", name, len(found))
			}
			for i := 200; i < 2500; i++ {
				if found[fmt.Sprintf("a%05d", i)] != 1 {
					t.Fatalf("%s: row a%05d found %d times", name, i, found[fmt.Sprintf("a%05d", i)])
				}
			}
		}
	})
}

// An error from the callback ends the lookup with that error; a lookup
// given the wrong number of where values is refused.
func TestSelectInStops(t *testing.T) {
	storetest.Each(t, []any{&batchRow{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rows := []batchRow{{ID: "1", Account: "a", Name: "x"}, {ID: "2", Account: "a", Name: "y"}}
		stop := fmt.Errorf("enough")
		calls := 0
		err := db.Tx(ctx, func(tx *store.Tx) error {
			if _, err := insertRows(tx, rows); err != nil {
				return err
			}
			if err := tx.SelectIn(&rowsByName, nil, []string{"x"}, func(*sql.Rows) error { return nil }); err == nil {
				return fmt.Errorf("a lookup without its account ran")
			}
			return tx.SelectIn(&rowsByName, []any{"a"}, []string{"x", "y"}, func(*sql.Rows) error { calls++; return stop })
		})
		if err != stop || calls != 1 {
			t.Fatalf("lookup = %v after %d rows, want %v after 1", err, calls, stop)
		}
	})
}

// On PostgreSQL a transaction that looked rows up plans its statements
// afresh at every execution, so a lookup prepared when a table was small
// is not planned as a sequential scan for good.
func TestSelectInPlansAfresh(t *testing.T) {
	db := storetest.Open(t, store.Postgres, &batchRow{})
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		mode := func() string {
			var m string
			if err := tx.Raw("SHOW plan_cache_mode").Scan(&m).Error; err != nil {
				t.Fatal(err)
			}
			return m
		}
		if m := mode(); m == "force_custom_plan" {
			t.Fatalf("plan_cache_mode is %s before any lookup", m)
		}
		if err := tx.SelectIn(&rowsByName, []any{"a"}, []string{"x"}, func(*sql.Rows) error { return nil }); err != nil {
			return err
		}
		if m := mode(); m != "force_custom_plan" {
			t.Fatalf("plan_cache_mode is %s after a lookup", m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
