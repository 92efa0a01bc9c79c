package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/invitegate/gateway/plugins/plugintest"
)

// `gateway lti` registers, lists, changes and removes an account's LMS
// platforms on the server, refusing a registration with every problem
// named, and rotates the tool's keys.
func TestLTICommands(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(roomsConfig(bin, sum, map[string]any{"id": "r1", "type": "room", "title": "R"})), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := "GATEWAY_DATABASE_DSN=" + filepath.Join(dir, "g.db")
	g := startGatewayIn(t, dir, dsn, "GATEWAY_ADMIN_EMAIL=boss@org.test")
	g.cmd.Process.Signal(syscall.SIGTERM)
	g.cmd.Wait()
	env := append(os.Environ(), dsn)
	run := func(wantErr bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if (err != nil) != wantErr {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	create := []string{"lti", "platforms", "create", "--admin", "boss@org.test", "--name", "Sakai", "--issuer", "https://sakai.example.edu",
		"--client-id", "c1", "--deployment-id", "d1", "--deployment-id", "d2", "--auth-login-url", "https://sakai.example.edu/imsoidc/lti13/oidc_auth",
		"--token-url", "https://sakai.example.edu/imsblis/lti13/token/7", "--jwks-url", "https://sakai.example.edu/imsblis/lti13/keyset/7", "--adapter", "rooms"}
	out := run(false, create...)
	if !strings.HasPrefix(out, "registered platform ") {
		t.Fatalf("create: %s", out)
	}
	id := strings.Fields(out)[2]

	out = run(true, "lti", "platforms", "create", "--admin", "boss@org.test", "--name", "Bad", "--issuer", "ftp://x", "--adapter", "nope")
	for _, want := range []string{"issuer:", "client_id:", "deployment_ids:", "auth_login_url:", "token_url:", "jwks_url:", "adapter:", "the room adapters are: rooms"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %q: %s", want, out)
		}
	}
	out = run(true, create...)
	if !strings.Contains(out, "already registered") {
		t.Errorf("a second registration: %s", out)
	}

	out = run(false, "lti", "platforms", "list", "--admin", "boss@org.test")
	for _, want := range []string{"/lti/login", "/lti/launch", "/lti/jwks", id, "Sakai", "https://sakai.example.edu", "d1,d2", "rooms"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q: %s", want, out)
		}
	}
	if out := run(false, "lti", "platforms", "update", id, "--admin", "boss@org.test", "--name", "Sakai 23"); !strings.Contains(out, "Sakai 23") {
		t.Errorf("update: %s", out)
	}
	if out := run(false, "lti", "platforms", "list", "--admin", "boss@org.test"); !strings.Contains(out, "Sakai 23") || !strings.Contains(out, "d1,d2") {
		t.Errorf("list after update: %s", out)
	}
	run(true, "lti", "platforms", "list", "--admin", "nobody@org.test")
	if out := run(false, "lti", "platforms", "delete", id, "--admin", "boss@org.test"); !strings.Contains(out, "removed platform "+id) {
		t.Errorf("delete: %s", out)
	}
	if out := run(false, "lti", "platforms", "list", "--admin", "boss@org.test"); !strings.Contains(out, "no platform is registered") {
		t.Errorf("list after delete: %s", out)
	}
	if out := run(false, "lti", "keys", "rotate"); !strings.Contains(out, "new LTI signing key") || !strings.Contains(out, "signs from") {
		t.Errorf("keys rotate: %s", out)
	}
}
