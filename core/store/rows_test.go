package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

type batchRow struct {
	ID      string `gorm:"primaryKey;size:36"`
	Account string `gorm:"size:36"`
	Name    string
	N       int
	OK      bool
	At      time.Time
}

// rowsOf are batchRow's rows, three to a statement where rows go a chunk
// at a time, so that a few rows make full chunks and a shorter last one.
var rowsOf = store.Rows{Table: "batch_rows", Columns: []string{"id", "account", "name", "n", "ok", "at"},
	Shared: []string{"account", "at"}, OnConflict: "ON CONFLICT (id) DO NOTHING", PerStatement: 3}

func insertRows(tx *store.Tx, rows []batchRow) (int64, error) {
	return tx.Insert(&rowsOf, len(rows), func(args []any, i int) []any {
		r := &rows[i]
		return append(args, r.ID, r.Account, r.Name, r.N, r.OK, r.At)
	})
}

func readRows(t *testing.T, db *store.DB) map[string]batchRow {
	t.Helper()
	var got []batchRow
	if err := db.R.Order("id").Find(&got).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]batchRow{}
	for _, r := range got {
		out[r.ID] = r
	}
	return out
}

func sameRow(a, b batchRow) bool {
	return a.ID == b.ID && a.Account == b.Account && a.Name == b.Name && a.N == b.N && a.OK == b.OK && a.At.Equal(b.At)
}

// Rows written by Insert read back as given, in full chunks and a shorter
// last one, with or without a run; rows the ON CONFLICT clause skips are
// not counted as written; rows whose shared column differs are written
// with their own values.
func TestInsertWritesRows(t *testing.T) {
	storetest.Each(t, []any{&batchRow{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
		batch := func(from, n int, account string) []batchRow {
			var rows []batchRow
			for i := from; i < from+n; i++ {
				rows = append(rows, batchRow{ID: fmt.Sprintf("r%03d", i), Account: account, Name: fmt.Sprintf("Ann %d, \"the %d\" Ça va ☃", i, i), N: i, OK: i%2 == 0, At: at})
			}
			return rows
		}
		want := map[string]batchRow{}
		write := func(tx func(ctx context.Context, fn func(tx *store.Tx) error) error, rows []batchRow, written int64) {
			t.Helper()
			var n int64
			err := tx(ctx, func(tx *store.Tx) error {
				var err error
				n, err = insertRows(tx, rows)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != written {
				t.Fatalf("%d rows written, want %d", n, written)
			}
			for _, r := range rows {
				if _, ok := want[r.ID]; !ok {
					want[r.ID] = r
				}
			}
		}
		// Eight rows: two full chunks of three and one of two.
		write(db.Tx, batch(0, 8, "acc"), 8)
		// Three of them again: skipped.
		write(db.Tx, batch(5, 6, "acc"), 3)
		// One row of a chunk in another account: its chunk binds each value.
		mixed := batch(20, 7, "acc")
		mixed[4].Account = "other"
		mixed[5].At = at.Add(time.Hour)
		write(db.Tx, mixed, 7)
		// A run, its full chunks prepared once for its transactions.
		run, err := db.NewRun(ctx, &rowsOf, &rowsOf)
		if err != nil {
			t.Fatal(err)
		}
		for b := range 3 {
			write(run.Tx, batch(100+10*b, 7, "run"), 7)
		}
		if err := run.Close(); err != nil {
			t.Fatal(err)
		}
		got := readRows(t, db)
		if len(got) != len(want) {
			t.Fatalf("%d rows stored, want %d", len(got), len(want))
		}
		for id, w := range want {
			if !sameRow(got[id], w) {
				t.Fatalf("row %s: %+v, want %+v", id, got[id], w)
			}
		}
	})
}

// A failed Insert leaves nothing of its transaction; rows that do not
// match the columns, and a shared column that is not a column, are
// refused.
func TestInsertRefusesBadRows(t *testing.T) {
	storetest.Each(t, []any{&batchRow{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		err := db.Tx(ctx, func(tx *store.Tx) error {
			if _, err := insertRows(tx, []batchRow{{ID: "a", At: at}, {ID: "b", At: at}}); err != nil {
				return err
			}
			_, err := tx.Insert(&rowsOf, 2, func(args []any, i int) []any { return append(args, "x", "acc", "name") })
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "columns") || !strings.Contains(err.Error(), "batch_rows") {
			t.Fatalf("rows of three values for six columns: %v", err)
		}
		if got := readRows(t, db); len(got) != 0 {
			t.Fatalf("the failed transaction left %d rows", len(got))
		}
		bad := store.Rows{Table: "batch_rows", Columns: []string{"id"}, Shared: []string{"account"}}
		err = db.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.Insert(&bad, 1, func(args []any, i int) []any { return append(args, "a") })
			return err
		})
		if err == nil || !strings.Contains(err.Error(), `"account"`) {
			t.Fatalf("a shared column that is not a column: %v", err)
		}
		if _, err := db.NewRun(ctx, &bad); err == nil {
			t.Fatal("a run prepared rows whose shared column is not a column")
		}
	})
}

// On PostgreSQL a column's values go as one array, so they must be of one
// type the arrays carry; the statement is refused naming the column.
func TestInsertArraysNeedOneTypeAColumn(t *testing.T) {
	db := storetest.Open(t, store.Postgres, &batchRow{})
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Insert(&rowsOf, 2, func(args []any, i int) []any {
			var n any = i
			if i == 1 {
				n = int64(i)
			}
			return append(args, fmt.Sprint(i), "acc", "name", n, true, time.Now())
		})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "column 4 mixes types") {
		t.Fatalf("mixed column: %v", err)
	}
	err = db.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Insert(&rowsOf, 1, func(args []any, i int) []any {
			return append(args, "a", "acc", []byte("name"), 1, true, time.Now())
		})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "column 3 holds a []uint8") {
		t.Fatalf("bytes column: %v", err)
	}
}
