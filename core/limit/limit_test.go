package limit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/clocktest"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

// newClock is the clock of one test's counters.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func rule() Rule { return Rule{Max: 5, Window: time.Minute} }

func mustBlocked(t *testing.T, c *Counter, client string, want bool) time.Time {
	t.Helper()
	until, blocked, err := c.Blocked(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if blocked != want {
		t.Fatalf("%s blocked = %v, want %v", client, blocked, want)
	}
	return until
}

func add(t *testing.T, c *Counter, client string, n int) {
	t.Helper()
	for range n {
		if err := c.Add(context.Background(), client); err != nil {
			t.Fatal(err)
		}
	}
}

func rows(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.R.Raw("SELECT COUNT(*) FROM limit_counts").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCounterBlocksAtTheLimitUntilTheWindowEnds(t *testing.T) {
	storetest.Each(t, table.Models(Tables()), func(t *testing.T, db *store.DB) {
		clk := newClock()
		c := New(db, Config{Scope: "test", Rule: rule(), Now: clk.Now})
		start := clk.Now()
		add(t, c, "192.0.2.1", 4)
		mustBlocked(t, c, "192.0.2.1", false)
		clk.Advance(30 * time.Second)
		add(t, c, "192.0.2.1", 1)
		until := mustBlocked(t, c, "192.0.2.1", true)
		if !until.Equal(start.Add(time.Minute)) {
			t.Fatalf("blocked until %v, want the end of the window that began at the first count, %v", until, start.Add(time.Minute))
		}
		mustBlocked(t, c, "192.0.2.2", false)

		clk.Advance(30*time.Second - time.Millisecond)
		mustBlocked(t, c, "192.0.2.1", true)
		clk.Advance(time.Millisecond)
		mustBlocked(t, c, "192.0.2.1", false)
		// A new window counts from zero.
		add(t, c, "192.0.2.1", 4)
		mustBlocked(t, c, "192.0.2.1", false)
		add(t, c, "192.0.2.1", 1)
		mustBlocked(t, c, "192.0.2.1", true)
	})
}

// Replicas on PostgreSQL count into one row per client; a SQLite
// database's single process counts in memory and never writes the table.
func TestCountersShareCountsOnlyAcrossProcessesOfOneDatabase(t *testing.T) {
	storetest.Each(t, table.Models(Tables()), func(t *testing.T, db *store.DB) {
		clk := newClock()
		a := New(db, Config{Scope: "test", Rule: rule(), Now: clk.Now})
		b := New(db, Config{Scope: "test", Rule: rule(), Now: clk.Now})
		other := New(db, Config{Scope: "other", Rule: rule(), Now: clk.Now})
		add(t, a, "198.51.100.7", 3)
		add(t, b, "198.51.100.7", 2)
		add(t, other, "198.51.100.7", 4)
		if !db.MultiProcess() {
			mustBlocked(t, a, "198.51.100.7", false)
			mustBlocked(t, b, "198.51.100.7", false)
			if n := rows(t, db); n != 0 {
				t.Fatalf("%d rows in limit_counts on SQLite, want none", n)
			}
			return
		}
		// Each counted the client below the limit itself; together they
		// reached it, and each reads that back.
		mustBlocked(t, a, "198.51.100.7", true)
		mustBlocked(t, b, "198.51.100.7", true)
		mustBlocked(t, other, "198.51.100.7", false)
		// A replica that has not counted the client answers it until its
		// own count returns the shared one.
		c := New(db, Config{Scope: "test", Rule: rule(), Now: clk.Now})
		mustBlocked(t, c, "198.51.100.7", false)
		add(t, c, "198.51.100.7", 1)
		mustBlocked(t, c, "198.51.100.7", true)
		var hits int
		db.R.Raw("SELECT hits FROM limit_counts WHERE scope = 'test' AND client = '198.51.100.7'").Scan(&hits)
		if hits != 6 {
			t.Fatalf("shared count %d, want 6", hits)
		}
	})
}

func TestConcurrentCountsAllCount(t *testing.T) {
	storetest.Each(t, table.Models(Tables()), func(t *testing.T, db *store.DB) {
		clk := newClock()
		r := Rule{Max: 200, Window: time.Minute}
		// Two replicas on PostgreSQL; one process on SQLite.
		counters := []*Counter{New(db, Config{Scope: "test", Rule: r, Now: clk.Now})}
		if db.MultiProcess() {
			counters = append(counters, New(db, Config{Scope: "test", Rule: r, Now: clk.Now}))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 199)
		for i := range 199 {
			wg.Go(func() { errs <- counters[i%len(counters)].Add(context.Background(), "203.0.113.9") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		mustBlocked(t, counters[0], "203.0.113.9", false)
		add(t, counters[0], "203.0.113.9", 1)
		mustBlocked(t, counters[0], "203.0.113.9", true)
		if db.MultiProcess() {
			var hits int
			db.R.Raw("SELECT hits FROM limit_counts WHERE client = '203.0.113.9'").Scan(&hits)
			if hits != 200 {
				t.Fatalf("199 concurrent counts and one more left %d", hits)
			}
		}
	})
}

// Counts of ended windows are dropped, from memory and from the table,
// when a later count comes.
func TestEndedWindowsAreSwept(t *testing.T) {
	storetest.Each(t, table.Models(Tables()), func(t *testing.T, db *store.DB) {
		clk := newClock()
		c := New(db, Config{Scope: "test", Rule: rule(), Now: clk.Now})
		for _, ip := range []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"} {
			add(t, c, ip, 2)
		}
		clk.Advance(2 * time.Minute)
		add(t, c, "192.0.2.99", 1)
		c.mu.RLock()
		kept := len(c.seen)
		c.mu.RUnlock()
		if kept != 1 {
			t.Fatalf("%d clients kept in memory after their windows ended, want only the new one", kept)
		}
		if db.MultiProcess() {
			if n := rows(t, db); n != 1 {
				t.Fatalf("%d rows in limit_counts after a sweep, want 1", n)
			}
		}
	})
}
