//go:build bench

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// TestBench_redeem_replicas: single-use links redeemed (POST /i/{token},
// answered 303) by 32 clients through the test's round-robin proxy, with
// three `gateway serve` replicas on one PostgreSQL behind it, beside one
// replica behind the same proxy in the same run (the baseline). On a
// 2-core machine shared by the load generator, PostgreSQL and the
// replicas, the ratio shows what contention costs, not what scaling out
// gains. BENCH_DURATION is each side's measured time (default 8s).
func TestBench_redeem_replicas(t *testing.T) {
	dur := 8 * time.Second
	if s := os.Getenv("BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("BENCH_DURATION=%q: want a positive duration such as 8s", s)
		}
		dur = d
	}
	c := newCluster(t, storetest.DSN(t, store.Postgres))
	os.WriteFile(c.configPath(), []byte("log: {level: error}\ntrusted_proxies: [\"127.0.0.1\"]\n"), 0o644)
	reps := c.start(3)
	key := ""
	for _, r := range reps {
		if k := r.printed["API key"]; k != "" {
			key = lastField(k)
		}
	}
	a := &api{t: t, c: c, key: key}
	room := a.call("POST", "/api/v1/resources", map[string]any{"type": "room", "title": "Benchmark room"}, http.StatusCreated)["id"].(string)
	// Enough links for 1,500 redemptions/s on each side; a side that runs
	// out ends early and says so.
	n := int(1500 * (dur + time.Second).Seconds())
	t0 := time.Now()
	three, one := makeLinks(t, a, room, "three", n), makeLinks(t, a, room, "one", n)
	fmt.Printf("redeem_replicas: made %d + %d single-use invitations through the API in %v\n", n, n, time.Since(t0).Round(time.Millisecond))

	measure := func(links []benchLink) (perSec float64, answered int64) {
		var next, ok, other atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(dur)
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		for range 32 {
			wg.Go(func() {
				cl := &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				for time.Now().Before(deadline) {
					i := int(next.Add(1) - 1)
					if i >= len(links) {
						return
					}
					resp, err := cl.Post(c.proxy+links[i].path, formType, strings.NewReader(links[i].form))
					if err != nil {
						other.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusSeeOther {
						ok.Add(1)
					} else {
						other.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if next.Load() >= int64(len(links)) {
			fmt.Printf("redeem_replicas: all %d links were used before the measured time was over\n", len(links))
		}
		if other.Load() > 0 {
			t.Errorf("redeem_replicas: %d requests not answered 303", other.Load())
		}
		return float64(ok.Load()) / time.Since(start).Seconds(), ok.Load()
	}
	got, okThree := measure(three)
	for _, r := range reps[1:] {
		r.down.Store(true) // the proxy sends everything to replica 0
	}
	base, okOne := measure(one)
	ratio := got / base
	fmt.Printf("redeem_replicas: three replicas %d redemptions in %v, one replica %d\n", okThree, dur, okOne)
	if n := c.count("SELECT COUNT(*) FROM invitations WHERE uses > max_uses"); n != 0 {
		t.Errorf("redeem_replicas: %d links used beyond their limit", n)
	}
	if used := c.count("SELECT COALESCE(SUM(uses), 0) FROM invitations WHERE resource_id = ?", room); used != okThree+okOne {
		t.Errorf("redeem_replicas: %d uses consumed by %d answers 303", used, okThree+okOne)
	}
	fmt.Printf("bench redeem_replicas: %.0f redemptions/s (baseline %.0f redemptions/s, ratio %.2f)\n", got, base, ratio)
}

// benchLink is one invitation as a client uses it.
type benchLink struct{ path, form string }

// makeLinks creates n single-use invitations through the API, 16 at a time.
func makeLinks(t *testing.T, a *api, room, tag string, n int) []benchLink {
	out := make([]benchLink, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				email := fmt.Sprintf("%s%06d@bench.test", tag, i)
				h := do(t, http.DefaultClient, "POST", a.c.proxy, "/api/v1/resources/"+room+"/invitations", "", a.key,
					strings.NewReader(fmt.Sprintf(`{"email": %q, "first_name": "B", "last_name": "N", "role": "viewer"}`, email)), "application/json")
				var link string
				if _, rest, ok := strings.Cut(h.body, `"link":"`); ok && h.status == http.StatusCreated {
					link, _, _ = strings.Cut(rest, `"`)
				}
				u, err := url.Parse(link)
				if link == "" || err != nil {
					failed.Store(fmt.Sprintf("%d %s", h.status, h.body))
					return
				}
				out[i] = benchLink{path: u.Path, form: url.Values{"email": {email}}.Encode()}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatalf("make invitation: %v", f)
	}
	return out
}
