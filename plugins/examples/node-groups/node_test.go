// Package nodegroups_test runs the Node.js example plugin under the real
// host: npm installs its dependencies, the host verifies its checksum,
// starts it with the handshake and mutual TLS, configures it and streams its
// members into core/group, as it would any plugin.
package nodegroups_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/core/webhook"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/schedule"
)

// npmInstall installs the example's dependencies into its node_modules
// (git-ignored). Without node and npm the test fails in CI and is skipped
// elsewhere.
func npmInstall(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed: the Node plugin example cannot be tested", tool)
			}
			t.Skipf("%s is not installed; skipping the Node plugin example (install Node.js 18+ to run it)", tool)
		}
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("npm install: %v\n%s", err, out.String())
	}
	return filepath.Join(dir, "index.js")
}

func TestNodePlugin(t *testing.T) {
	script := npmInstall(t)
	sum, err := host.FileSHA256(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	rep, err := host.Check(ctx, script, nil, nil, 20*time.Second)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if rep.Info.Kind != groupsource.Kind || rep.Info.Name != "node-groups" || rep.APIVersion != 1 || !strings.Contains(string(rep.Info.ConfigSchema), `"required":["groups"]`) {
		t.Fatalf("check report = %+v", rep)
	}
	rep, err = host.Check(ctx, script, []byte(`{"groups": [{"members": [{}]}], "extra": 1}`), nil, 20*time.Second)
	if err != nil || len(rep.ConfigProblems) != 3 {
		t.Fatalf("config problems = %+v, %v; want 3 (extra, groups[0].id, groups[0].members[0])", rep.ConfigProblems, err)
	}

	logs := &syncWriter{w: &bytes.Buffer{}}
	lg := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := host.New([]host.Config{{
		Name: "node", Kind: "groupsource", Path: script, SHA256: sum, Schedule: "@hourly", Account: "acct-1",
		Config: map[string]any{"groups": []any{
			map[string]any{"id": "staff", "name": "Staff", "members": []any{
				map[string]any{"id": "u1", "email": "ann@example.org", "name": "Ann"},
				map[string]any{"email": "bob@example.org", "name": "Bob"},
			}},
			map[string]any{"id": "empty", "name": "Nobody"},
		}},
	}}, host.Options{Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(ctx)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := h.StatusOf("node")
	if st.State != host.StateRunning || st.Version != "1.0.0" || st.PID == 0 {
		t.Fatalf("status = %+v", st)
	}
	gs, err := host.ClientOf[groupsource.GroupSource](h, "node")
	if err != nil {
		t.Fatal(err)
	}
	list, err := gs.ListGroups(ctx)
	if err != nil || len(list) != 2 || list[0] != (groupsource.Group{ID: "staff", Name: "Staff"}) {
		t.Fatalf("ListGroups = %+v, %v", list, err)
	}

	// A sync through the scheduler into the database, as in production.
	db := storetest.Open(t, store.SQLite, append(table.Models(append(append(group.Tables(), scheduled.Tables()...), webhook.Tables()...)), &audit.Entry{})...)
	s, err := schedule.New(schedule.Options{DB: db, Host: h})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.RunNow(ctx, "node")
	if err != nil || r.Summary != "groups +2 ~0 -0, members +2 ~0 -0" || r.PluginVersion != "1.0.0" {
		t.Fatalf("sync = %+v, %v", r, err)
	}
	if !strings.Contains(logs.String(), "msg=configured") || !strings.Contains(logs.String(), "plugin=node") {
		t.Fatalf("the plugin's log did not reach the gateway's:\n%s", logs.String())
	}

	// Shutdown asks the plugin to exit (go-plugin's controller service).
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("node plugin %d still running after Stop", st.PID)
	}
	// The host kills a plugin that has not exited 5 s after it was asked:
	// ending well before that means it exited when asked, however busy the
	// machine.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Stop took %s: the plugin did not exit when asked", d)
	}
}
