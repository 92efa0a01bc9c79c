package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

type ticket struct {
	ID      string `gorm:"primaryKey;size:36"`
	Left    int
	Revoked bool
}

type stub struct {
	ID       string `gorm:"primaryKey;size:36"`
	TicketID string `gorm:"size:36;not null;uniqueIndex:idx_stubs_holder,priority:1"`
	Holder   string `gorm:"size:8;not null;uniqueIndex:idx_stubs_holder,priority:2"`
}

const takeTicket = `UPDATE tickets SET "left" = "left" - 1 WHERE id = $1 AND NOT revoked AND "left" > 0`

// A gated write on PostgreSQL is all or nothing: the rows land exactly when
// the gate changed its row, a colliding row undoes the whole write, a value
// too long for its column is refused (not cut short), and concurrent
// writes take exactly the uses there are. On SQLite there is none.
func TestGatedWriteIsAllOrNothing(t *testing.T) {
	storetest.Each(t, []any{&ticket{}, &stub{}, &note{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		stubs, err := db.NewInserts(ctx, "stubs", "id", "ticket_id", "holder")
		if err != nil {
			t.Fatal(err)
		}
		notes, err := db.NewInserts(ctx, "notes", "id", "text")
		if err != nil {
			t.Fatal(err)
		}
		g, err := db.NewGated(ctx, takeTicket, 1, stubs, notes)
		if err != nil {
			t.Fatal(err)
		}
		if db.Dialect == store.SQLite {
			if g != nil {
				t.Fatal("NewGated on SQLite: want nil, the caller keeps its transaction")
			}
			return
		}
		if g == nil {
			t.Fatal("NewGated on PostgreSQL: nil")
		}
		if err := db.W.Create(&[]ticket{{ID: "t1", Left: 2}, {ID: "gone", Left: 5, Revoked: true}, {ID: "t10", Left: 10}}).Error; err != nil {
			t.Fatal(err)
		}
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := db.W.Raw(q, args...).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}

		ok, err := g.Exec(ctx, []any{"t1"}, stubs.Row("s1", "t1", "alice"), notes.Row(1, "alice took one"))
		if err != nil || !ok {
			t.Fatalf("first take: %v, %v; want true, nil", ok, err)
		}
		if n := count(`SELECT "left" FROM tickets WHERE id = 't1'`); n != 1 {
			t.Fatalf("uses left after one take: %d, want 1", n)
		}
		if n := count(`SELECT count(*) FROM stubs WHERE id = 's1' AND holder = 'alice'`); n != 1 {
			t.Fatalf("stub rows of the take: %d, want 1", n)
		}

		// The gate's WHERE refuses: nothing is written.
		ok, err = g.Exec(ctx, []any{"gone"}, stubs.Row("s2", "gone", "bob"), notes.Row(2, "bob took one"))
		if err != nil || ok {
			t.Fatalf("take of a revoked ticket: %v, %v; want false, nil", ok, err)
		}
		if n := count(`SELECT count(*) FROM stubs WHERE id = 's2'`) + count(`SELECT count(*) FROM notes WHERE id = 2`); n != 0 {
			t.Fatalf("rows written by a refused take: %d", n)
		}

		// A row colliding on a unique key undoes the gate and the other rows.
		ok, err = g.Exec(ctx, []any{"t1"}, stubs.Row("s3", "t1", "alice"), notes.Row(3, "alice again"))
		if !store.IsUniqueViolation(err) || ok {
			t.Fatalf("colliding take: %v, %v; want false and a unique violation", ok, err)
		}
		if n := count(`SELECT "left" FROM tickets WHERE id = 't1'`); n != 1 {
			t.Fatalf("uses left after a colliding take: %d, want still 1", n)
		}
		if n := count(`SELECT count(*) FROM notes WHERE id = 3`); n != 0 {
			t.Fatal("a colliding take left its note")
		}

		// A value longer than its column is an error, never cut short.
		ok, err = g.Exec(ctx, []any{"t1"}, stubs.Row("s4", "t1", "a-much-too-long-holder"), notes.Row(4, "long"))
		if err == nil || ok {
			t.Fatalf("take with a holder longer than its column: %v, %v; want an error", ok, err)
		}
		if n := count(`SELECT count(*) FROM stubs WHERE holder LIKE 'a-much%'`); n != 0 {
			t.Fatal("a too-long value was written cut short")
		}

		// The wrong rows are refused before anything runs.
		if _, err := g.Exec(ctx, []any{"t1"}, notes.Row(5, "x"), stubs.Row("s5", "t1", "eve")); err == nil || !strings.Contains(err.Error(), "stubs") {
			t.Fatalf("rows out of order: %v, want an error naming stubs", err)
		}

		// 50 concurrent takes of 10 uses: exactly 10 pass, each with its rows.
		var wg sync.WaitGroup
		passed := make([]bool, 50)
		errs := make([]error, 50)
		for i := range passed {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				passed[i], errs[i] = g.Exec(ctx, []any{"t10"}, stubs.Row(fmt.Sprintf("c%d", i), "t10", fmt.Sprintf("h%d", i)), notes.Row(100+i, "concurrent"))
			}(i)
		}
		wg.Wait()
		took := 0
		for i := range passed {
			if errs[i] != nil {
				t.Fatalf("concurrent take %d: %v", i, errs[i])
			}
			if passed[i] {
				took++
			}
		}
		if took != 10 {
			t.Fatalf("concurrent takes of 10 uses: %d passed", took)
		}
		if s, n, left := count(`SELECT count(*) FROM stubs WHERE ticket_id = 't10'`), count(`SELECT count(*) FROM notes WHERE text = 'concurrent'`),
			count(`SELECT "left" FROM tickets WHERE id = 't10'`); s != 10 || n != 10 || left != 0 {
			t.Fatalf("after the concurrent takes: %d stubs, %d notes, %d uses left; want 10, 10, 0", s, n, left)
		}
	})
}
