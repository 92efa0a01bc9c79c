package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/cmd/gateway/app"
)

// bootstrapped writes a gateway config on SQLite in a temporary folder,
// migrates it and makes its first account, as a first `gateway serve`
// would, and returns the config's path and what it loads to.
func bootstrapped(t *testing.T) (string, *app.Config) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte("database:\n  dsn: "+filepath.Join(dir, "g.db")+"\nbootstrap:\n  admin_email: boss@org.test\nbase_url: https://gw.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.Load(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Build(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cfgPath, cfg
}

// runCommand runs a gateway command (newXCommand(&path)) with cfgPath as
// its --config, stdin as its input, and returns what it printed.
func runCommand(cfgPath string, newCmd func(path *string) *cobra.Command, stdin io.Reader, args ...string) (string, error) {
	path := cfgPath
	cmd := newCmd(&path)
	cmd.PersistentFlags().String("config", cfgPath, "")
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if stdin != nil {
		cmd.SetIn(stdin)
	}
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}
