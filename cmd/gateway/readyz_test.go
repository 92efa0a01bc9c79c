package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// tcpCut is a TCP proxy in front of PostgreSQL that the test cuts (every
// connection dropped, new ones refused) and restores, so a gateway loses
// its database without the shared cluster being stopped.
type tcpCut struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newTCPCut(t *testing.T, target string) *tcpCut {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpCut{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

// setCut drops every connection and refuses new ones (true), or lets them
// through again (false).
func (p *tcpCut) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// readyz is a replica's /readyz answer: its status and reason.
func readyz(base string) (int, string) {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	var v struct{ Reason string }
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v.Reason
}

// waitReadyz waits until /readyz answers status, and returns the reason.
func waitReadyz(t *testing.T, base string, status int, within time.Duration) string {
	t.Helper()
	var got int
	var reason string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, reason = readyz(base); got == status {
			return reason
		}
	}
	t.Fatalf("/readyz answered %d %q, not %d within %s", got, reason, status, within)
	return ""
}

// TestReadyzAndGracefulStop: behind a load balancer, /readyz says 503
// with the reason while the database is migrated (here: while another
// replica holds the migration lock) and while the database cannot be
// reached, and 200 again once it can, without a restart; SIGTERM lets a
// request in flight finish.
func TestReadyzAndGracefulStop(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pg := newTCPCut(t, u.Host)
	u.Host = pg.ln.Addr().String()
	c := newCluster(t, u.String())
	os.WriteFile(c.configPath(), []byte("log: {level: error}\ntrusted_proxies: [\"127.0.0.1\"]\nshutdown_timeout: 15s\n"), 0o644)

	// Another replica migrating: the test holds the migration lock.
	db, err := store.Open(context.Background(), store.Config{DSN: dsn, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release, err := db.Lock(context.Background(), "migrate")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{n: 0, addr: freeAddr(t), printed: map[string]string{}, exited: make(chan struct{})}
	r.base = "http://" + r.addr
	c.reps = append(c.reps, r)
	ready := make(chan error, 1)
	go func() { ready <- c.launch(r, c.configPath()) }()
	reason := waitReadyz(t, r.base, http.StatusServiceUnavailable, 30*time.Second)
	if !strings.Contains(reason, "migrating") {
		t.Fatalf("/readyz while migrations wait: reason %q", reason)
	}
	h := do(t, http.DefaultClient, "GET", r.base, "/api/v1/me", "", "", nil, "")
	if h.status != http.StatusServiceUnavailable || h.code() != "starting" || h.header.Get("Retry-After") == "" {
		t.Fatalf("the API while migrating: %d %s", h.status, h.body)
	}
	time.Sleep(500 * time.Millisecond)
	if code, _ := readyz(r.base); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d while the migration lock is held", code)
	}
	release()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	pid := r.cmd.Process.Pid
	key := lastField(r.printed["API key"])

	// The database unreachable, then back.
	pg.setCut(true)
	reason = waitReadyz(t, r.base, http.StatusServiceUnavailable, 10*time.Second)
	if !strings.Contains(reason, "database") {
		t.Fatalf("/readyz with the database cut: reason %q", reason)
	}
	pg.setCut(false)
	waitReadyz(t, r.base, http.StatusOK, 15*time.Second)
	if r.cmd.Process.Pid != pid || do(t, http.DefaultClient, "GET", r.base, "/api/v1/me", "", key, nil, "").status != http.StatusOK {
		t.Fatal("the gateway did not serve again after the database came back")
	}

	// SIGTERM while an upload is being sent: it is answered in full.
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Minute)
	ev := do(t, http.DefaultClient, "POST", r.base, "/api/v1/events", "", key, strings.NewReader(fmt.Sprintf(
		`{"name": "Drain", "slug": "drain", "starts_at": %q, "ends_at": %q, "time_zone": "UTC"}`,
		start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))), "application/json")
	var evv struct{ ID string }
	if json.Unmarshal([]byte(ev.body), &evv); ev.status != http.StatusCreated {
		t.Fatalf("event: %d %s", ev.status, ev.body)
	}
	pr, pw := io.Pipe()
	answered := make(chan hit, 1)
	go func() {
		answered <- do(t, http.DefaultClient, "POST", r.base, "/api/v1/events/"+evv.ID+"/bulk-invites", "", key, pr, "text/csv")
	}()
	fmt.Fprint(pw, "Email,First Name,Last Name,Title,Company,Speaker,Moderator\r\n")
	for i := range 500 {
		fmt.Fprintf(pw, "drain%04d@example.org,F,L,,,No,No\r\n", i)
	}
	time.Sleep(300 * time.Millisecond)
	r.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(time.Second)
	for i := 500; i < 1000; i++ {
		fmt.Fprintf(pw, "drain%04d@example.org,F,L,,,No,No\r\n", i)
	}
	pw.Close()
	got := <-answered
	if got.status != http.StatusCreated || !strings.Contains(got.body, `"total":1000`) {
		t.Fatalf("the upload in flight at SIGTERM: %d %s", got.status, tail(got.body, 400))
	}
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit 20 s after SIGTERM")
	}
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}
