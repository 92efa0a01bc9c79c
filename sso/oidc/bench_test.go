//go:build bench

// Benchmark of the OIDC callback, run by `make bench` (or
// `go test -tags bench -count=1 -run '^TestBench_' -v ./sso/oidc/`):
//
//   - sso_oidc_callback: completed Finish calls per second (code exchanged
//     at the provider's token endpoint over loopback HTTP, id token
//     verified with the provider's cached keys, claims turned into an
//     assertion) from benchWorkers goroutines; in the same run, go-oidc's
//     verifier alone on the same id token gives the baseline, and the
//     ratio says what the exchange and the connector's own checks cost.
//
// The provider is a small Go server in the same process (discovery, JWKS,
// a token endpoint answering every code with one id token signed ahead of
// time), so the figure is the gateway's side, not a provider's signing.
// It prints one summary line
// "bench sso_oidc_callback: VALUE callbacks/s (baseline VALUE callbacks/s, ratio R)".
//
// Environment:
//
//	BENCH_DURATION  measured time of each side (default 8s), taken in
//	                turns with the other side (4 rounds), after 1s of warm-up
package oidc_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/oidc"
)

const (
	benchWorkers = 8
	benchWarmup  = time.Second
	benchRounds  = 4
	// Target on the reference 2-core machine.
	targetCallbackRatio = 0.3
)

func benchDuration(t *testing.T) time.Duration {
	if s := os.Getenv("BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("BENCH_DURATION=%q: want a positive duration such as 8s", s)
		}
		return d
	}
	return 8 * time.Second
}

// tally is what one side did in its measured turns.
type tally struct {
	elapsed  time.Duration
	ok, errs int64
	firstErr error
	cpu      time.Duration // of the whole process (both sides of the HTTP exchange)
	machine  time.Duration // of the whole machine
}

func (l *tally) perSec() float64 {
	if l.elapsed <= 0 {
		return 0
	}
	return float64(l.ok) / l.elapsed.Seconds()
}

func (l *tally) String() string {
	s := fmt.Sprintf("%d ok in %v, %d failed", l.ok, l.elapsed.Round(time.Millisecond), l.errs)
	if l.firstErr != nil {
		s += fmt.Sprintf(" (first: %v)", l.firstErr)
	}
	if n := l.ok + l.errs; n > 0 && l.elapsed > 0 {
		s += fmt.Sprintf("; process CPU %.1f µs/call, %.2f cores busy", float64(l.cpu.Microseconds())/float64(n), l.cpu.Seconds()/l.elapsed.Seconds())
		if l.machine > 0 {
			s += fmt.Sprintf(" (machine %.2f of %d)", l.machine.Seconds()/l.elapsed.Seconds(), runtime.NumCPU())
		}
	}
	return s
}

// loop runs op from benchWorkers goroutines for dur.
func loop(dur time.Duration, op func() error) *tally {
	var (
		ok, errs atomic.Int64
		once     sync.Once
		first    error
		wg       sync.WaitGroup
	)
	cpu0, mach0 := processCPU(), machineCPU()
	start := time.Now()
	deadline := start.Add(dur)
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					errs.Add(1)
					once.Do(func() { first = err })
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	l := &tally{elapsed: time.Since(start), ok: ok.Load(), errs: errs.Load(), firstErr: first, cpu: processCPU() - cpu0}
	if mach0 > 0 {
		l.machine = machineCPU() - mach0
	}
	return l
}

func (l *tally) add(o *tally) {
	l.elapsed += o.elapsed
	l.ok += o.ok
	l.errs += o.errs
	l.cpu += o.cpu
	l.machine += o.machine
	if l.firstErr == nil {
		l.firstErr = o.firstErr
	}
}

// processCPU is the CPU time (user + system) this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the busy CPU time of every core so far (/proc/stat), or 0:
// a machine far busier than the process means a neighbour skewed the figure.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
}

func TestBench_sso_oidc_callback(t *testing.T) {
	dur := benchDuration(t)
	p := newMintedProvider(t)
	const nonce = "bench-nonce"
	now := time.Now()
	idToken := p.signRS256(t, map[string]any{
		"iss": p.URL, "aud": testClientID, "sub": "person-1", "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"email": "p1@example.org", "email_verified": true, "given_name": "Pat", "family_name": "One",
		"groups": []string{"staff", "engineers"}, "at_hash": atHash("access-token-1"),
	})
	p.mu.Lock()
	p.fallback = tokenResponse(idToken, "access-token-1")
	p.mu.Unlock()

	// The gateway's client keeps a connection per worker alive, as a
	// provider's token endpoint is called by many logins at once.
	env := testEnv()
	env.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        benchWorkers,
		MaxIdleConnsPerHost: benchWorkers,
		IdleConnTimeout:     time.Minute,
	}}
	cfg := &oidc.Config{Issuer: p.URL, ClientID: testClientID, ClientSecret: testClientSecret}
	c := openConnector(t, cfg, env)
	var seq atomic.Int64
	callback := func() error {
		n := strconv.FormatInt(seq.Add(1), 10)
		req := &connector.Request{Key: "state-" + n, ConnectionID: testConnectionID, Nonce: nonce,
			CodeVerifier: "verifier-" + n, ExpiresAt: time.Now().Add(10 * time.Minute)}
		a, err := c.Finish(context.Background(), req, mintedCallback("code-"+n, req.Key))
		if err == nil && (a.Subject != "person-1" || len(a.Attributes["groups"]) != 2) {
			err = fmt.Errorf("unexpected assertion %+v", a)
		}
		return err
	}

	ctx := gooidc.ClientContext(context.Background(), env.HTTPClient)
	bare := gooidc.NewVerifier(p.URL, gooidc.NewRemoteKeySet(ctx, p.URL+"/jwks"),
		&gooidc.Config{ClientID: testClientID, SupportedSigningAlgs: []string{"RS256"}})
	verify := func() error {
		_, err := bare.Verify(context.Background(), idToken)
		return err
	}

	sides := []struct {
		name  string
		op    func() error
		total *tally
	}{{"callback", callback, &tally{}}, {"baseline", verify, &tally{}}}
	for _, sd := range sides {
		loop(benchWarmup, sd.op) // keys fetched, connections opened
	}
	for r := range benchRounds {
		for i := range sides {
			sd := &sides[i]
			if r%2 == 1 {
				sd = &sides[len(sides)-1-i]
			}
			sd.total.add(loop(dur/benchRounds, sd.op))
		}
	}
	gw, base := sides[0].total, sides[1].total
	fmt.Printf("sso_oidc_callback callback: %s\n", gw)
	fmt.Printf("sso_oidc_callback baseline (go-oidc's verifier alone): %s\n", base)
	ratio := 0.0
	if base.perSec() > 0 {
		ratio = gw.perSec() / base.perSec()
	}
	verdict := "met"
	if ratio < targetCallbackRatio {
		verdict = "MISSED"
	}
	fmt.Printf("sso_oidc_callback target: ratio >= %.2f %s\n", targetCallbackRatio, verdict)
	fmt.Printf("bench sso_oidc_callback: %.0f callbacks/s (baseline %.0f callbacks/s, ratio %.2f)\n", gw.perSec(), base.perSec(), ratio)
	for _, sd := range sides {
		if sd.total.errs > 0 || sd.total.ok == 0 {
			t.Errorf("sso_oidc_callback %s: not every call succeeded: %s", sd.name, sd.total)
		}
	}
}
