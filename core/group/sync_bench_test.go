//go:build bench

package group_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// benchDirectory is a directory of n members in 1,000 groups, as a group
// source lists and streams it; members from..from+n-1.
func benchDirectory(from, n int) ([]group.SourceGroup, []group.SourceMember) {
	groups := make([]group.SourceGroup, 1000)
	for i := range groups {
		groups[i] = group.SourceGroup{ExternalID: fmt.Sprintf("g%d", i), Name: fmt.Sprintf("Group %d", i)}
	}
	ms := make([]group.SourceMember, n)
	for i := range ms {
		k := from + i
		ms[i] = group.SourceMember{GroupExternalID: fmt.Sprintf("g%d", k%1000), ExternalID: fmt.Sprintf("u%d", k),
			Email: fmt.Sprintf("user%d@example.org", k), Name: fmt.Sprintf("User %d", k)}
	}
	return groups, ms
}

// benchSync is the scheduler's guarded sync of the directory.
func benchSync(groups []group.SourceGroup, ms []group.SourceMember) group.Sync {
	return group.Sync{Account: "acct", Source: "campus", Groups: groups, Members: stream(ms...), MaxRemovalShare: group.DefaultMaxRemovalShare}
}

const benchTotal = 100_000

// TestBench_group_sync_sqlite: a first sync of a 100,000-member directory
// in 1,000 groups (every group and member inserted) through the guarded
// Sync, beside the same rows written with plain multi-row INSERTs in one
// transaction on a database migrated alike.
func TestBench_group_sync_sqlite(t *testing.T) { benchFirstSync(t, store.SQLite) }

// TestBench_group_sync_pg: the same on PostgreSQL.
func TestBench_group_sync_pg(t *testing.T) { benchFirstSync(t, store.Postgres) }

// TestBench_group_sync_rerun_sqlite: after a first sync, a sync of the
// directory with 1% changed: 1,000 members gone, 1,000 new.
func TestBench_group_sync_rerun_sqlite(t *testing.T) { benchRerun(t, store.SQLite) }

// TestBench_group_sync_rerun_pg: the same on PostgreSQL.
func TestBench_group_sync_rerun_pg(t *testing.T) { benchRerun(t, store.Postgres) }

func benchName(base, dialect string) string {
	if dialect == store.Postgres {
		return base + "_pg"
	}
	return base + "_sqlite"
}

func benchFirstSync(t *testing.T, dialect string) {
	groups, ms := benchDirectory(0, benchTotal)
	baseline := plainInsert(t, storetest.Open(t, dialect, models()...), groups, ms)
	db := storetest.Open(t, dialect, models()...)
	start := time.Now()
	res, err := benchSync(groups, ms).Run(context.Background(), db)
	d := time.Since(start)
	if err != nil || res.MembersAdded != benchTotal || res.GroupsAdded != 1000 {
		t.Fatalf("first sync: %+v, %v", res, err)
	}
	t.Logf("first sync %.1f µs/member, plain INSERTs %.1f µs/member", float64(d.Nanoseconds())/1000/benchTotal, float64(baseline.Nanoseconds())/1000/benchTotal)
	fmt.Printf("bench %s: %.0f ms (baseline %.0f ms, ratio %.2f)\n", benchName("group_sync", dialect),
		float64(d.Microseconds())/1000, float64(baseline.Microseconds())/1000, float64(baseline)/float64(d))
}

func benchRerun(t *testing.T, dialect string) {
	groups, ms := benchDirectory(0, benchTotal)
	db := storetest.Open(t, dialect, models()...)
	ctx := context.Background()
	if _, err := benchSync(groups, ms).Run(ctx, db); err != nil {
		t.Fatal(err)
	}
	const changed = benchTotal / 100
	_, fresh := benchDirectory(benchTotal, changed)
	next := append(ms[changed:len(ms):len(ms)], fresh...)
	start := time.Now()
	res, err := benchSync(groups, next).Run(ctx, db)
	d := time.Since(start)
	if err != nil || res.Held || res.MembersAdded != changed || res.MembersRemoved != changed || res.MembersUpdated != 0 {
		t.Fatalf("re-run: %+v, %v", res, err)
	}
	fmt.Printf("bench %s: %.0f ms\n", benchName("group_sync_rerun", dialect), float64(d.Microseconds())/1000)
}

// plainInsert writes the groups and members a first sync writes, with ids
// and keys made beforehand, as multi-row INSERTs in one transaction on
// database/sql, and returns how long the transaction took.
func plainInsert(t *testing.T, db *store.DB, groups []group.SourceGroup, ms []group.SourceMember) time.Duration {
	t.Helper()
	now := time.Now().UTC()
	groupIDs := make(map[string]string, len(groups))
	var grows [][]any
	for _, g := range groups {
		gid := id.New()
		groupIDs[g.ExternalID] = gid
		grows = append(grows, []any{gid, "acct", "campus", g.ExternalID, g.Name, now, now})
	}
	mrows := make([][]any, len(ms))
	for i, m := range ms {
		mrows[i] = []any{id.New(), groupIDs[m.GroupExternalID], "id:" + m.ExternalID, m.ExternalID, m.Email, m.Name, now, now}
	}
	sqlDB, err := db.W.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(table string, cols []string, rows [][]any) {
		const per = 500
		for len(rows) > 0 {
			n := min(per, len(rows))
			var b strings.Builder
			args := make([]any, 0, n*len(cols))
			fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
			for i, r := range rows[:n] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(")
				for j := range cols {
					if j > 0 {
						b.WriteString(", ")
					}
					if db.Dialect == store.Postgres {
						fmt.Fprintf(&b, "$%d", len(args)+j+1)
					} else {
						b.WriteString("?")
					}
				}
				b.WriteString(")")
				args = append(args, r...)
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				tx.Rollback()
				t.Fatalf("plain insert into %s: %v", table, err)
			}
			rows = rows[n:]
		}
	}
	write("groups", []string{"id", "account_id", "source", "external_id", "name", "created_at", "updated_at"}, grows)
	write("group_members", []string{"id", "group_id", "member_key", "external_id", "email", "name", "created_at", "updated_at"}, mrows)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}
