package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/schedule"
)

// The mass-removal guard with the real file group source process: a sync
// that loses 30% of the directory is held (run status held, nothing
// removed, the held sync lists them), confirming removes them; an empty
// file is held too; an unreadable one fails the run with its reason and
// removes nothing.
func TestGroupSyncGuardWithPlugin(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		csv := filepath.Join(t.TempDir(), "groups.csv")
		writeCSV(t, csv, 100, nil)
		h := startHost(t, host.Config{Name: "campus", Kind: "groupsource", Path: bin, SHA256: sum, Schedule: "@yearly", Account: account,
			Config: map[string]any{"path": csv}})
		s := newScheduler(t, db, h)
		if r, err := s.RunNow(ctx, "campus"); err != nil || r.Status != scheduled.StatusOK || r.Seen != 100 {
			t.Fatalf("first sync: %+v, %v", r, err)
		}

		gone := map[int]bool{}
		for i := range 30 {
			gone[i*3] = true
		}
		writeCSV(t, csv, 100, gone)
		r, err := s.RunNow(ctx, "campus")
		if err != nil || r.Status != scheduled.StatusHeld || !strings.Contains(r.Summary, "held: would remove 30 members") {
			t.Fatalf("30%% removal: %+v, %v", r, err)
		}
		var res group.Result
		if err := json.Unmarshal([]byte(r.Details), &res); err != nil || !res.Held || res.HeldMembers != 30 || res.MembersRemoved != 0 {
			t.Fatalf("run details %q: %+v, %v", r.Details, res, err)
		}
		if stored, _ := scheduled.Get(ctx, db.R, "campus", r.ID); stored == nil || stored.Status != scheduled.StatusHeld || stored.Seen != 70 || stored.Expected != 100 {
			t.Fatalf("stored run = %+v", stored)
		}
		if n := memberCount(t, db); n != 100 {
			t.Fatalf("members after the held sync = %d, want 100", n)
		}
		held, err := group.Held(ctx, db.R, account, "campus")
		if err != nil || held == nil || held.RunID != r.ID || held.MembersRemove != 30 {
			t.Fatalf("held = %+v, %v", held, err)
		}
		rm, total, _ := group.HeldRemovals(ctx, db.R, held.ID, 1, 100)
		if total != 30 || len(rm) != 30 {
			t.Fatalf("held removals: %d of %d", len(rm), total)
		}
		for _, m := range rm {
			if !strings.HasSuffix(m.Email, "@example.org") || !gone[atoiSuffix(t, m.ExternalID)] {
				t.Fatalf("held removal %+v is not one of the members gone from the file", m)
			}
		}
		if _, err := group.Confirm(ctx, db, account, "campus", held.ID, audit.Actor{Kind: audit.ActorUser, ID: "admin"}); err != nil {
			t.Fatal(err)
		}
		if n := memberCount(t, db); n != 70 {
			t.Fatalf("members after confirm = %d, want 70", n)
		}

		// An empty directory answer: held, whatever the share.
		writeCSV(t, csv, 0, nil)
		if r, err := s.RunNow(ctx, "campus"); err != nil || r.Status != scheduled.StatusHeld {
			t.Fatalf("empty answer: %+v, %v", r, err)
		}
		if held, _ := group.Held(ctx, db.R, account, "campus"); held == nil || held.Reason != group.HeldEmpty {
			t.Fatalf("held of the empty answer = %+v", held)
		}
		// A failing one: the run fails with the reason, nothing removed.
		if err := os.Remove(csv); err != nil {
			t.Fatal(err)
		}
		r, err = s.RunNow(ctx, "campus")
		if err == nil || r.Status != scheduled.StatusFailed || !strings.Contains(r.Error, "no such file") {
			t.Fatalf("failing source: %+v, %v", r, err)
		}
		if n := memberCount(t, db); n != 70 {
			t.Fatalf("members after a failing run = %d, want 70", n)
		}
	})
}

func atoiSuffix(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range strings.TrimPrefix(s, "u") {
		if c < '0' || c > '9' {
			t.Fatalf("id %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Begin starts a run in the background and answers at once; while it goes,
// another Begin (or RunNow) is refused with ErrBusy.
func TestBeginIsOneAtATime(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		gate := make(chan struct{})
		src := &groupsource.Mock{
			ListGroupsFunc: func(context.Context) ([]groupsource.Group, error) {
				return []groupsource.Group{{ID: "g1", Name: "Staff"}}, nil
			},
			ListMembersFunc: func(ctx context.Context, _ []string, emit func(groupsource.Member) error) error {
				<-gate
				return emit(groupsource.Member{GroupID: "g1", ID: "u1", Email: "ann@example.org", Name: "Ann"})
			},
		}
		s := newScheduler(t, db, oneSource{src})
		r, err := s.Begin(ctx, "campus")
		if err != nil || r.Status != scheduled.StatusRunning || r.Trigger != "manual" {
			t.Fatalf("begin = %+v, %v", r, err)
		}
		if _, err := s.Begin(ctx, "campus"); !errors.Is(err, schedule.ErrBusy) {
			t.Fatalf("second begin while running = %v, want ErrBusy", err)
		}
		if _, err := s.RunNow(ctx, "campus"); !errors.Is(err, schedule.ErrBusy) {
			t.Fatalf("run now while running = %v, want ErrBusy", err)
		}
		close(gate)
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _ := scheduled.Get(ctx, db.R, "campus", r.ID)
			if got != nil && got.Status == scheduled.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("background run did not finish: %+v", got)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := memberCount(t, db); n != 1 {
			t.Fatalf("members = %d, want 1", n)
		}
	})
}

// oneSource is a Plugins of one group source, "campus", without a process.
type oneSource struct{ src groupsource.GroupSource }

func (o oneSource) Configs() []host.Config {
	return []host.Config{{Name: "campus", Kind: "groupsource", Schedule: "@yearly", Account: account}}
}
func (o oneSource) StatusOf(string) (host.Status, bool)   { return host.Status{}, false }
func (o oneSource) Client(string) (plugins.Plugin, error) { return o.src, nil }
