package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gateway-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gateway")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build gateway: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// started is a running gateway process and what it printed at start.
type started struct {
	cmd   *exec.Cmd
	lines map[string]string
	base  string
	// logPath is the file its log goes to.
	logPath string
}

func startGateway(t *testing.T, env ...string) *started {
	t.Helper()
	return startGatewayIn(t, t.TempDir(), env...)
}

// startGatewayIn starts `gateway serve` in dir, which may hold its
// config file (gateway.yaml).
func startGatewayIn(t *testing.T, dir string, env ...string) *started {
	t.Helper()
	addr := freeAddr(t)
	for _, kv := range env {
		if a, ok := strings.CutPrefix(kv, "GATEWAY_LISTEN="); ok {
			addr = a // the caller's, so links made before can point here
		}
	}
	cmd := exec.Command(binary, "serve", "--print-admin-login-link")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GATEWAY_LISTEN=" + addr, "GATEWAY_LOG_FORMAT=json"}, env...)...)
	out, _ := cmd.StdoutPipe()
	// The log (stderr) is kept in a file, shown when the test fails.
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("gateway log %s:\n%s", logPath, tail(string(b), 20000))
		}
	})
	s := &started{cmd: cmd, lines: map[string]string{}, base: "http://" + addr, logPath: logPath}
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			for _, k := range []string{"API key", "Sign in as", "First start", "Console:"} {
				if strings.HasPrefix(line, k) {
					s.lines[k] = line
				}
			}
			if strings.HasPrefix(line, "Sign in as") {
				break
			}
		}
	}()
	select {
	case <-printed:
	case <-time.After(60 * time.Second):
		// A gateway stuck at start: its goroutines go to the log.
		cmd.Process.Signal(syscall.SIGQUIT)
		time.Sleep(time.Second)
		t.Fatal("gateway printed no sign-in link within 60 s")
	}
	go io.Copy(io.Discard, out)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(s.base + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("gateway did not become ready")
	return nil
}

func lastField(s string) string { f := strings.Fields(s); return f[len(f)-1] }

func TestServeBootstrapsOnceAndStopsGracefully(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			g := startGateway(t, "GATEWAY_DATABASE_DSN="+dsn, "GATEWAY_ADMIN_EMAIL=owner@org.test")
			key := lastField(g.lines["API key"])
			if g.lines["First start"] == "" || !strings.HasPrefix(key, "igk_") || !strings.Contains(g.lines["Sign in as"], g.base+"/l/") {
				t.Fatalf("first start printed %v", g.lines)
			}
			req, _ := http.NewRequest("GET", g.base+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
				t.Fatalf("API key from first start: %v %v", err, r)
			}
			for _, p := range []string{"/healthz", "/metrics", "/.well-known/jwks.json", "/openapi.json"} {
				if r, err := http.Get(g.base + p); err != nil || r.StatusCode != 200 {
					t.Fatalf("%s: %v %v", p, err, r)
				}
			}
			g.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- g.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no exit 15 s after SIGTERM")
			}
			// A restart creates nothing new and the key still works.
			g2 := startGateway(t, "GATEWAY_DATABASE_DSN="+dsn, "GATEWAY_ADMIN_EMAIL=owner@org.test")
			if g2.lines["First start"] != "" || g2.lines["API key"] != "" {
				t.Fatalf("second start bootstrapped again: %v", g2.lines)
			}
			req, _ = http.NewRequest("GET", g2.base+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
				t.Fatalf("API key after restart: %v %v", err, r)
			}
		})
	}
}

func TestConfigMistakesAreReportedTogether(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(`listen: "nonsense"
base_url: "ftp://x/y"
bootstrap:
  admin_email: "not-an-email"
log:
  level: loud
plugins:
  - name: "Bad Name"
    kind: teleporter
`), 0o600)
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), "GATEWAY_MAIL_SMTP_PORT=twenty-five", "GATEWAY_MAIL_SMTP_TLS=maybe", "GATEWAY_MAIL_SMTP_HOST=127.0.0.1", "GATEWAY_MAIL_FROM=x@y.test")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("serve accepted a broken config")
	}
	for _, want := range []string{"listen:", "base_url:", "bootstrap.admin_email:", "log.level:", "plugins[0]",
		`GATEWAY_MAIL_SMTP_PORT: "twenty-five" is not a port number`, "mail.smtp.tls"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "panic") || strings.Contains(string(out), "goroutine") {
		t.Fatalf("config error panicked:\n%s", out)
	}
	os.WriteFile(cfg, []byte("listen: [unclosed\n"), 0o600)
	if out, _ := exec.Command(binary, "serve", "--config", cfg).CombinedOutput(); !strings.Contains(string(out), "config file") {
		t.Fatalf("bad YAML: %s", out)
	}
	os.WriteFile(cfg, []byte("lissten: 127.0.0.1:1\n"), 0o600)
	if out, _ := exec.Command(binary, "serve", "--config", cfg).CombinedOutput(); !strings.Contains(string(out), "lissten") {
		t.Fatalf("unknown key not named: %s", out)
	}
	if out, _ := exec.Command(binary, "serve", "--config", filepath.Join(dir, "missing.yaml")).CombinedOutput(); !strings.Contains(string(out), "missing.yaml") {
		t.Fatalf("missing explicit config: %s", out)
	}
}

func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	env := append(os.Environ(), "GATEWAY_DATABASE_DSN="+filepath.Join(dir, "g.db"), "GATEWAY_ADMIN_EMAIL=boss@org.test")
	run := func(args ...string) string {
		cmd := exec.Command(binary, args...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("migrate")
	g := startGateway(t, "GATEWAY_DATABASE_DSN="+filepath.Join(dir, "g.db"), "GATEWAY_ADMIN_EMAIL=boss@org.test")
	g.cmd.Process.Signal(syscall.SIGTERM)
	g.cmd.Wait()
	if out := run("admin", "login-link", "BOSS@org.test"); !strings.Contains(out, "/l/") {
		t.Fatalf("login-link: %s", out)
	}
	if out := run("admin", "api-key", "boss@org.test", "ci"); !strings.HasPrefix(out, "igk_") {
		t.Fatalf("api-key: %s", out)
	}
	if out := run("keys", "rotate"); !strings.Contains(out, "new signing key") {
		t.Fatalf("rotate: %s", out)
	}
}
