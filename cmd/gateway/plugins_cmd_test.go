package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
)

func runPluginsCmd(t *testing.T, configPath string, args ...string) (string, error) {
	t.Helper()
	return runCommand(configPath, newPluginsCommand, nil, args...)
}

func TestPluginsCheck(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	out, err := runPluginsCmd(t, "", "check", bin)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"sha256:        " + sum, "kind:          groupsource", "plugin:        file-groups 1.0.0",
		"api versions:  plugin [1], gateway [1], using 1", `"required": [`, "sha256: " + sum, "account: ACCOUNT-ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"path": "/nonexistent.csv", "colour": "red"}`), 0o644)
	out, err = runPluginsCmd(t, "", "check", bin, "--config-json", cfg)
	if err == nil || !strings.Contains(out, "config problems:") || !strings.Contains(out, "unknown field") {
		t.Fatalf("bad config: %v\n%s", err, out)
	}
	out, err = runPluginsCmd(t, "", "check", "/bin/true", "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "handshake failed") {
		t.Fatalf("non-plugin: %v\n%s", err, out)
	}
}

func TestPluginsList(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	dir := t.TempDir()
	dsn := filepath.Join(dir, "gateway.db")
	cfgPath := filepath.Join(dir, "gateway.yaml")
	yaml := "database:\n  dsn: " + dsn + "\nplugins:\n" +
		"  - name: campus\n    kind: groupsource\n    path: " + bin + "\n    sha256: " + sum + "\n    schedule: \"@hourly\"\n    account: acct-1\n    config:\n      path: " + filepath.Join(dir, "g.json") + "\n" +
		"  - name: old\n    kind: groupsource\n    path: " + bin + "\n    sha256: " + strings.Repeat("0", 64) + "\n    schedule: \"*/5 * * * *\"\n    account: acct-1\n"
	os.WriteFile(cfgPath, []byte(yaml), 0o644)
	os.WriteFile(filepath.Join(dir, "g.json"), []byte(`{"groups": [{"id": "g", "name": "G", "members": [{"email": "a@x.org"}]}]}`), 0o644)

	out, err := runPluginsCmd(t, cfgPath, "list")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "campus") || !strings.Contains(out, "never") || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("list before any run:\n%s", out)
	}

	// Run the job once, as `gateway serve` would, then list again.
	ctx := context.Background()
	cfg, err := app.Load(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plugins = cfg.Plugins[:1]
	g, err := app.Build(ctx, cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Plugins.Scheduler.RunNow(ctx, "campus"); err != nil {
		t.Fatal(err)
	}
	rows, err := g.Plugins.PluginStatuses(ctx)
	if err != nil || len(rows) != 1 || rows[0].State != string(host.StateRunning) || rows[0].Version != "1.0.0" || rows[0].LastRun == nil {
		t.Fatalf("PluginStatuses = %+v, %v", rows, err)
	}
	g.Close()

	out, err = runPluginsCmd(t, cfgPath, "list")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var campus string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "campus") {
			campus = l
		}
	}
	for _, want := range []string{"ok", "1.0.0", "@hourly"} {
		if !strings.Contains(campus, want) {
			t.Fatalf("campus row lacks %q:\n%s", want, out)
		}
	}
	out, err = runPluginsCmd(t, cfgPath, "list", "--json")
	if err != nil || !strings.Contains(out, `"summary": "groups +1 ~0 -0, members +1 ~0 -0"`) || !strings.Contains(out, `"binary": "checksum mismatch"`) {
		t.Fatalf("json: %v\n%s", err, out)
	}
}

// For every kind of the table, the declaration `plugins check` suggests is
// one the config accepts once ACCOUNT-ID is filled in: it has a schedule
// exactly when the kind has a job, an account exactly when it takes one.
func TestCheckSuggestsWhatTheKindNeeds(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, k := range host.Kinds() {
		t.Run(string(k.Kind), func(t *testing.T) {
			var out bytes.Buffer
			printCheck(&out, &host.CheckReport{Path: "/usr/lib/gateway/p", SHA256: sum,
				Info: plugins.Info{Kind: k.Kind, Name: "acme", Version: "1.0.0", APIVersions: k.APIVersions}, APIVersion: k.APIVersions[0]})
			_, decl, ok := strings.Cut(out.String(), "declare it in the config file:\n")
			if !ok {
				t.Fatalf("no declaration suggested:\n%s", out.String())
			}
			if strings.Contains(decl, "schedule:") != (k.Job != "") || strings.Contains(decl, "account:") != (k.Account != "") {
				t.Fatalf("declaration for %s (job %q, account %q):\n%s", k.Kind, k.Job, k.Account, decl)
			}
			var cfg struct {
				Plugins []host.Config `yaml:"plugins"`
			}
			if err := yaml.Unmarshal([]byte(strings.ReplaceAll(decl, "ACCOUNT-ID", "acct-1")), &cfg); err != nil {
				t.Fatalf("%v:\n%s", err, decl)
			}
			if err := host.ValidateAll(cfg.Plugins); err != nil || len(cfg.Plugins) != 1 || cfg.Plugins[0].Kind != string(k.Kind) {
				t.Fatalf("suggested declaration %+v refused: %v", cfg.Plugins, err)
			}
		})
	}
}
