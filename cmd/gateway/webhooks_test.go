package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/webhook"
)

// The webhooks commands add an endpoint (its secret printed once), list,
// rotate and delete it, as the API does; a refused URL names the field.
func TestWebhooksCommands(t *testing.T) {
	cfgPath, _ := bootstrapped(t)
	run := func(args ...string) (string, error) {
		return runCommand(cfgPath, newWebhooksCommand, nil, args...)
	}
	if _, err := run("create", "--url", "http://127.0.0.1:9/in", "--type", "invitation.created"); err == nil || !strings.Contains(err.Error(), "url") {
		t.Errorf("a loopback http URL: %v, want a refusal naming url", err)
	}
	if _, err := run("create", "--url", "https://hooks.example.org/in", "--type", "invitation.nope"); err == nil || !strings.Contains(err.Error(), "types") {
		t.Errorf("an unknown type: %v, want a refusal naming types", err)
	}
	out, err := run("create", "--url", "https://hooks.example.org/in", "--type", "invitation.created,user.erased", "--description", "CRM")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var id, secret string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "created "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(l, "secret "); ok {
			secret = v
		}
	}
	if id == "" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("create printed %q", out)
	}
	out, err = run("list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "invitation.created,user.erased") || strings.Contains(out, secret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run("rotate-secret", id)
	if err != nil || !strings.Contains(out, "secret whsec_") || strings.Contains(out, secret) || !strings.Contains(out, "previous secret signs until") {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	if out, err = run("delete", id); err != nil || !strings.Contains(out, "deleted "+id) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if out, _ = run("list"); strings.Contains(out, id) {
		t.Errorf("still listed after delete:\n%s", out)
	}
}

// TestWebhookDeliveredAfterKill: `gateway serve` is killed with SIGKILL
// while it POSTs an event (the receiver holds the request) and while the
// next event of the same invitation, committed, waits behind it. The
// restarted gateway, once the dead one's claim has run out, delivers both,
// in order, signed.
func TestWebhookDeliveredAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 of the gateway: not in -short")
	}
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { testWebhookKilled(t, d) })
	}
}

func testWebhookKilled(t *testing.T, dialect string) {
	dsn := storetest.DSN(t, dialect)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte("webhooks:\n  allow_private_targets: true\n  lease: 3s\n  poll: 50ms\n"), 0o644)
	env := []string{"GATEWAY_DATABASE_DSN=" + dsn, "GATEWAY_ADMIN_EMAIL=owner@org.test"}

	var mu sync.Mutex
	var got [][]byte
	var headers []http.Header
	held := make(chan struct{}, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		first := len(got) == 0 && headers == nil
		if first {
			headers = []http.Header{} // the held request is not kept
		} else {
			got, headers = append(got, b), append(headers, r.Header.Clone())
		}
		mu.Unlock()
		if first {
			held <- struct{}{}
			<-r.Context().Done() // until the gateway dies
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	g := startGatewayIn(t, dir, env...)
	key := lastField(g.lines["API key"])
	call := func(g *started, method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, g.base+"/api/v1"+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, m)
		}
		return m
	}
	ep := call(g, "POST", "/webhooks", map[string]any{"url": recv.URL, "types": []string{"invitation.created", "invitation.revoked"}})
	secret := ep["secret"].(string)
	room := call(g, "POST", "/resources", map[string]any{"type": "room", "title": "Seminar"})["id"].(string)
	inv := call(g, "POST", "/resources/"+room+"/invitations", map[string]any{"email": "ada@example.org", "first_name": "Ada", "last_name": "L", "role": "viewer"})
	invID := inv["id"].(string)
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("the gateway did not POST the first event within 20s")
	}
	call(g, "DELETE", "/resources/"+room+"/invitations/"+invID, nil)
	g.cmd.Process.Kill() // SIGKILL, with one delivery in flight and one waiting
	g.cmd.Wait()

	db, err := store.Open(context.Background(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ds []webhook.Delivery
	if err := db.R.Order("seq").Find(&ds).Error; err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Status != webhook.Sending || ds[1].Status != webhook.Pending {
		t.Fatalf("after the kill: %+v, want one delivery in flight and one waiting", ds)
	}

	start := time.Now()
	startGatewayIn(t, dir, env...)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the receiver got %d events in 30s, want 2", n)
		}
	}
	t.Logf("delivered %s after the restart", time.Since(start).Round(100*time.Millisecond))
	wh, _ := standardwebhooks.NewWebhook(secret)
	var types []string
	mu.Lock()
	for i, b := range got {
		if err := wh.Verify(b, headers[i]); err != nil {
			t.Errorf("delivery %d does not verify: %v", i, err)
		}
		var ev struct{ Type string }
		json.Unmarshal(b, &ev)
		types = append(types, ev.Type)
	}
	mu.Unlock()
	if strings.Join(types, ",") != "invitation.created,invitation.revoked" {
		t.Errorf("delivered after the restart: %v, want created then revoked, once each", types)
	}
	if err := db.R.Order("seq").Find(&ds).Error; err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Status != webhook.Delivered || d.Attempts != 2 && d.Seq == ds[0].Seq {
			t.Errorf("delivery %d: %s after %d attempts", d.Seq, d.Status, d.Attempts)
		}
	}
}
