package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/core/webhook"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/schedule"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

const account = "acct-1"

func models() []any {
	return append(table.Models(append(append(scheduled.Tables(), group.Tables()...), webhook.Tables()...)), &audit.Entry{})
}

// writeCSV writes a groups CSV with n members spread over groups g0..g9.
func writeCSV(t testing.TB, path string, n int, skip map[int]bool) {
	t.Helper()
	var b strings.Builder
	b.WriteString("group_id,group_name,member_id,member_email,member_name\n")
	for i := range 10 {
		fmt.Fprintf(&b, "g%d,Group %d,,,\n", i, i)
	}
	for i := range n {
		if skip[i] {
			continue
		}
		fmt.Fprintf(&b, "g%d,Group %d,u%d,user%d@example.org,User %d\n", i%10, i%10, i, i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func startHost(t *testing.T, cfgs ...host.Config) *host.Host {
	t.Helper()
	h, err := host.New(cfgs, host.Options{HealthInterval: 200 * time.Millisecond, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Stop(context.Background()) })
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

func newScheduler(t *testing.T, db *store.DB, p schedule.Plugins, opts ...func(*schedule.Options)) *schedule.Scheduler {
	t.Helper()
	o := schedule.Options{DB: db, Host: p, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	for _, f := range opts {
		f(&o)
	}
	s, err := schedule.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

func memberCount(t testing.TB, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.R.Model(&group.Member{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// waitRun waits for a finished run matching ok.
func waitRun(t *testing.T, db *store.DB, name string, ok func(scheduled.Run) bool) scheduled.Run {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		runs, err := scheduled.History(context.Background(), db.R, name, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Status != scheduled.StatusRunning && ok(r) {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no matching run of %s", name)
	return scheduled.Run{}
}

// A group source on a schedule: runs are recorded, changes applied as a
// difference, a failing run recorded and retried at the next tick.
func TestGroupSyncOnSchedule(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		csv := filepath.Join(t.TempDir(), "groups.csv")
		writeCSV(t, csv, 100, nil)
		h := startHost(t, host.Config{Name: "campus", Kind: "groupsource", Path: bin, SHA256: sum, Schedule: "@every 1s", Account: account,
			Config: map[string]any{"path": csv}})
		s := newScheduler(t, db, h)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		first := waitRun(t, db, "campus", func(r scheduled.Run) bool { return r.Status == scheduled.StatusOK })
		if first.Trigger != "schedule" || first.Job != host.JobGroupSync || first.PluginVersion != "1.0.0" ||
			first.Summary != "groups +10 ~0 -0, members +100 ~0 -0" {
			t.Fatalf("first run = %+v", first)
		}
		if n := memberCount(t, db); n != 100 {
			t.Fatalf("members = %d", n)
		}

		// The file loses u7: the next run removes exactly that member.
		writeCSV(t, csv, 100, map[int]bool{7: true})
		waitRun(t, db, "campus", func(r scheduled.Run) bool { return r.Summary == "groups +0 ~0 -0, members +0 ~0 -1" })
		if n := memberCount(t, db); n != 99 {
			t.Fatalf("members = %d, want 99", n)
		}

		// The file becomes unreadable: runs fail with the reason, nothing is
		// removed; once it is back, the next tick succeeds.
		if err := os.Rename(csv, csv+".away"); err != nil {
			t.Fatal(err)
		}
		failed := waitRun(t, db, "campus", func(r scheduled.Run) bool { return r.Status == scheduled.StatusFailed })
		if !strings.Contains(failed.Error, "no such file") {
			t.Fatalf("failed run = %+v", failed)
		}
		if n := memberCount(t, db); n != 99 {
			t.Fatalf("a failed run changed members: %d", n)
		}
		if err := os.Rename(csv+".away", csv); err != nil {
			t.Fatal(err)
		}
		waitRun(t, db, "campus", func(r scheduled.Run) bool {
			return r.Status == scheduled.StatusOK && r.StartedAt.After(failed.StartedAt)
		})

		ov, err := s.Overview(context.Background())
		if err != nil || len(ov) != 1 || ov[0].State != host.StateRunning || ov[0].Job != host.JobGroupSync || ov[0].LastRun == nil ||
			ov[0].NextRun.IsZero() || ov[0].LastSuccessAt.IsZero() {
			t.Fatalf("overview = %+v, %v", ov, err)
		}
	})
}

// killingSource wraps the real plugin's client and kills the plugin process
// with SIGKILL once, after `after` members arrived: a crash in the middle of
// a streamed listing, at a point the test chooses.
type killingSource struct {
	schedule.Plugins
	t     *testing.T
	after int
	once  sync.Once
}

func (k *killingSource) Client(name string) (plugins.Plugin, error) {
	raw, err := k.Plugins.Client(name)
	if err != nil {
		return nil, err
	}
	return &killingStream{GroupSource: raw.(groupsource.GroupSource), k: k, name: name}, nil
}

type killingStream struct {
	groupsource.GroupSource
	k    *killingSource
	name string
}

func (s *killingStream) ListMembers(ctx context.Context, ids []string, emit func(groupsource.Member) error) error {
	n := 0
	return s.GroupSource.ListMembers(ctx, ids, func(m groupsource.Member) error {
		n++
		if n == s.k.after {
			s.k.once.Do(func() {
				st, _ := s.k.Plugins.StatusOf(s.name)
				plugintest.Kill9(s.k.t, st.PID)
			})
		}
		return emit(m)
	})
}

// kill -9 during a streamed listing: the run fails with a clear error and
// removes nothing, the host restarts the plugin, the next scheduled run
// succeeds.
func TestKillDuringStreamedSync(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	db := storetest.Open(t, store.SQLite, models()...)
	csv := filepath.Join(t.TempDir(), "groups.csv")
	const total = 100_000
	writeCSV(t, csv, total, nil)
	// Half the directory goes below: the mass-removal guard is off (share
	// 1) so that the run after the restart applies it (the guard has tests
	// of its own).
	all := 1.0
	h := startHost(t, host.Config{Name: "campus", Kind: "groupsource", Path: bin, SHA256: sum, Schedule: "@every 1s", Account: account,
		MaxRemovalShare: &all, Config: map[string]any{"path": csv}})
	ctx := context.Background()

	// A complete first sync.
	plain := newScheduler(t, db, h)
	if r, err := plain.RunNow(ctx, "campus"); err != nil || r.Status != scheduled.StatusOK {
		t.Fatalf("first sync: %+v, %v", r, err)
	}
	if n := memberCount(t, db); n != total {
		t.Fatalf("members = %d", n)
	}

	// The directory lost half its members, and the plugin dies while
	// streaming: nobody may be removed.
	writeCSV(t, csv, total/2, nil)
	before, _ := h.StatusOf("campus")
	k := &killingSource{Plugins: h, t: t, after: 1000}
	s := newScheduler(t, db, k)
	r, err := s.RunNow(ctx, "campus")
	if err == nil || r.Status != scheduled.StatusFailed {
		t.Fatalf("run during which the plugin died: %+v, %v", r, err)
	}
	for _, want := range []string{"member stream interrupted", `plugin "campus" stopped during ListMembers`, "restarting it"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("run error %q does not say %q", r.Error, want)
		}
	}
	var ce *host.CallError
	if !errors.As(err, &ce) || !ce.Crashed || !errors.Is(err, plugins.ErrUnavailable) {
		t.Fatalf("err = %v, want a CallError with Crashed", err)
	}
	if n := memberCount(t, db); n != total {
		t.Fatalf("members after interrupted sync = %d, want all %d kept", n, total)
	}

	// The host restarts the plugin; the next scheduled run applies the
	// removal.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := h.StatusOf("campus")
		if st.State == host.StateRunning && st.PID != before.PID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ok := waitRun(t, db, "campus", func(r scheduled.Run) bool { return r.Trigger == "schedule" && r.Status == scheduled.StatusOK })
	if ok.Summary != fmt.Sprintf("groups +0 ~0 -0, members +0 ~0 -%d", total/2) {
		t.Fatalf("scheduled run after restart = %+v", ok)
	}
	if n := memberCount(t, db); n != total/2 {
		t.Fatalf("members = %d, want %d", n, total/2)
	}
}

// Two replicas on one PostgreSQL database: each tick runs once, never two at
// a time. On SQLite the advisory lock is the process's own business.
func TestReplicasRunEachTickOnce(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		release, ok, err := db.TryLock(ctx, "x")
		if err != nil || !ok {
			t.Fatalf("TryLock: %v %v", ok, err)
		}
		_, ok2, err := db.TryLock(ctx, "x")
		if err != nil || ok2 != (db.Dialect == store.SQLite) {
			t.Fatalf("second TryLock on %s = %v, %v", db.Dialect, ok2, err)
		}
		release()
		r3, ok3, err := db.TryLock(ctx, "x")
		if err != nil || !ok3 {
			t.Fatalf("TryLock after release = %v, %v", ok3, err)
		}
		r3()
		if db.Dialect == store.SQLite {
			return
		}

		csv := filepath.Join(t.TempDir(), "groups.csv")
		writeCSV(t, csv, 2000, nil)
		cfg := host.Config{Name: "campus", Kind: "groupsource", Path: bin, SHA256: sum, Schedule: "@every 1s", Account: account, Config: map[string]any{"path": csv}}
		hosts := []*host.Host{startHost(t, cfg), startHost(t, cfg)}
		var scheds []*schedule.Scheduler
		for i, h := range hosts {
			s := newScheduler(t, db, h, func(o *schedule.Options) { o.Replica = fmt.Sprintf("replica-%d", i) })
			scheds = append(scheds, s)
		}
		for _, s := range scheds {
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// Wait for three finished runs (three ticks of an @every 1s
		// schedule), however long a busy machine makes them take.
		deadline := time.Now().Add(30 * time.Second)
		for {
			runs, err := scheduled.History(ctx, db.R, "campus", 100)
			if err != nil {
				t.Fatal(err)
			}
			finished := 0
			for _, r := range runs {
				if r.Status != scheduled.StatusRunning {
					finished++
				}
			}
			if finished >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d finished runs in 30s of an @every 1s schedule", finished)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, s := range scheds {
			s.Stop(ctx)
		}
		runs, err := scheduled.History(ctx, db.R, "campus", 100)
		if err != nil {
			t.Fatal(err)
		}
		ticks := map[time.Time]string{}
		for _, r := range runs {
			if prev, dup := ticks[r.Tick]; dup {
				t.Fatalf("tick %s ran on %s and %s", r.Tick, prev, r.Replica)
			}
			ticks[r.Tick] = r.Replica
			if r.Status != scheduled.StatusOK {
				t.Fatalf("run failed: %+v", r)
			}
		}
		for i := range runs {
			for j := range runs {
				a, b := runs[i], runs[j]
				if i != j && a.StartedAt.Before(*b.FinishedAt) && b.StartedAt.Before(*a.FinishedAt) {
					t.Fatalf("runs overlap: %+v and %+v", a, b)
				}
			}
		}
	})
}

// Template refresh keeps the last good version of a template that stops
// parsing, and hands everything the provider listed to the sink, which
// judges for itself (core/mail keeps its own last good versions).
func TestTemplateRefreshKeepsLastGood(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-template-dir")
	db := storetest.Open(t, store.SQLite, models()...)
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("invitation/en/subject.txt", "Join {{.Resource}}")
	write("invitation/en/body.html", "<p>{{.Name}}</p>")
	h := startHost(t, host.Config{Name: "mails", Kind: "templateprovider", Path: bin, SHA256: sum, Schedule: "@hourly", Config: map[string]any{"dir": dir}})
	var sunk [][]templateprovider.Template
	s := newScheduler(t, db, h, func(o *schedule.Options) {
		o.Templates = func(_ context.Context, provider string, ts []templateprovider.Template) error {
			sunk = append(sunk, ts)
			return nil
		}
	})
	ctx := context.Background()
	r, err := s.RunNow(ctx, "mails")
	if err != nil || r.Summary != "1 templates, 1 new or changed, 0 invalid" {
		t.Fatalf("first refresh: %+v, %v", r, err)
	}
	good := s.Templates("mails")[0]
	write("invitation/en/body.html", "<p>{{.Name</p>")
	r, err = s.RunNow(ctx, "mails")
	if err == nil || r.Status != scheduled.StatusFailed || !strings.Contains(r.Error, "invitation/en: html") {
		t.Fatalf("broken refresh: %+v, %v", r, err)
	}
	if got := s.Templates("mails"); len(got) != 1 || got[0] != good || len(sunk) != 2 || sunk[1][0].HTML != "<p>{{.Name</p>" {
		t.Fatalf("last good version not kept: %+v / sunk %+v", got, sunk)
	}
}
