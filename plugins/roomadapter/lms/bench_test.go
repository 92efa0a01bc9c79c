//go:build bench

package lms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/sakai"
)

// TestBench_roster_search: the invite dialog's roster search of a
// 5,000-member course, through the host and the real Sakai plugin process
// (the members sent with each search, as core sends them), beside the
// same search on the same adapter in-process. p99 in ms; target < 50 ms.
func TestBench_roster_search(t *testing.T) {
	const members, warmup, n = 5000, 50, 1000
	first := []string{"Ada", "Ben", "Cara", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jo", "Kim", "Lea", "Max", "Nia", "Oli", "Pia", "Quinn", "Rex", "Sam", "Tia"}
	last := []string{"Abbott", "Baker", "Chen", "Diaz", "Evans", "Fox", "Garcia", "Hill", "Ito", "Jones", "Khan", "Lopez", "Moss", "Ng", "Ortiz", "Park", "Quist", "Reyes", "Smith", "Tran"}
	rng := rand.New(rand.NewPCG(1, 2))
	core := make([]resource.Person, members)
	for i := range core {
		f, l := first[rng.IntN(len(first))], last[rng.IntN(len(last))]
		core[i] = resource.Person{Email: fmt.Sprintf("%s.%s%d@uni.test", f, l, i), Name: f + " " + l}
	}
	queries := make([]string, 64)
	for i := range queries {
		p := core[rng.IntN(members)]
		src := p.Email
		if i%2 == 1 {
			src = p.Name
		}
		queries[i] = src[:1+rng.IntN(3)]
	}

	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-sakai")
	cfg := map[string]any{"join_url": "https://video.example.org/{context}"}
	h, err := host.New([]host.Config{{Name: "sakai", Kind: "roomadapter", Path: bin, SHA256: sum, Config: cfg}}, host.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(ctx)
	rooms := host.NewRooms(h)
	res, err := rooms.Resolve(ctx, "sakai", resource.Launch{Source: resource.SourceLTI, Issuer: "https://sakai.example.edu", ContextID: "site-1", UserEmail: "a@uni.test"})
	if err != nil {
		t.Fatal(err)
	}
	room := res.ExternalID

	local := sakai.New(nil)
	raw, _ := json.Marshal(cfg)
	if err := local.Configure(ctx, 2, raw); err != nil {
		t.Fatal(err)
	}
	// In-process, the members are converted as the host converts them.
	inProcess := func(q string) (int, error) {
		ms := make([]roomadapter.Person, len(core))
		for i, m := range core {
			ms[i] = roomadapter.Person{Email: m.Email, Name: m.Name}
		}
		out, err := local.SearchRoster(ctx, roomadapter.RosterQuery{ResourceID: room, Query: q, Limit: 20, Members: ms})
		return len(out), err
	}
	viaPlugin := func(q string) (int, error) {
		out, err := rooms.Roster(ctx, "sakai", room, q, 20, core)
		return len(out), err
	}
	measure := func(search func(string) (int, error)) []time.Duration {
		for i := range warmup {
			if _, err := search(queries[i%len(queries)]); err != nil {
				t.Fatal(err)
			}
		}
		d := make([]time.Duration, n)
		for i := range n {
			start := time.Now()
			got, err := search(queries[i%len(queries)])
			d[i] = time.Since(start)
			if err != nil || got == 0 || got > 20 {
				t.Fatalf("search %q: %d results, %v", queries[i%len(queries)], got, err)
			}
		}
		slices.Sort(d)
		return d
	}
	pd := measure(viaPlugin)
	ld := measure(inProcess)
	ms := func(d []time.Duration, p float64) float64 {
		return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
	}
	t.Logf("plugin process: p50 %.2fms p99 %.2fms max %.2fms over %d searches of %d members", ms(pd, .5), ms(pd, .99), ms(pd, 1), n, members)
	t.Logf("in-process:     p50 %.2fms p99 %.2fms", ms(ld, .5), ms(ld, .99))
	if p99 := ms(pd, .99); p99 >= 50 {
		t.Logf("p99 %.2fms MISSES the 50ms target", p99)
	}
	fmt.Printf("bench roster_search: %.2f ms (baseline %.2f ms, ratio %.1f)\n", ms(pd, .99), ms(ld, .99), ms(pd, .99)/ms(ld, .99))
}
