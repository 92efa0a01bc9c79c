// Package plugintest builds plugin binaries for tests: the real ones from
// cmd/gateway-plugin-* and the fixtures under testdata, so tests start the
// same executables the gateway would.
package plugintest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/invitegate/gateway/plugins/host"
)

// Build compiles the main package pkg (an import path, or a path relative
// to the module root starting with "./") into a temporary folder and
// returns the executable's path and SHA-256.
func Build(t testing.TB, pkg string) (path, sha256 string) {
	t.Helper()
	root := ModuleRoot(t)
	path = filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out.String())
	}
	sum, err := host.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, sum
}

// ModuleRoot is the folder holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatal("not inside the gateway module")
	}
	return filepath.Dir(mod)
}

// Kill9 sends SIGKILL to pid, as an operator's `kill -9` or the OOM killer
// would.
func Kill9(t testing.TB, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("no pid to kill")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// CloseGRPC ends a connection made by goplugin.TestPluginGRPCConn. Closing
// the client asks the server to stop (go-plugin's controller service), and
// the server stops itself in that call's handler; stopping it from here too,
// at the same time, is a data race inside go-plugin. So wait for the server
// to have exited, and stop it here only if it has not within a few seconds.
func CloseGRPC(client *goplugin.GRPCClient, server *goplugin.GRPCServer) {
	client.Close()
	select {
	case <-server.DoneCh:
	case <-time.After(5 * time.Second):
		server.Stop()
	}
}
