//go:build bench

package host_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/static"
)

var benchRooms = map[string]any{
	"join_url": "https://video.example.org/join/{resource}?role={role}&u={user}",
	"rooms":    []any{map[string]any{"id": "bio-101", "type": "room", "title": "Biology 101"}},
}

// TestBench_plugin_unary: the round trip of one room adapter call through the
// host to the real plugin process (gRPC over a Unix socket with mutual TLS),
// beside the same call on the same adapter in-process.
func TestBench_plugin_unary(t *testing.T) {
	const warmup, n = 1000, 20000
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	h, err := host.New([]host.Config{{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum, Config: benchRooms}}, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer h.Stop(ctx)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	remote, _ := h.RoomAdapter("rooms")

	local := static.New(nil)
	raw := []byte(`{"join_url": "https://video.example.org/join/{resource}?role={role}&u={user}", "rooms": [{"id": "bio-101", "type": "room", "title": "Biology 101"}]}`)
	if err := local.Configure(ctx, 1, raw); err != nil {
		t.Fatal(err)
	}

	measure := func(ra roomadapter.RoomAdapter) []time.Duration {
		user := roomadapter.Person{ID: "u1", Email: "ann@example.org"}
		for range warmup {
			if _, err := ra.JoinURL(ctx, "bio-101", user, "viewer"); err != nil {
				t.Fatal(err)
			}
		}
		d := make([]time.Duration, n)
		for i := range n {
			start := time.Now()
			u, err := ra.JoinURL(ctx, "bio-101", user, "viewer")
			d[i] = time.Since(start)
			if err != nil || u == "" {
				t.Fatal(err)
			}
		}
		slices.Sort(d)
		return d
	}
	rd := measure(remote)
	ld := measure(local)
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[int(float64(len(d)-1)*p)].Nanoseconds()) / 1000
	}
	t.Logf("plugin process: p50 %.1fµs p90 %.1fµs p99 %.1fµs max %.1fµs over %d calls", pct(rd, .5), pct(rd, .9), pct(rd, .99), pct(rd, 1), n)
	t.Logf("in-process:     p50 %.2fµs p99 %.2fµs", pct(ld, .5), pct(ld, .99))
	fmt.Printf("plugin_unary p99: %.1f µs (baseline %.2f µs)\n", pct(rd, .99), pct(ld, .99))
	if p50 := pct(rd, .5); p50 > 150 {
		t.Logf("p50 %.1fµs MISSES the 150µs target", p50)
	}
	fmt.Printf("bench plugin_unary: %.1f µs (baseline %.2f µs, ratio %.1f)\n", pct(rd, .5), pct(ld, .5), pct(rd, .5)/pct(ld, .5))
}
