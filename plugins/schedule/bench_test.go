//go:build bench

package schedule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/groupsource/file"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// sync applies one full listing from gs into a fresh database and returns
// how long listing + applying took.
func syncOnce(t *testing.T, dialect string, gs groupsource.GroupSource, want int) time.Duration {
	t.Helper()
	db := storetest.Open(t, dialect, models()...)
	ctx := context.Background()
	start := time.Now()
	listed, err := gs.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	groups := make([]group.SourceGroup, len(listed))
	for i, g := range listed {
		groups[i] = group.SourceGroup{ExternalID: g.ID, Name: g.Name}
	}
	res, err := group.Apply(ctx, db, account, "campus", groups, func(emit func(group.SourceMember) error) error {
		return gs.ListMembers(ctx, nil, func(m groupsource.Member) error {
			return emit(group.SourceMember{GroupExternalID: m.GroupID, ExternalID: m.ID, Email: m.Email, Name: m.Name})
		})
	})
	d := time.Since(start)
	if err != nil || res.MembersAdded != want {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	if n := memberCount(t, db); n != int64(want) {
		t.Fatalf("members = %d", n)
	}
	return d
}

// TestBench_plugin_stream: 100,000 group members streamed from the real file
// group source process into core/group (SQLite, first sync: every member
// inserted), beside the same listing from the same source code in-process.
func TestBench_plugin_stream(t *testing.T) {
	const total = 100_000
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	csv := filepath.Join(t.TempDir(), "groups.csv")
	writeCSV(t, csv, total, nil)
	cfg := map[string]any{"path": csv}
	h, err := host.New([]host.Config{{Name: "campus", Kind: "groupsource", Path: bin, SHA256: sum, Schedule: "@hourly", Account: account, Config: cfg}}, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer h.Stop(ctx)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	remote, _ := host.ClientOf[groupsource.GroupSource](h, "campus")
	local := file.New()
	raw, _ := json.Marshal(cfg)
	if err := local.Configure(ctx, 1, raw); err != nil {
		t.Fatal(err)
	}

	// Listing alone, without the database, to show the transport's share.
	for name, gs := range map[string]groupsource.GroupSource{"plugin process": remote, "in-process": local} {
		start := time.Now()
		n := 0
		if err := gs.ListMembers(ctx, nil, func(groupsource.Member) error { n++; return nil }); err != nil || n != total {
			t.Fatalf("%s listing: %d, %v", name, n, err)
		}
		t.Logf("%s: listing %d members alone took %s", name, total, time.Since(start))
	}

	const rounds = 3
	var rbest, lbest time.Duration
	for i := range rounds {
		r := syncOnce(t, store.SQLite, remote, total)
		l := syncOnce(t, store.SQLite, local, total)
		t.Logf("round %d: plugin process %s, in-process %s", i+1, r, l)
		if i == 0 || r < rbest {
			rbest = r
		}
		if i == 0 || l < lbest {
			lbest = l
		}
	}
	if rbest > time.Second {
		t.Logf("%s MISSES the 1s target; the listing alone is above, the rest is the database", rbest)
	}
	if os.Getenv(storetest.PostgresEnv) != "" {
		t.Logf("PostgreSQL: plugin process %s, in-process %s", syncOnce(t, store.Postgres, remote, total), syncOnce(t, store.Postgres, local, total))
	}
	fmt.Printf("bench plugin_stream: %.0f ms (baseline %.0f ms, ratio %.2f)\n",
		float64(rbest.Microseconds())/1000, float64(lbest.Microseconds())/1000, float64(rbest)/float64(lbest))
}
