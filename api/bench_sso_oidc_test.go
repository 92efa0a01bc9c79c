//go:build bench

// Benchmark of the OIDC callback, run by `make bench BENCH=sso_oidc_callback`
// (or `go test -tags bench -count=1 -run '^TestBench_sso_oidc_callback' -v ./api/`):
//
//   - sso_oidc_callback: completed callbacks per second, GET
//     /sso/oidc/{id}/callback through the gateway's HTTP server from 32
//     clients, each answered 303 into the console: the login in flight
//     taken, the code exchanged at the provider's token endpoint over
//     loopback HTTP, the id token verified with the provider's cached
//     keys, the person resolved, their groups recorded, the session
//     opened. In the same run, go-oidc's verifier alone on an id token of
//     the same provider (keys cached) gives the baseline.
//   - a floor, printed beside them: a bare Gin handler doing only the two
//     steps no callback can skip (the code exchanged at the same token
//     endpoint, the id token verified) and answering 303, with no database.
//     Its ratio to the baseline bounds what any callback can reach here.
//
// The provider is oidctest.Minted, in the same process. Each callback's
// login is started beforehand through POST /sso/start, and its id token
// (with that login's nonce) signed then, as a provider does at its
// authorization step: the measured side is the gateway's, not a
// provider's signing. It prints one summary line
// "bench sso_oidc_callback: VALUE callbacks/s (baseline VALUE callbacks/s, ratio R)".
//
// Environment: BENCH_DURATION as for the other benchmarks of api/.
package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso/oidc/oidctest"
)

// Target on the reference 2-core machine.
const targetCallbackRatio = 0.3

const (
	benchOIDCClient = "bench-client"
	benchOIDCSecret = "a-client-secret-for-the-benchmark-0123456789"
	benchOIDCEmail  = "pat@bench.test"
)

// oidcLogins starts n logins through POST /sso/start and has the provider
// ready to answer each: a code whose token response carries an id token
// with the login's nonce. It returns the callbacks the browser would be
// sent to.
func oidcLogins(t *testing.T, env *apitest.Env, p *oidctest.Minted, connID string, n int) []link {
	t.Helper()
	out := make([]link, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range runtime.NumCPU() * 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := benchClient()
			defer c.CloseIdleConnections()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() != nil {
					return
				}
				l, err := oidcLogin(env, c, p, t, connID)
				if err != nil {
					failed.Store(err)
					return
				}
				out[i] = l
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("start a login: %v", err)
	}
	return out
}

func oidcLogin(env *apitest.Env, c *http.Client, p *oidctest.Minted, t *testing.T, connID string) (link, error) {
	resp, err := c.PostForm(env.URL+"/sso/start", url.Values{"email": {benchOIDCEmail}})
	if err != nil {
		return link{}, err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), p.URL+"/") {
		return link{}, fmt.Errorf("POST /sso/start: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := loc.Query()
	now := time.Now()
	idToken := p.SignRS256(t, map[string]any{
		"iss": p.URL, "aud": benchOIDCClient, "sub": "person-1", "nonce": q.Get("nonce"),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": benchOIDCEmail, "email_verified": true, "given_name": "Pat", "family_name": "One",
		"groups": []string{"staff", "engineers"},
	})
	code, _ := token.New()
	p.Answer(code, idToken, "access-token-"+code[:8])
	// The callback comes from the browser that started the login, with
	// its login cookie.
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "ig_sso" {
			cookie = c.Name + "=" + c.Value
		}
	}
	return link{path: "/sso/oidc/" + connID + "/callback?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), cookie: cookie}, nil
}

// serveFloor serves the callback's unavoidable steps alone: GET /cb?code=
// exchanged at p's token endpoint (client_secret_basic, kept-alive
// connections), the id token verified by v, 303. It returns the server's URL.
func serveFloor(t *testing.T, p *oidctest.Minted, v *gooidc.IDTokenVerifier) string {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	cfg := oauth2.Config{ClientID: benchOIDCClient, ClientSecret: benchOIDCSecret,
		Endpoint: oauth2.Endpoint{TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}
	bare := gin.New()
	bare.GET("/cb", func(c *gin.Context) {
		ctx := context.WithValue(c.Request.Context(), oauth2.HTTPClient, hc)
		tok, err := cfg.Exchange(ctx, c.Query("code"))
		if err != nil {
			c.String(http.StatusBadGateway, err.Error())
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		if _, err := v.Verify(ctx, raw); err != nil {
			c.String(http.StatusUnauthorized, err.Error())
			return
		}
		c.Redirect(http.StatusSeeOther, "/console")
	})
	return serveBare(t, bare)
}

// verifyLoop verifies idToken from benchClients goroutines for dur.
func verifyLoop(v *gooidc.IDTokenVerifier, idToken string, dur time.Duration) *load {
	var ok, errs atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	cpu0, mach0 := processCPU(), machineCPU()
	start := time.Now()
	deadline := start.Add(dur)
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := v.Verify(context.Background(), idToken); err != nil {
					errs.Add(1)
					first.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	l := &load{elapsed: time.Since(start), ok: int(ok.Load()), errs: int(errs.Load()), statuses: map[int]int{}, cpu: processCPU() - cpu0}
	l.done = l.ok + l.errs
	if err, _ := first.Load().(error); err != nil {
		l.firstErr = err
	}
	if mach0 > 0 {
		l.machine = machineCPU() - mach0
	}
	return l
}

func TestBench_sso_oidc_callback(t *testing.T) {
	dur := benchDuration(t)
	p := oidctest.NewMinted(t, benchOIDCClient, benchOIDCSecret)
	env := apitest.New(t, apitest.Options{RealClock: true, Config: func(c *app.Config) {
		// Every login of the run starts from this one client address.
		c.Limits.SiteFormsPerMinute = 1 << 30
	}})
	conn := env.Must(env.Do("POST", "/api/v1/sso/connections", env.APIKey, map[string]any{
		"name": "Bench", "type": "oidc", "domains": []string{"bench.test"}, "jit": true,
		"config": map[string]any{"issuer": p.URL, "client_id": benchOIDCClient, "client_secret": benchOIDCSecret},
	}), http.StatusCreated).Map(t)
	connID := conn["id"].(string)

	now := time.Now()
	baseToken := p.SignRS256(t, map[string]any{
		"iss": p.URL, "aud": benchOIDCClient, "sub": "person-1", "nonce": "bench-nonce",
		"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"email": benchOIDCEmail, "email_verified": true, "given_name": "Pat", "family_name": "One",
		"groups": []string{"staff", "engineers"},
	})
	ctx := gooidc.ClientContext(context.Background(), &http.Client{Timeout: 10 * time.Second})
	bare := gooidc.NewVerifier(p.URL, gooidc.NewRemoteKeySet(ctx, p.URL+"/jwks"),
		&gooidc.Config{ClientID: benchOIDCClient, SupportedSigningAlgs: []string{"RS256"}})

	// The floor's codes are not registered: the provider answers them all
	// with baseToken.
	p.AnswerEvery(baseToken, "access-token-floor")
	floorURL := serveFloor(t, p, bare)
	floorLinks := []link{{path: "/cb?code=floor"}}
	var floorNext atomic.Int64

	// Warm-up (not measured): the connector opened (discovery, keys), the
	// person provisioned, connections open; its rate sizes the logins the
	// measured turns need.
	clients := newClients()
	defer closeClients(clients)
	var next atomic.Int64
	warm := run(clients, env.URL, http.MethodGet, oidcLogins(t, env, p, connID, 400), false, &next, http.StatusSeeOther, benchWarmup)
	verifyLoop(bare, baseToken, benchWarmup)
	run(clients, floorURL, http.MethodGet, floorLinks, true, &floorNext, http.StatusSeeOther, benchWarmup)
	if warm.ok == 0 {
		t.Fatalf("no callback succeeded in the warm-up: %s\n%s", describeLoad(warm), env.Logs.String())
	}
	need := int(float64(warm.ok)/warm.elapsed.Seconds()*dur.Seconds()*1.5) + 500
	links := oidcLogins(t, env, p, connID, need)
	next.Store(0)

	gw, base, floor := &load{statuses: map[int]int{}}, &load{statuses: map[int]int{}}, &load{statuses: map[int]int{}}
	measure := []func(){
		func() {
			l := run(clients, env.URL, http.MethodGet, links, false, &next, http.StatusSeeOther, dur/benchRounds)
			gw.add(l)
			gw.elapsed, gw.cpu, gw.machine = gw.elapsed+l.elapsed, gw.cpu+l.cpu, gw.machine+l.machine
		},
		func() {
			l := verifyLoop(bare, baseToken, dur/benchRounds)
			base.add(l)
			base.elapsed, base.cpu, base.machine = base.elapsed+l.elapsed, base.cpu+l.cpu, base.machine+l.machine
		},
		func() {
			l := run(clients, floorURL, http.MethodGet, floorLinks, true, &floorNext, http.StatusSeeOther, dur/benchRounds)
			floor.add(l)
			floor.elapsed, floor.cpu, floor.machine = floor.elapsed+l.elapsed, floor.cpu+l.cpu, floor.machine+l.machine
		},
	}
	for r := range benchRounds {
		for i := range measure {
			if r%2 == 1 {
				i = len(measure) - 1 - i
			}
			measure[i]()
		}
	}
	if int(next.Load()) >= len(links) {
		fmt.Printf("sso_oidc_callback: all %d prepared logins were used before the measured time was over\n", len(links))
	}

	fmt.Printf("sso_oidc_callback callback (GET /sso/oidc/{id}/callback, 303): %s\n", describeLoad(gw))
	fmt.Printf("sso_oidc_callback baseline (go-oidc's verifier alone): %s\n", describeLoad(base))
	ratio, floorRatio := 0.0, 0.0
	if base.perSec() > 0 {
		ratio = gw.perSec() / base.perSec()
		floorRatio = floor.perSec() / base.perSec()
	}
	fmt.Printf("sso_oidc_callback floor (exchange + verify + 303, no database): %s; %.0f/s, ratio to the baseline %.2f\n", describeLoad(floor), floor.perSec(), floorRatio)
	fmt.Printf("sso_oidc_callback target: ratio >= %.2f %s\n", targetCallbackRatio, met(ratio >= targetCallbackRatio))
	fmt.Printf("bench sso_oidc_callback: %.0f callbacks/s (baseline %.0f callbacks/s, ratio %.2f)\n", gw.perSec(), base.perSec(), ratio)

	if gw.ok == 0 || gw.ok != gw.done || gw.errs > 0 {
		t.Errorf("sso_oidc_callback: not every callback signed the person in: %s", describeLoad(gw))
	}
	if floor.ok == 0 || floor.ok != floor.done || floor.errs > 0 {
		t.Errorf("sso_oidc_callback floor: not every bare callback succeeded: %s", describeLoad(floor))
	}
	if base.ok == 0 || base.errs > 0 {
		t.Errorf("sso_oidc_callback baseline: not every verification passed: %s", describeLoad(base))
	}
	// Each 303 was a sign-in: one console session per callback answered.
	var sessions int64
	env.DB.R.Model(&session.Session{}).Where("method = ?", session.MethodConsoleSSO).Count(&sessions)
	if want := int64(warm.ok + gw.ok); sessions != want {
		t.Errorf("sso_oidc_callback: %d SSO console sessions for %d callbacks answered 303", sessions, want)
	}
}
