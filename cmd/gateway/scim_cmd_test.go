package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/invitegate/gateway/cmd/gateway/app"
)

// The scim commands make, list and revoke provisioning tokens as the API
// does: the secret printed once, never listed, and refused once revoked.
func TestSCIMTokenCommands(t *testing.T) {
	cfgPath, cfg := bootstrapped(t)
	ctx := context.Background()
	build := func() *app.Gateway {
		t.Helper()
		g, err := app.Build(ctx, cfg, app.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	run := func(args ...string) (string, error) {
		return runCommand(cfgPath, newSCIMCommand, nil, args...)
	}

	if _, err := run("tokens", "create"); err == nil || !strings.Contains(err.Error(), "name") {
		t.Fatalf("a token without a name: %v", err)
	}
	out, err := run("tokens", "create", "--name", "Entra ID", "--link-by-email")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := regexp.MustCompile(`token:\s+(igs_\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "SCIM base URL: https://gw.test/scim/v2") {
		t.Fatalf("create printed:\n%s", out)
	}
	secret := m[1]
	g := build()
	caller, err := g.Provision.Authenticate(ctx, secret)
	g.Close()
	if err != nil || !caller.LinkByEmail {
		t.Fatalf("the printed token: %+v %v", caller, err)
	}
	out, err = run("tokens", "list")
	if err != nil || !strings.Contains(out, "Entra ID") || !strings.Contains(out, secret[:10]) || strings.Contains(out, secret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`(?m)^([0-9a-f-]{36})\s+Entra ID`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no token id in:\n%s", out)
	}
	if out, err := run("tokens", "revoke", id[1]); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	g = build()
	defer g.Close()
	if _, err := g.Provision.Authenticate(ctx, secret); err == nil {
		t.Fatal("a revoked token still authenticates")
	}
	if _, err := run("tokens", "revoke", "0190d3a4-7b1c-7c3e-9f00-000000000001"); err == nil || !strings.Contains(err.Error(), "no provisioning token") {
		t.Fatalf("revoking an unknown token: %v", err)
	}
}
