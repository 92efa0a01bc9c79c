//go:build bench

// Benchmarks of the invitee side, run by `make bench` (or
// `go test -tags bench -count=1 -run '^TestBench_' -v ./api/`):
//
//   - redeem: single-use invite links redeemed (POST /i/{token} with the
//     invited email, answered 303) by 32 concurrent clients on the embedded
//     SQLite store; in the same run, a bare Gin handler doing only the
//     conditional UPDATE of a redemption on the same database gives the
//     baseline, and the ratio says what the rest of the gateway costs.
//   - invite_page: the lobby page (GET /i/{token}) at 32 concurrent clients;
//     the baseline is a bare Gin handler doing one SELECT by token hash and
//     writing a fixed page of the same size.
//
// Each benchmark prints its figures, then one summary line
// "bench NAME: VALUE UNIT (baseline VALUE UNIT, ratio R)".
//
// Environment:
//
//	BENCH_DURATION  measured time of each side (default 8s), taken in
//	                turns with the other side (4 rounds), after 1s of warm-up
//	BENCH_PROFILE   when set, a CPU profile of the measured turns is written
//	                to $BENCH_PROFILE.NAME.pprof (NAME = redeem or
//	                invite_page). It holds both sides and the load
//	                generator (same process): the gateway's own frames are
//	                under api.(*Server).ServeHTTP (pprof -focus).
package api_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
)

const (
	benchClients = 32
	benchWarmup  = time.Second
)

// Targets on the reference 2-core machine.
const (
	targetRedeemPerSec = 3000.0
	targetRedeemRatio  = 0.5
	targetRedeemP99    = 25 * time.Millisecond
	targetPagePerSec   = 8000.0
)

// redeemSQL is the redemption's conditional UPDATE, keyed by token hash: the
// whole of what the baseline handler does.
const redeemSQL = `UPDATE invitations SET uses = uses + 1, last_redeemed_at = ?
	WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ? AND (max_uses = 0 OR uses < max_uses)`

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

// link is one invitation as a client uses it.
type link struct {
	path   string // /i/{token}
	form   string // email=... (url-encoded)
	cookie string // a Cookie header the request carries, if any
}

// seedLinks inserts n single-use invitations to the resource directly in the
// database (creating 100k through the API would take longer than the
// benchmark), each with its own email, all tagged with createdBy. Like an
// invitation made through the API, each invitee is a known user of the
// account from the start.
func seedLinks(t *testing.T, env *apitest.Env, resourceID, createdBy string, n int) []link {
	t.Helper()
	now := time.Now().UTC()
	links := make([]link, n)
	invs := make([]invite.Invitation, n)
	users := make([]user.User, n)
	for i := range invs {
		plain, hash := token.New()
		email := fmt.Sprintf("guest%07d@%s.bench.test", i, createdBy)
		invs[i] = invite.Invitation{
			ID: id.New(), AccountID: env.AccountID, ResourceID: resourceID,
			Email: email, FirstName: "Guest", LastName: fmt.Sprintf("Number %d", i), Role: "viewer",
			TokenHash: hash, CreatedBy: createdBy, MaxUses: 1, DeviceBinding: true,
			CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		}
		users[i] = user.User{ID: id.New(), AccountID: env.AccountID, Email: email, FirstName: "Guest", LastName: invs[i].LastName, CreatedAt: now, UpdatedAt: now}
		links[i] = link{path: "/i/" + plain, form: url.Values{"email": {email}}.Encode()}
	}
	err := env.DB.Tx(context.Background(), func(tx *store.Tx) error {
		if err := tx.CreateInBatches(users, 1000).Error; err != nil {
			return err
		}
		return tx.CreateInBatches(invs, 1000).Error
	})
	if err != nil {
		t.Fatalf("seed invitations: %v", err)
	}
	return links
}

// benchClient is one simulated browser: its own keep-alive connection, no
// cookie jar, redirects not followed.
func benchClient() *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     time.Minute,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newClients() []*http.Client {
	cs := make([]*http.Client, benchClients)
	for i := range cs {
		cs[i] = benchClient()
	}
	return cs
}

func closeClients(cs []*http.Client) {
	for _, c := range cs {
		c.CloseIdleConnections()
	}
}

// load is what one phase of requests measured.
type load struct {
	elapsed  time.Duration
	done     int         // requests answered
	ok       int         // answered with the success status
	statuses map[int]int // every other status
	errs     int         // transport errors
	firstErr error
	lat      []time.Duration // of every answered request, sorted
	// CPU time of the whole process (server and load generator) and of the
	// whole machine: "cores busy" below 2 with the machine idle means the
	// side waits on something (the single SQLite writer), not on CPU; a
	// machine far busier than the process means a neighbour skewed the figure.
	cpu     time.Duration
	machine time.Duration
}

// machineCPU is the busy CPU time of every core of the machine so far (from
// /proc/stat), or 0 where unknown: with it a figure shows whether something
// else was using the cores during the measurement.
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

// processCPU is the CPU time (user + system) this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perSec is the rate of successful answers.
func (l *load) perSec() float64 {
	if l.elapsed <= 0 {
		return 0
	}
	return float64(l.ok) / l.elapsed.Seconds()
}

func (l *load) pct(p float64) time.Duration {
	if len(l.lat) == 0 {
		return 0
	}
	i := int(p * float64(len(l.lat)-1))
	return l.lat[i]
}

func (l *load) add(o *load) {
	l.done += o.done
	l.ok += o.ok
	l.errs += o.errs
	if l.firstErr == nil {
		l.firstErr = o.firstErr
	}
	for s, n := range o.statuses {
		l.statuses[s] += n
	}
}

// run sends requests from every client until dur has passed or, when
// reuse is false, every link has been used once (next is shared across
// phases so a link is never sent twice).
func run(clients []*http.Client, base, method string, links []link, reuse bool, next *atomic.Int64, want int, dur time.Duration) *load {
	var (
		mu  sync.Mutex
		all = &load{statuses: map[int]int{}}
		wg  sync.WaitGroup
	)
	cpu0, mach0 := processCPU(), machineCPU()
	start := time.Now()
	deadline := start.Add(dur)
	for _, c := range clients {
		wg.Add(1)
		go func(c *http.Client) {
			defer wg.Done()
			mine := &load{statuses: map[int]int{}}
			lat := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= len(links) {
					if !reuse {
						break
					}
					i %= len(links)
				}
				l := links[i]
				var body io.Reader
				if method == http.MethodPost {
					body = strings.NewReader(l.form)
				}
				req, _ := http.NewRequest(method, base+l.path, body)
				if body != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if l.cookie != "" {
					req.Header.Set("Cookie", l.cookie)
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					mine.errs++
					if mine.firstErr == nil {
						mine.firstErr = err
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				mine.done++
				if resp.StatusCode == want {
					mine.ok++
				} else {
					mine.statuses[resp.StatusCode]++
				}
			}
			mu.Lock()
			all.add(mine)
			all.lat = append(all.lat, lat...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	all.cpu = processCPU() - cpu0
	if mach0 > 0 {
		all.machine = machineCPU() - mach0
	}
	sort.Slice(all.lat, func(i, j int) bool { return all.lat[i] < all.lat[j] })
	return all
}

// side is one server under load: the gateway or its baseline.
type side struct {
	name   string
	url    string
	method string
	links  []link
	reuse  bool // GET: links may be sent again; POST: each link once
	want   int  // the success status
	warm   *load
	total  *load

	clients []*http.Client
	next    atomic.Int64 // next link, across warm-up and every round
}

// benchRounds interleave the sides, so a neighbour's load on the machine
// weighs on both alike and the ratio stays meaningful.
const benchRounds = 4

// compare warms each side up for benchWarmup (not measured), then measures
// them in turns, benchRounds times dur/benchRounds each. With a profile path,
// the measured turns of both sides are CPU-profiled into it.
func compare(t *testing.T, name string, dur time.Duration, profile string, sides ...*side) {
	t.Helper()
	for _, sd := range sides {
		sd.clients = newClients()
		defer closeClients(sd.clients)
		sd.warm = run(sd.clients, sd.url, sd.method, sd.links, sd.reuse, &sd.next, sd.want, benchWarmup)
		sd.total = &load{statuses: map[int]int{}}
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			t.Fatalf("cpu profile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatalf("cpu profile: %v", err)
		}
	}
	for r := 0; r < benchRounds; r++ {
		for i := range sides {
			sd := sides[i]
			if r%2 == 1 {
				sd = sides[len(sides)-1-i]
			}
			l := run(sd.clients, sd.url, sd.method, sd.links, sd.reuse, &sd.next, sd.want, dur/benchRounds)
			sd.total.add(l)
			sd.total.elapsed += l.elapsed
			sd.total.cpu += l.cpu
			sd.total.machine += l.machine
			sd.total.lat = append(sd.total.lat, l.lat...)
		}
	}
	if profile != "" {
		pprof.StopCPUProfile()
		fmt.Printf("%s: cpu profile of the measured turns in %s (gateway: focus api.(*Server).ServeHTTP)\n", name, profile)
	}
	for _, sd := range sides {
		sort.Slice(sd.total.lat, func(i, j int) bool { return sd.total.lat[i] < sd.total.lat[j] })
		if !sd.reuse && int(sd.next.Load()) >= len(sd.links) {
			fmt.Printf("%s %s: all %d prepared links were used before the measured time was over\n", name, sd.name, len(sd.links))
		}
	}
}

func profilePath(name string) string {
	p := os.Getenv("BENCH_PROFILE")
	if p == "" {
		return ""
	}
	return p + "." + name + ".pprof"
}

func describeLoad(l *load) string {
	s := fmt.Sprintf("%d requests in %v, %d ok", l.done, l.elapsed.Round(time.Millisecond), l.ok)
	if len(l.statuses) > 0 {
		codes := make([]int, 0, len(l.statuses))
		for c := range l.statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		var parts []string
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%d×%d", l.statuses[c], c))
		}
		s += ", other statuses " + strings.Join(parts, " ")
	}
	if l.errs > 0 {
		s += fmt.Sprintf(", %d transport errors (first: %v)", l.errs, l.firstErr)
	}
	if l.done > 0 && l.elapsed > 0 && l.cpu > 0 {
		s += fmt.Sprintf("; process CPU %.0f µs/request, %.2f cores busy",
			float64(l.cpu.Microseconds())/float64(l.done), l.cpu.Seconds()/l.elapsed.Seconds())
		if l.machine > 0 {
			s += fmt.Sprintf(" (machine %.2f of %d)", l.machine.Seconds()/l.elapsed.Seconds(), runtime.NumCPU())
		}
	}
	return s
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func serveBare(t *testing.T, r *gin.Engine) string {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

// usesOf sums the uses consumed and counts the redeemed links among the
// invitations tagged createdBy.
func usesOf(t *testing.T, env *apitest.Env, createdBy string) (sum, redeemed, over int64) {
	t.Helper()
	var row struct{ Sum, Redeemed, Over int64 }
	err := env.DB.W.Raw(`SELECT COALESCE(SUM(uses), 0) AS sum,
		COUNT(CASE WHEN uses > 0 THEN 1 END) AS redeemed,
		COUNT(CASE WHEN uses > max_uses THEN 1 END) AS over
		FROM invitations WHERE created_by = ?`, createdBy).Scan(&row).Error
	if err != nil {
		t.Fatalf("count uses: %v", err)
	}
	return row.Sum, row.Redeemed, row.Over
}

func TestBench_redeem(t *testing.T) { benchRedeem(t, "redeem", store.SQLite) }

// benchRedeem measures redemptions on the dialect beside the bare
// conditional UPDATE on the same database, and prints "bench NAME: ...".
func benchRedeem(t *testing.T, name, dialect string) {
	dur := benchDuration(t)
	env := apitest.New(t, apitest.Options{RealClock: true, Dialect: dialect})
	room := env.Resource(map[string]any{"type": "room", "title": "Benchmark room"})

	// More links than the fastest plausible rate can use in warm-up plus
	// the measured time; a phase that runs out ends early and says so.
	perSec := func(rate float64) int { return int(rate * (dur + benchWarmup).Seconds()) }
	t0 := time.Now()
	gwLinks := seedLinks(t, env, room, "bench-gateway", perSec(10000))
	baseLinks := seedLinks(t, env, room, "bench-baseline", perSec(25000))
	floorLinks := seedLinks(t, env, room, "bench-floor", perSec(15000))
	fmt.Printf("%s: seeded %d + %d + %d single-use invitations in %v\n", name, len(gwLinks), len(baseLinks), len(floorLinks), time.Since(t0).Round(time.Millisecond))

	bareURL := bareRedeem(t, env)
	floorURL := floorRedeem(t, env)

	gws := &side{name: "gateway", url: env.URL, method: http.MethodPost, links: gwLinks, want: http.StatusSeeOther}
	bases := &side{name: "baseline", url: bareURL, method: http.MethodPost, links: baseLinks, want: http.StatusSeeOther}
	floors := &side{name: "floor", url: floorURL, method: http.MethodPost, links: floorLinks, want: http.StatusSeeOther}
	compare(t, name, dur, profilePath(name), gws, bases, floors)
	gw, gWarm, base, bWarm := gws.total, gws.warm, bases.total, bases.warm
	floor := floors.total

	// Correctness: every 303 consumed exactly one use of a distinct link,
	// and nothing else did.
	okGW := gWarm.ok + gw.ok
	sum, redeemed, over := usesOf(t, env, "bench-gateway")
	fmt.Printf("%s gateway: %s (warm-up %s)\n", name, describeLoad(gw), describeLoad(gWarm))
	fmt.Printf("%s gateway: %d uses consumed on %d links by %d answers 303 (warm-up included); %d links over their limit\n", name, sum, redeemed, okGW, over)
	okBase := bWarm.ok + base.ok
	bsum, bredeemed, bover := usesOf(t, env, "bench-baseline")
	fmt.Printf("%s baseline: %s (warm-up %s)\n", name, describeLoad(base), describeLoad(bWarm))
	fmt.Printf("%s baseline: %d uses consumed on %d links by %d answers 303 (warm-up included); %d links over their limit\n", name, bsum, bredeemed, okBase, bover)

	fmt.Printf("%s latency: gateway p50 %v p99 %v max %v; baseline p50 %v p99 %v max %v\n", name,
		gw.pct(0.50).Round(10*time.Microsecond), gw.pct(0.99).Round(10*time.Microsecond), gw.pct(1).Round(10*time.Microsecond),
		base.pct(0.50).Round(10*time.Microsecond), base.pct(0.99).Round(10*time.Microsecond), base.pct(1).Round(10*time.Microsecond))
	ratio := 0.0
	if base.perSec() > 0 {
		ratio = gw.perSec() / base.perSec()
	}
	fmt.Printf("%s targets: throughput >= %.0f/s %s; ratio >= %.2f %s; p99 < %v %s\n", name,
		targetRedeemPerSec, met(gw.perSec() >= targetRedeemPerSec),
		targetRedeemRatio, met(ratio >= targetRedeemRatio),
		targetRedeemP99, met(gw.pct(0.99) < targetRedeemP99))
	floorRatio, ofFloor := 0.0, 0.0
	if base.perSec() > 0 && floor.perSec() > 0 {
		floorRatio, ofFloor = floor.perSec()/base.perSec(), gw.perSec()/floor.perSec()
	}
	fsum, fredeemed, _ := usesOf(t, env, "bench-floor")
	fmt.Printf("%s floor (read + take the use and write its four rows in one write + join token + 303; no checks, no middleware): %s; %d uses on %d links\n",
		name, describeLoad(floor), fsum, fredeemed)
	fmt.Printf("%s floor: %.0f redemptions/s, ratio to the baseline %.2f; the gateway does %.2f of the floor\n", name, floor.perSec(), floorRatio, ofFloor)
	fmt.Printf("bench %s: %.0f redemptions/s (baseline %.0f redemptions/s, ratio %.2f)\n", name, gw.perSec(), base.perSec(), ratio)
	if len(floor.statuses) > 0 || floor.errs > 0 || floor.ok == 0 {
		t.Errorf("%s floor: not every request succeeded: %s (first error %v)", name, describeLoad(floor), floor.firstErr)
	}

	for side, l := range map[string]*load{"gateway": gw, "gateway warm-up": gWarm, "baseline": base, "baseline warm-up": bWarm} {
		if len(l.statuses) > 0 || l.errs > 0 {
			t.Errorf("%s %s: not every request succeeded: %s", name, side, describeLoad(l))
		}
	}
	if sum != int64(okGW) || redeemed != int64(okGW) || over != 0 {
		t.Errorf("%s gateway: %d answers 303 but %d uses on %d links (%d over their limit)", name, okGW, sum, redeemed, over)
	}
	if bsum != int64(okBase) || bredeemed != int64(okBase) || bover != 0 {
		t.Errorf("%s baseline: %d answers 303 but %d uses on %d links (%d over their limit)", name, okBase, bsum, bredeemed, bover)
	}
}

// bareRedeem serves the baseline of a redemption and returns its URL.
func bareRedeem(t *testing.T, env *apitest.Env) string {
	t.Helper()
	// Baseline: a bare Gin engine, no middleware, doing only the redemption's
	// conditional UPDATE (by the token's hash, through the same store and
	// its single write connection) and answering 303 when one row changed.
	// The statement is prepared once, as gorm's statement cache would.
	gin.SetMode(gin.ReleaseMode)
	consume, err := env.DB.Prepare(context.Background(), true, numbered(env.DB, redeemSQL))
	if err != nil {
		t.Fatal(err)
	}
	bare := gin.New()
	bare.POST("/i/:token", func(c *gin.Context) {
		now := time.Now().UTC()
		r, err := consume.ExecContext(c.Request.Context(), now, token.Hash(c.Param("token")), now)
		var n int64
		if err == nil {
			n, err = r.RowsAffected()
		}
		switch {
		case err != nil:
			c.String(http.StatusInternalServerError, err.Error())
		case n == 1:
			c.Redirect(http.StatusSeeOther, "/entered")
		default:
			c.String(http.StatusConflict, "used")
		}
	})
	return serveBare(t, bare)
}

// numbered writes q's ? placeholders as $1, $2... on PostgreSQL, whose
// driver takes no other form in a statement prepared outside gorm.
func numbered(db *store.DB, q string) string {
	if db.Dialect != store.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestBench_invite_page(t *testing.T) {
	dur := benchDuration(t)
	env := apitest.New(t, apitest.Options{RealClock: true})
	room := env.Resource(map[string]any{"type": "room", "title": "Benchmark room"})
	// Opening a link changes nothing, so clients cycle through these.
	links := seedLinks(t, env, room, "bench-page", 10000)

	sample := env.Must(env.Get(benchClient(), links[0].path), http.StatusOK)
	if !strings.Contains(string(sample.Body), "<form") {
		t.Fatalf("GET %s is not the lobby: %s", "/i/…", sample.Body)
	}
	page := sample.Body

	// Baseline: a bare Gin engine, no middleware, doing the page's one
	// indispensable query (the invitation by token hash, on the same store's
	// read pool) and writing a fixed page of the gateway lobby's bytes.
	gin.SetMode(gin.ReleaseMode)
	bare := gin.New()
	bare.GET("/i/:token", func(c *gin.Context) {
		var inv invite.Invitation
		err := env.DB.R.WithContext(c.Request.Context()).Where("token_hash = ?", token.Hash(c.Param("token"))).Take(&inv).Error
		if err != nil {
			c.String(http.StatusNotFound, "not found")
			return
		}
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	})
	bareURL := serveBare(t, bare)

	gws := &side{name: "gateway", url: env.URL, method: http.MethodGet, links: links, reuse: true, want: http.StatusOK}
	bases := &side{name: "baseline", url: bareURL, method: http.MethodGet, links: links, reuse: true, want: http.StatusOK}
	compare(t, "invite_page", dur, profilePath("invite_page"), gws, bases)
	gw, base := gws.total, bases.total

	sum, _, _ := usesOf(t, env, "bench-page")
	fmt.Printf("invite_page gateway: %s; page %d bytes; uses consumed by opening: %d\n", describeLoad(gw), len(page), sum)
	fmt.Printf("invite_page baseline: %s\n", describeLoad(base))
	fmt.Printf("invite_page latency: gateway p50 %v p99 %v; baseline p50 %v p99 %v\n",
		gw.pct(0.50).Round(10*time.Microsecond), gw.pct(0.99).Round(10*time.Microsecond),
		base.pct(0.50).Round(10*time.Microsecond), base.pct(0.99).Round(10*time.Microsecond))
	ratio := 0.0
	if base.perSec() > 0 {
		ratio = gw.perSec() / base.perSec()
	}
	fmt.Printf("invite_page targets: throughput >= %.0f/s %s\n", targetPagePerSec, met(gw.perSec() >= targetPagePerSec))
	fmt.Printf("bench invite_page: %.0f requests/s (baseline %.0f requests/s, ratio %.2f)\n", gw.perSec(), base.perSec(), ratio)

	if len(gw.statuses) > 0 || gw.errs > 0 || len(base.statuses) > 0 || base.errs > 0 {
		t.Errorf("invite_page: not every request succeeded: gateway %s; baseline %s", describeLoad(gw), describeLoad(base))
	}
	if sum != 0 {
		t.Errorf("invite_page: opening links consumed %d uses", sum)
	}
}
