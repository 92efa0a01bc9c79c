package scim_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NodeModulesEnv names the variable pointing at the node_modules holding
// scimmy, scimmy-routers and express; `make test` sets it to
// .cache/npm/node_modules, where .ci/deps.sh installs them.
const NodeModulesEnv = "GATEWAY_TEST_SCIM_NODE_MODULES"

// scimServer is testdata/server.mjs running for one test.
type scimServer struct {
	URL, Token string
}

// startSCIM starts the SCIM server with node on a free loopback port; the
// test's cleanup stops it by its pid.
func startSCIM(t *testing.T) *scimServer {
	t.Helper()
	modules := os.Getenv(NodeModulesEnv)
	if modules == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: the SCIM server tests cannot run (make test sets it)", NodeModulesEnv)
		}
		t.Skipf("SCIM server tests skipped: run .ci/deps.sh (npm scimmy, scimmy-routers, express into .cache/npm) and set %s=$PWD/.cache/npm/node_modules", NodeModulesEnv)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s is set but node is not installed: %v", NodeModulesEnv, err)
	}
	script, err := filepath.Abs("testdata/server.mjs")
	if err != nil {
		t.Fatal(err)
	}
	s := &scimServer{Token: "test-token-" + fmt.Sprint(time.Now().UnixNano())}
	cmd := exec.Command(node, script, s.Token)
	cmd.Env = append(os.Environ(), "SCIM_NODE_MODULES="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the SCIM server: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		if !ok {
			t.Fatalf("the SCIM server exited: %s", stderr.String())
		}
		s.URL = "http://127.0.0.1:" + p + "/scim/v2"
	case <-time.After(30 * time.Second):
		t.Fatalf("the SCIM server did not start: %s", stderr.String())
	}
	return s
}

// do sends a SCIM request as a provisioning client would and decodes the
// answer into out (when not nil).
func (s *scimServer) do(t *testing.T, method, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d: %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// createUser creates a user and returns its id.
func (s *scimServer) createUser(t *testing.T, user map[string]any) string {
	t.Helper()
	user["schemas"] = []string{"urn:ietf:params:scim:schemas:core:2.0:User"}
	var created struct{ ID string }
	s.do(t, http.MethodPost, "/Users", user, &created)
	return created.ID
}

// createGroup creates a group of the users and returns its id.
func (s *scimServer) createGroup(t *testing.T, name string, userIDs []string) string {
	t.Helper()
	members := []map[string]string{}
	for _, id := range userIDs {
		members = append(members, map[string]string{"value": id, "type": "User"})
	}
	var created struct{ ID string }
	s.do(t, http.MethodPost, "/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name, "members": members,
	}, &created)
	return created.ID
}

// patch applies RFC 7644 §3.5.2 operations to a resource.
func (s *scimServer) patch(t *testing.T, path string, ops ...map[string]any) {
	t.Helper()
	s.do(t, http.MethodPatch, path, map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops,
	}, nil)
}
