package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/cmd/gateway/app"
)

// gateway serve applies the configured limit.
func TestServeLimitsUnknownLinks(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	p := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf("listen: %s\ndatabase: {dsn: %s}\nlimits: {unknown_links: {max: 2, window: 5m}}\n", addr, filepath.Join(dir, "gateway.db"))), 0o600)
	cfg, err := app.Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveGateway(ctx, cfg, serveOptions{out: io.Discard}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	base := "http://" + addr
	ready := false
	for deadline := time.Now().Add(30 * time.Second); !ready && time.Now().Before(deadline); {
		if r, err := http.Get(base + "/readyz"); err == nil {
			r.Body.Close()
			ready = r.StatusCode == http.StatusOK
		}
		if !ready {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !ready {
		t.Fatal("gateway not ready")
	}
	for i, want := range []int{http.StatusNotFound, http.StatusNotFound, http.StatusTooManyRequests} {
		r, err := http.Get(base + "/i/" + strings.Repeat("A", 43))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != want {
			t.Fatalf("unknown link %d with a limit of 2: %d, want %d", i+1, r.StatusCode, want)
		}
		// The window began at the first unknown link, moments ago.
		if secs, _ := strconv.Atoi(r.Header.Get("Retry-After")); want == http.StatusTooManyRequests && (secs < 290 || secs > 300) {
			t.Fatalf("Retry-After %q, want about 300 (the 5-minute window)", r.Header.Get("Retry-After"))
		}
	}
}
