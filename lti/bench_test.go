//go:build bench

// The launch benchmark, run by `make bench BENCH=lti_launch` (or
// `go test -tags bench -count=1 -run '^TestBench_lti_launch' -v ./lti/`):
// id_tokens of a test platform validated by the tool (every check of
// launch.go: the state consumed on SQLite, the platform's key set cached)
// by 4 concurrent launchers, beside a bare go-jose RS256 verification of
// the same tokens, in turns, in the same run. It prints one summary line
// "bench lti_launch: VALUE launches/s (baseline VALUE launches/s, ratio R)".
//
// BENCH_DURATION is the measured time of the tool's side (default 3s).
package lti_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/lti/ltitest"
)

const (
	benchWorkers     = 4
	benchBatch       = 1000
	targetLaunchRate = 0.5
)

type benchLaunch struct{ state, token string }

func TestBench_lti_launch(t *testing.T) {
	dur := 3 * time.Second
	if s := os.Getenv("BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("BENCH_DURATION=%q", s)
		}
		dur = d
	}
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	f.clock = nil // the platform signs and the tool checks on the real clock
	ctx := context.Background()
	pub := f.plat.PublicKey()

	var toolTime, bareTime time.Duration
	var launches, verified int64
	for rounds := 0; toolTime < dur; rounds++ {
		batch := f.prepare(t, benchBatch)
		d, n := timed(batch, func(b benchLaunch) error {
			_, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: b.token, State: b.state})
			return err
		})
		toolTime, launches = toolTime+d, launches+n
		d, n = timed(batch, func(b benchLaunch) error {
			jws, err := jose.ParseSigned(b.token, []jose.SignatureAlgorithm{jose.RS256})
			if err == nil {
				_, err = jws.Verify(pub)
			}
			return err
		})
		bareTime, verified = bareTime+d, verified+n
		if rounds == 0 && f.plat.JWKSFetches() != 1 {
			t.Fatalf("the key set was fetched %d times in the first round, want once (cached)", f.plat.JWKSFetches())
		}
	}
	tool := float64(launches) / toolTime.Seconds()
	bare := float64(verified) / bareTime.Seconds()
	ratio := tool / bare
	fmt.Printf("lti_launch: %d launches validated in %v by %d workers; %d bare verifications in %v; key set fetches %d\n",
		launches, toolTime.Round(time.Millisecond), benchWorkers, verified, bareTime.Round(time.Millisecond), f.plat.JWKSFetches())
	met := "met"
	if ratio < targetLaunchRate {
		met = "MISSED"
	}
	fmt.Printf("lti_launch targets: ratio >= %.2f %s\n", targetLaunchRate, met)
	fmt.Printf("bench lti_launch: %.0f launches/s (baseline %.0f launches/s, ratio %.2f)\n", tool, bare, ratio)
}

// prepare makes n logins and the platform's tokens for them, signed on
// every core (outside the measured time).
func (f *fixture) prepare(t *testing.T, n int) []benchLaunch {
	t.Helper()
	out := make([]benchLaunch, n)
	for i := range out {
		out[i].state, out[i].token = f.login(t)
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c := f.plat.Claims(ltitest.User{Sub: fmt.Sprint("s", i), Email: "a@uni.test", Roles: []string{ltitest.RoleLearner}}, ltitest.Link{ID: "rl", ContextID: "ctx"}, out[i].token)
				out[i].token = f.plat.Sign(c, ltitest.SignOptions{})
			}
		}()
	}
	wg.Wait()
	return out
}

// timed runs fn on every item with benchWorkers goroutines and returns
// the time it took and how many succeeded (all must).
func timed(items []benchLaunch, fn func(benchLaunch) error) (time.Duration, int64) {
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < benchWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(items)); i = next.Add(1) - 1 {
				if err := fn(items[i]); err != nil {
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if err := firstErr.Load(); err != nil {
		panic(fmt.Sprintf("a benchmark launch failed: %v", err))
	}
	return d, ok.Load()
}
