package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/mail/mailtest"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// runServe starts `gateway serve --config cfg` and returns the process; its
// output goes to a log file shown if the test fails.
func runServe(t *testing.T, cfgPath string) *exec.Cmd {
	t.Helper()
	logPath := cfgPath + fmt.Sprintf(".%d.log", time.Now().UnixNano())
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Dir = filepath.Dir(cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("gateway log %s:\n%s", logPath, tail(string(b), 3000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestMailCrashRecovery queues 1,000 messages, kills the gateway with
// SIGKILL while it sends them, and restarts it: every message arrives, and
// the duplicates are at most the messages in flight at the kill (claimed
// and not yet recorded as sent), which is at most one per worker.
func TestMailCrashRecovery(t *testing.T) {
	md := mailtest.Start(t)
	dir := t.TempDir()
	dsn := filepath.Join(dir, "gateway.db")
	const total, workers = 1000, 2

	db, err := store.Open(context.Background(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(schema.Models()...); err != nil {
		t.Fatal(err)
	}
	err = db.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range total {
			if _, err := mail.Enqueue(tx, "crash.test", mail.NewMessage{
				AccountID: "acct", Template: "test", Locale: "en", ToEmail: fmt.Sprintf("p%d@crash.test", i),
				Rendered: mail.Rendered{Subject: fmt.Sprintf("Message %d", i), Text: "hello", HTML: "<p>hello</p>"}, RefKind: "test",
			}, time.Now().UTC()); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	cfgPath := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`listen: %s
database: {dsn: %s}
log: {level: warn}
mail:
  from: "Invitegate <noreply@crash.test>"
  smtp: {host: 127.0.0.1, port: %d, tls: none}
  workers: %d
  lease: 3s
  poll: 100ms
`, freeAddr(t), dsn, md.SMTPPort, workers)), 0o644)

	first := runServe(t, cfgPath)
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := md.Count(ctx)
		if err == nil && n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages arrived before the kill", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(first.Process.Pid, syscall.SIGKILL)
	first.Wait()
	atKill, _ := md.Count(ctx)

	// What the database says was in flight: claimed, not recorded as sent.
	db, err = store.Open(ctx, store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	var inFlight, sentAtKill int64
	db.R.Model(&mail.Message{}).Where("status = ?", mail.Sending).Count(&inFlight)
	db.R.Model(&mail.Message{}).Where("status = ?", mail.Sent).Count(&sentAtKill)
	db.Close()
	if inFlight == 0 || sentAtKill >= total {
		t.Fatalf("the kill came too late to test anything: %d in flight, %d sent", inFlight, sentAtKill)
	}

	second := runServe(t, cfgPath)
	deadline = time.Now().Add(90 * time.Second)
	var all []mailtest.Received
	for {
		n, _ := md.Count(ctx)
		if n >= total {
			// Let the lease run out and any stragglers arrive.
			db, err = store.Open(ctx, store.Config{DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			var open int64
			db.R.Model(&mail.Message{}).Where("status IN ?", []string{mail.Queued, mail.Sending}).Count(&open)
			db.Close()
			if open == 0 {
				all = md.Messages()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages arrived after the restart", n, total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	second.Process.Signal(syscall.SIGTERM)
	second.Wait()

	db, err = store.Open(ctx, store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var msgs []mail.Message
	db.R.Find(&msgs)
	byID := map[string]int{}
	for _, r := range all {
		byID["<"+r.MessageID+">"]++
	}
	dups := 0
	for _, n := range byID {
		dups += n - 1
	}
	for _, m := range msgs {
		if m.Status != mail.Sent {
			t.Errorf("message %s is %s: %s", m.ID, m.Status, m.LastError)
		}
		if byID[m.MessageID] == 0 {
			t.Errorf("message %s (%s) never arrived", m.ID, m.MessageID)
		}
	}
	t.Logf("crash: %d delivered before the kill (%d recorded sent), %d in flight at the kill; after restart %d received for %d messages: %d duplicates",
		atKill, sentAtKill, inFlight, len(all), total, dups)
	if len(byID) != total {
		t.Fatalf("%d distinct messages arrived, want %d", len(byID), total)
	}
	if int64(dups) > inFlight || dups > workers {
		t.Fatalf("%d duplicates; the bound is the %d in flight at the kill, at most one per worker (%d)", dups, inFlight, workers)
	}
}

// TestTemplatesFromHTTPProvider runs the HTTP template provider plugin under
// the real host and scheduler: its templates are stored in the database and
// used for sending; a broken new version is refused with its error while the
// last good one stays in service, across a restart.
func TestTemplatesFromHTTPProvider(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-template-http")
	var body atomic.Value
	body.Store(`{"templates":[{"name":"invitation","locale":"en","subject":"Join {{.Resource.Title}}, {{.Invitee.FirstName}}","html":"<p>{{.Link}}</p>","text":"{{.Link}}"}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body.Load().(string))) }))
	defer srv.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("database: {dsn: %s}\nplugins:\n  - name: brand\n    kind: templateprovider\n    path: %s\n    sha256: %s\n    schedule: \"@hourly\"\n    config: {url: %q}\n",
		filepath.Join(dir, "gateway.db"), bin, sum, srv.URL+"/templates.json")), 0o644)
	cfg, err := app.Load(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g, err := app.Build(ctx, cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rt := g.Plugins

	if r, err := rt.Scheduler.RunNow(ctx, "brand"); err != nil {
		t.Fatalf("refresh: %+v, %v", r, err)
	}
	p, err := g.Mail.Preview(ctx, mail.Invitation, "en")
	if err != nil || p.Source != "brand" || p.Subject != "Join Quarterly town hall, Gia" {
		t.Fatalf("preview after refresh: %+v, %v", p, err)
	}
	good := p.Version

	body.Store(`{"templates":[{"name":"invitation","locale":"en","subject":"Join {{.Resource.Nope}}","text":"x"}]}`)
	r, err := rt.Scheduler.RunNow(ctx, "brand")
	if err == nil || r.Status != scheduled.StatusFailed || !strings.Contains(r.Error, "invitation/en") || !strings.Contains(r.Error, "Nope") {
		t.Fatalf("broken refresh: %+v, %v", r, err)
	}
	if p, _ := g.Mail.Preview(ctx, mail.Invitation, "en"); p.Version != good {
		t.Fatalf("last good version not in service: %+v", p)
	}
	// A restart reads the last good version from the database.
	g.Close()
	again, err := app.Build(ctx, cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if f, _, err := again.Mail.Catalog.Lookup(ctx, mail.Invitation, "en"); err != nil || f.Version != good || f.Source != "brand" {
		t.Fatalf("after restart: %+v, %v", f, err)
	}
}
