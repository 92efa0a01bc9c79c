package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/sso/ssotest"
)

// The sso commands manage the account's connections as the API does:
// create from flags and a config read from a file or standard input (every
// mistake listed), list with the last logins, update keeping the secret,
// rotate, delete; secrets are never printed.
func TestSSOConnectionCommands(t *testing.T) {
	cfgPath, _ := bootstrapped(t)
	dir := filepath.Dir(cfgPath)
	types := ssotest.Types(&ssotest.Behaviour{}, "saml", "oidc")
	newCmd := func(path *string) *cobra.Command { return newSSOCommand(path, types) }
	run := func(stdin string, args ...string) (string, error) {
		return runCommand(cfgPath, newCmd, strings.NewReader(stdin), args...)
	}

	_, err := run(`{"secret":"x"}`, "connections", "create", "--type", "saml", "--domain", "bad domain", "--config-json", "-")
	for _, want := range []string{"name: name is required", "domains[0]", "config.issuer: issuer is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a bad create: %v, want it to say %q", err, want)
		}
	}
	cfgFile := filepath.Join(dir, "saml.json")
	os.WriteFile(cfgFile, []byte(`{"issuer":"https://idp.test","secret":"s3cret"}`), 0o644)
	out, err := run("", "connections", "create", "--type", "saml", "--name", "Uni", "--domain", "uni.edu,staff.uni.edu", "--preset", "entra", "--jit", "--config-json", cfgFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, "s3cret") || !strings.Contains(out, `"acs": "https://gw.test/sso/saml/`) || !strings.Contains(out, `"jit": true`) {
		t.Fatalf("create printed:\n%s", out)
	}
	id := out[strings.Index(out, `"id": "`)+7:]
	id = id[:36]

	out, err = run("", "connections", "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "staff.uni.edu,uni.edu") || !strings.Contains(out, "never") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run(`{"issuer":"https://idp2.test"}`, "connections", "update", id, "--name", "Uni 2", "--config-json", "-")
	if err != nil || !strings.Contains(out, `"name": "Uni 2"`) || !strings.Contains(out, `"secret_set": true`) || !strings.Contains(out, "idp2.test") {
		t.Fatalf("update: %v\n%s", err, out)
	}
	out, err = run("", "connections", "rotate-key", id)
	if err != nil || !strings.Contains(out, "added a new key") {
		t.Fatalf("rotate-key: %v\n%s", err, out)
	}
	if out, err = run("", "connections", "delete", id); err != nil || !strings.Contains(out, "deleted "+id) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err = run("", "connections", "delete", id); err == nil || !strings.Contains(err.Error(), "no such SSO connection") {
		t.Fatalf("delete again: %v", err)
	}
	if _, err = run("", "connections", "list", "--admin", "nobody@org.test"); err == nil || !strings.Contains(err.Error(), "no account admin") {
		t.Fatalf("an unknown admin: %v", err)
	}
}
