//go:build bench

// The sso_saml_acs benchmark, run by `make bench` (or
// `go test -tags bench -count=1 -run '^TestBench_sso_saml_acs' -v ./sso/saml/`):
// signed SAML responses consumed per second by the connector's Finish (form
// parsing, crewjam/saml's checks, the connection's own checks, the
// in-memory replay cache, the Assertion), beside crewjam/saml's bare
// ServiceProvider.ParseResponse of the same responses in the same run. The
// ratio says what the connector adds to the library.
//
// Environment:
//
//	BENCH_SAML_RESPONSES  responses made (default 2000), each with its own
//	                      assertion id and request id, and each consumed
//	                      once by each side, in 4 interleaved rounds
package saml

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

const targetACSRatio = 0.5

// benchResponse is one response and the request it answers.
type benchResponse struct {
	form      string // the urlencoded POST body
	requestID string
}

func benchResponses(t *testing.T) int {
	if s := os.Getenv("BENCH_SAML_RESPONSES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 4 {
			t.Fatalf("BENCH_SAML_RESPONSES=%q: want a number of at least 4", s)
		}
		return n
	}
	return 2000
}

// consume runs fn over rs[from:to] on one worker per core and returns the
// time taken and the failures.
func consume(rs []benchResponse, from, to int, fn func(*benchResponse) error) (time.Duration, int64, error) {
	var next atomic.Int64
	next.Store(int64(from))
	var failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if err := fn(&rs[i]); err != nil {
					if failed.Add(1) == 1 {
						first.Store(err)
					}
				}
			}
		})
	}
	wg.Wait()
	var err error
	if v := first.Load(); v != nil {
		err = v.(error)
	}
	return time.Since(start), failed.Load(), err
}

func acsRequest(form string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/sso/saml/"+testConnID+"/acs", strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestBench_sso_saml_acs(t *testing.T) {
	n := benchResponses(t)
	idp := samltest.Start(t)
	g := startGateway(t, idp, gwOptions{})
	// One instant for making and consuming: the measured time is not
	// bounded by the responses' 90-second life.
	t0 := time.Now()
	g.clock.Set(t0)
	conn := g.connector()

	made := time.Now()
	rs := make([]benchResponse, n)
	for i := range rs {
		id := fmt.Sprintf("id-bench-%d", i)
		f := samltest.Plain()
		f.At, f.InResponseTo = t0, id
		rs[i] = benchResponse{
			form:      url.Values{"SAMLResponse": {g.forge(t, idp, f)}, "RelayState": {"k"}}.Encode(),
			requestID: id,
		}
	}
	fmt.Printf("sso_saml_acs: made %d signed responses (response and assertion signed, RSA 2048) in %v\n", n, time.Since(made).Round(time.Millisecond))

	ctx := context.Background()
	finish := func(b *benchResponse) error {
		a, err := conn.Finish(ctx, &connector.Request{Key: "k", AuthnRequestID: b.requestID}, acsRequest(b.form))
		if err == nil && a.Subject != samltest.Email {
			err = fmt.Errorf("subject %q", a.Subject)
		}
		return err
	}
	bare := conn.sp
	parse := func(b *benchResponse) error {
		r := acsRequest(b.form)
		if err := r.ParseForm(); err != nil {
			return err
		}
		a, err := bare.ParseResponse(r, []string{b.requestID})
		if err == nil && a.Subject.NameID.Value != samltest.Email {
			err = fmt.Errorf("subject %q", a.Subject.NameID.Value)
		}
		return err
	}

	// Warm up on a few responses not measured after.
	warm := min(n/10, 100)
	consume(rs, 0, warm, finish)
	consume(rs, 0, warm, parse)

	const rounds = 4
	var gwTime, baseTime time.Duration
	var gwFailed, baseFailed int64
	var gwErr, baseErr error
	per := (n - warm) / rounds
	for r := range rounds {
		from, to := warm+r*per, warm+(r+1)*per
		sides := []func(){
			func() {
				d, f, err := consume(rs, from, to, finish)
				gwTime, gwFailed = gwTime+d, gwFailed+f
				gwErr = firstErr(gwErr, err)
			},
			func() {
				d, f, err := consume(rs, from, to, parse)
				baseTime, baseFailed = baseTime+d, baseFailed+f
				baseErr = firstErr(baseErr, err)
			},
		}
		if r%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, s := range sides {
			s()
		}
	}
	measured := per * rounds

	// Every response was consumed once by Finish: its assertion id is in
	// the replay cache, and a second use is refused.
	g.replay.mu.Lock()
	recorded := len(g.replay.seen)
	g.replay.mu.Unlock()
	if _, err := conn.Finish(ctx, &connector.Request{Key: "k", AuthnRequestID: rs[warm].requestID}, acsRequest(rs[warm].form)); err == nil {
		t.Error("a consumed response was accepted again")
	}

	gwRate := float64(measured) / gwTime.Seconds()
	baseRate := float64(measured) / baseTime.Seconds()
	ratio := gwRate / baseRate
	fmt.Printf("sso_saml_acs gateway: %d responses in %v on %d workers, %d refused; %d assertion ids recorded\n",
		measured, gwTime.Round(time.Millisecond), runtime.GOMAXPROCS(0), gwFailed, recorded)
	fmt.Printf("sso_saml_acs baseline (crewjam ParseResponse): %d responses in %v, %d refused\n",
		measured, baseTime.Round(time.Millisecond), baseFailed)
	fmt.Printf("sso_saml_acs targets: ratio >= %.2f %s\n", targetACSRatio, met(ratio >= targetACSRatio))
	fmt.Printf("bench sso_saml_acs: %.0f responses/s (baseline %.0f responses/s, ratio %.2f)\n", gwRate, baseRate, ratio)

	if gwFailed > 0 || baseFailed > 0 {
		t.Errorf("not every response was accepted: gateway %d (%v), baseline %d (%v)", gwFailed, gwErr, baseFailed, baseErr)
	}
	if recorded != warm+measured {
		t.Errorf("%d assertion ids recorded, want %d", recorded, warm+measured)
	}
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
