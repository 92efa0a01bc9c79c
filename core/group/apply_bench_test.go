//go:build bench

package group_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// benchMembers is a first sync of n members over ten groups, as the file
// group source streams them.
func benchMembers(n int) ([]group.SourceGroup, group.MemberStream) {
	groups := make([]group.SourceGroup, 10)
	for i := range groups {
		groups[i] = group.SourceGroup{ExternalID: fmt.Sprintf("g%d", i), Name: fmt.Sprintf("Group %d", i)}
	}
	ms := make([]group.SourceMember, n)
	for i := range ms {
		ms[i] = group.SourceMember{GroupExternalID: fmt.Sprintf("g%d", i%10), ExternalID: fmt.Sprintf("u%d", i),
			Email: fmt.Sprintf("user%d@example.org", i), Name: fmt.Sprintf("User %d", i)}
	}
	return groups, stream(ms...)
}

// TestBench_group_apply_sqlite: Apply of a first sync of 100,000 members
// (every member inserted), then of the same listing again (nothing
// changes). No baseline: the figure is the first sync's time.
func TestBench_group_apply_sqlite(t *testing.T) { benchApply(t, store.SQLite) }

// TestBench_group_apply_pg: the same on PostgreSQL.
func TestBench_group_apply_pg(t *testing.T) { benchApply(t, store.Postgres) }

func benchApply(t *testing.T, dialect string) {
	const total = 100_000
	groups, members := benchMembers(total)
	var first, again time.Duration
	for i := range 3 {
		db := storetest.Open(t, dialect, models()...)
		start := time.Now()
		res, err := group.Apply(context.Background(), db, "acct", "campus", groups, members)
		d := time.Since(start)
		if err != nil || res.MembersAdded != total {
			t.Fatalf("first sync: %+v, %v", res, err)
		}
		start = time.Now()
		res, err = group.Apply(context.Background(), db, "acct", "campus", groups, members)
		d2 := time.Since(start)
		if err != nil || res != (group.Result{Complete: true}) {
			t.Fatalf("second sync: %+v, %v", res, err)
		}
		t.Logf("round %d: first sync %s, unchanged sync %s", i+1, d, d2)
		if i == 0 || d < first {
			first = d
		}
		if i == 0 || d2 < again {
			again = d2
		}
	}
	name := "group_apply_sqlite"
	if dialect == store.Postgres {
		name = "group_apply_pg"
	}
	t.Logf("%s: first sync %.1f µs/member, unchanged sync %.0f ms", name, float64(first.Nanoseconds())/1000/total, float64(again.Microseconds())/1000)
	fmt.Printf("bench %s: %.0f ms\n", name, float64(first.Microseconds())/1000)
}
