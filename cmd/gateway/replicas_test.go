package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/mail/mailtest"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// Settings of the replicas under test that the assertions depend on.
const (
	replicaMailWorkers = 2
	replicaMailBatch   = 20
	replicaGuessesLink = 5
	replicaGuessesMin  = 10
)

// TestReplicas runs three `gateway serve` processes on one PostgreSQL
// database behind a round-robin proxy, started at once, and shows that
// what one replica does holds on the others, and that killing one (SIGKILL
// or SIGTERM) leaves only work the others finish.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("three gateway processes and real faults: not in -short")
	}
	started := time.Now()
	dsn := storetest.DSN(t, store.Postgres)
	md := mailtest.Start(t)
	plugin, sum := plugintest.Build(t, "./cmd/gateway-plugin-template-dir")
	c := newCluster(t, dsn)
	tpl := filepath.Join(c.dir, "templates", "invitation", "en")
	os.MkdirAll(tpl, 0o755)
	os.WriteFile(filepath.Join(tpl, "subject.txt"), []byte("Join {{.Resource.Title}}"), 0o644)
	os.WriteFile(filepath.Join(tpl, "body.html"), []byte("<p>{{.Link}}</p>"), 0o644)
	os.WriteFile(filepath.Join(tpl, "body.txt"), []byte("{{.Link}}"), 0o644)
	os.WriteFile(c.configPath(), []byte(fmt.Sprintf(`log: {level: warn}
trusted_proxies: ["127.0.0.1"]
shutdown_timeout: 10s
invitations: {max_guesses_per_link: %d, guesses_per_client_minute: %d}
mail:
  from: "Invitegate <noreply@org.test>"
  smtp: {host: 127.0.0.1, port: %d, tls: none}
  workers: %d
  batch: %d
  lease: 4s
  poll: 100ms
plugins:
  - name: brand
    kind: templateprovider
    path: %s
    sha256: %s
    schedule: "@every 2s"
    config: {dir: %q}
`, replicaGuessesLink, replicaGuessesMin, md.SMTPPort, replicaMailWorkers, replicaMailBatch, plugin, sum, filepath.Join(c.dir, "templates"))), 0o644)

	reps := c.start(3)
	t.Logf("three replicas ready %s after the test began", time.Since(started).Round(time.Millisecond))
	key := ""
	for _, r := range reps {
		if k := r.printed["API key"]; k != "" {
			if key != "" {
				t.Fatalf("two replicas made the first-start API key")
			}
			key = lastField(k)
		}
	}
	step := func(name string, fn func(t *testing.T)) {
		at := time.Now()
		if !t.Run(name, fn) {
			t.FailNow()
		}
		t.Logf("%s: %s", name, time.Since(at).Round(time.Millisecond))
	}
	step("first start once", func(t *testing.T) { testFirstStartOnce(t, c, key) })
	a := &api{t: t, c: c, key: key}
	// Links of up to ten uses.
	a.call("PUT", "/api/v1/settings/invitations", map[string]any{"reusability": "limited", "max_uses": 10}, http.StatusOK)
	step("redeem across replicas", func(t *testing.T) { testRedeemAcross(t, a) })
	step("device binding across replicas", func(t *testing.T) { testDeviceAcross(t, a) })
	step("sessions across replicas", func(t *testing.T) { testSessionsAcross(t, a) })
	step("guess limits across replicas", func(t *testing.T) { testGuessesAcross(t, a) })
	step("scheduled job once per tick", func(t *testing.T) { testScheduleAcross(t, c) })
	step("outbox across replicas", func(t *testing.T) { testOutboxAcross(t, c, md) })
	step("bulk import resumed by another replica", func(t *testing.T) { testBulkAcross(t, a) })
	t.Logf("requests the proxy sent each replica: %v", c.servedCounts())
}

func (c *cluster) servedCounts() map[int]int64 {
	out := map[int]int64{}
	c.served.Range(func(k, v any) bool {
		out[k.(int)] = v.(interface{ Load() int64 }).Load()
		return true
	})
	return out
}

func testFirstStartOnce(t *testing.T, c *cluster, key string) {
	if key == "" {
		t.Fatal("no replica printed the first-start API key")
	}
	firsts := 0
	for _, r := range c.reps {
		if r.printed["First start"] != "" {
			firsts++
		}
	}
	if firsts != 1 {
		t.Fatalf("%d replicas said they made the first account", firsts)
	}
	for q, want := range map[string]int64{
		"SELECT COUNT(*) FROM accounts":                                            1,
		"SELECT COUNT(*) FROM api_keys":                                            1,
		"SELECT COUNT(*) FROM users":                                               1,
		"SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL":               1,
		"SELECT COUNT(*) FROM audit_entries WHERE action = 'account.bootstrapped'": 1,
	} {
		if n := c.count(q); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	for _, r := range c.reps {
		h := do(t, http.DefaultClient, "GET", r.base, "/api/v1/me", "", key, nil, "")
		if h.status != http.StatusOK {
			t.Errorf("the API key on replica %d: %d %s", r.n, h.status, h.body)
		}
	}
}

// api calls the JSON API through the proxy with the first-start key.
type api struct {
	t   *testing.T
	c   *cluster
	key string
}

func (a *api) call(method, path string, body any, want int) map[string]any {
	a.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	h := do(a.t, http.DefaultClient, method, a.c.proxy, path, "", a.key, rd, "application/json")
	if h.status != want {
		a.t.Fatalf("%s %s: %d %s", method, path, h.status, h.body)
	}
	m := map[string]any{}
	json.Unmarshal([]byte(h.body), &m)
	return m
}

// with is a for the (sub)test t.
func (a *api) with(t *testing.T) *api { return &api{t: t, c: a.c, key: a.key} }

// invite makes an invitation to a new room and returns its token path
// (/i/TOKEN) and the invitee's email.
func (a *api) invite(maxUses int, email string) string {
	a.t.Helper()
	room := a.call("POST", "/api/v1/resources", map[string]any{"type": "room", "title": "Room for " + email}, http.StatusCreated)
	inv := a.call("POST", "/api/v1/resources/"+room["id"].(string)+"/invitations",
		map[string]any{"email": email, "first_name": "Guest", "last_name": "Person", "role": "viewer", "max_uses": maxUses}, http.StatusCreated)
	u, err := url.Parse(inv["link"].(string))
	if err != nil {
		a.t.Fatal(err)
	}
	return u.Path
}

// browser is a client with its own cookies that does not follow redirects.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 4}}
}

func form(v url.Values) *strings.Reader { return strings.NewReader(v.Encode()) }

const formType = "application/x-www-form-urlencoded"

// redeemAll has n clients, each with its own address and cookies, press
// the link's button at once through the proxy; it returns the answers'
// counts by status and refusal code.
func redeemAll(t *testing.T, c *cluster, link, email string, n int) map[string]int {
	var mu sync.Mutex
	out := map[string]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			b := browser()
			<-gate
			h := do(t, b, "POST", c.proxy, link, fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), "", form(url.Values{"email": {email}}), formType)
			k := fmt.Sprint(h.status)
			if h.status != http.StatusSeeOther {
				k += " " + h.code()
			}
			mu.Lock()
			out[k]++
			mu.Unlock()
		})
	}
	close(gate)
	wg.Wait()
	return out
}

func testRedeemAcross(t *testing.T, a *api) {
	a = a.with(t)
	before := a.c.servedCounts()
	once := a.invite(1, "once@guest.test")
	got := redeemAll(t, a.c, once, "once@guest.test", 150)
	t.Logf("1-use link, 150 clients: %v", got)
	if got["303"] != 1 || got["409 used_on_another_device"]+got["409 invite_used"] != 149 {
		t.Fatalf("1-use link pressed by 150 clients: %v; want one entry and 149 refusals", got)
	}
	ten := a.invite(10, "ten@guest.test")
	got = redeemAll(t, a.c, ten, "ten@guest.test", 150)
	t.Logf("10-use link, 150 clients: %v", got)
	if got["303"] != 10 || got["409 used_on_another_device"]+got["409 invite_used"] != 140 {
		t.Fatalf("10-use link pressed by 150 clients: %v; want ten entries and 140 refusals", got)
	}
	if n := a.c.count("SELECT COUNT(*) FROM invitations WHERE uses > max_uses"); n != 0 {
		t.Fatalf("%d invitations used beyond their limit", n)
	}
	after := a.c.servedCounts()
	for _, r := range a.c.reps {
		if after[r.n]-before[r.n] < 50 {
			t.Fatalf("replica %d answered %d of the 300 presses: the load was not spread", r.n, after[r.n]-before[r.n])
		}
	}
}

func testDeviceAcross(t *testing.T, a *api) {
	a = a.with(t)
	link := a.invite(1, "bound@guest.test")
	reps := a.c.reps
	mine, other := browser(), browser()
	if h := do(t, mine, "POST", reps[0].base, link, "", "", form(url.Values{"email": {"bound@guest.test"}}), formType); h.status != http.StatusSeeOther {
		t.Fatalf("first entry on replica 0: %d %s", h.status, h.code())
	}
	for _, r := range reps[1:] {
		if h := do(t, mine, "POST", r.base, link, "", "", form(url.Values{"email": {"bound@guest.test"}}), formType); h.status != http.StatusSeeOther {
			t.Fatalf("the bound device on replica %d: %d %s", r.n, h.status, h.code())
		}
		if h := do(t, other, "POST", r.base, link, "", "", form(url.Values{"email": {"bound@guest.test"}}), formType); h.status != http.StatusConflict || h.code() != "used_on_another_device" {
			t.Fatalf("another device on replica %d: %d %q", r.n, h.status, h.code())
		}
	}
}

func testSessionsAcross(t *testing.T, a *api) {
	a = a.with(t)
	reps := a.c.reps
	// The sign-in link replica 0 printed at start, used on replica 1; the
	// console session it opens, on replica 2.
	link, err := url.Parse(lastField(reps[0].printed["Sign in as"]))
	if err != nil || !strings.HasPrefix(link.Path, "/l/") {
		t.Fatalf("replica 0 printed no sign-in link: %q", reps[0].printed["Sign in as"])
	}
	b := browser()
	if h := do(t, b, "POST", reps[1].base, link.Path, "", "", nil, formType); h.status != http.StatusSeeOther {
		t.Fatalf("sign-in link of replica 0 on replica 1: %d %s", h.status, h.code())
	}
	for _, r := range []*replica{reps[2], reps[0]} {
		if h := do(t, b, "GET", r.base, "/console", "", "", nil, ""); h.status != http.StatusOK || !strings.Contains(h.body, "owner@org.test") {
			t.Fatalf("console session of replica 1 on replica %d: %d %s", r.n, h.status, tail(h.body, 300))
		}
	}
	if h := do(t, browser(), "GET", reps[2].base, "/console", "", "", nil, ""); h.status == http.StatusOK {
		t.Fatal("the console opened without a session")
	}
	if h := do(t, browser(), "POST", reps[2].base, link.Path, "", "", nil, formType); h.status == http.StatusSeeOther {
		t.Fatal("the used sign-in link signed in again on replica 2")
	}

	// An event site session: a login link made on replica 0, used on
	// replica 1, the session it opens used on replicas 2 and 0.
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	ev := a.call("POST", "/api/v1/events", map[string]any{"name": "Replica summit", "slug": "replica-summit",
		"starts_at": start, "ends_at": start.Add(2 * time.Hour), "time_zone": "Europe/Paris"}, http.StatusCreated)
	evID := ev["id"].(string)
	at := a.call("POST", "/api/v1/events/"+evID+"/attendees", map[string]any{"email": "rae@guest.test", "first_name": "Rae", "last_name": "Gist"}, http.StatusCreated)
	h := do(t, http.DefaultClient, "POST", reps[0].base, "/api/v1/events/"+evID+"/attendees/"+at["id"].(string)+"/actions/generate_login_link", "", a.key, nil, "application/json")
	var issued struct{ URL string }
	if json.Unmarshal([]byte(h.body), &issued); h.status != http.StatusOK || issued.URL == "" {
		t.Fatalf("login link on replica 0: %d %s", h.status, h.body)
	}
	siteLink, _ := url.Parse(issued.URL)
	site := browser()
	if h := do(t, site, "POST", reps[1].base, siteLink.Path, "", "", nil, formType); h.status != http.StatusSeeOther {
		t.Fatalf("event login link of replica 0 on replica 1: %d %s", h.status, h.code())
	}
	for _, r := range []*replica{reps[2], reps[0]} {
		if h := do(t, site, "POST", r.base, "/e/replica-summit/visit", "", "", nil, formType); h.status != http.StatusSeeOther {
			t.Fatalf("event site session of replica 1 on replica %d: %d %s", r.n, h.status, h.code())
		}
	}
	if h := do(t, browser(), "POST", reps[2].base, "/e/replica-summit/visit", "", "", nil, formType); h.status != http.StatusUnauthorized {
		t.Fatalf("a visit without a session: %d %s", h.status, h.code())
	}
	if n := a.c.count("SELECT COUNT(*) FROM visits WHERE event_id = ?", evID); n != 2 {
		t.Errorf("%d visits recorded, want 2", n)
	}
}

func testGuessesAcross(t *testing.T, a *api) {
	a = a.with(t)
	c := a.c
	wrong := form(url.Values{"email": {"nobody@guest.test"}})
	// Per invitation: wrong guesses from different clients, spread over the
	// replicas by the proxy, count together.
	link := a.invite(1, "guarded@guest.test")
	for i := range replicaGuessesLink {
		wrong = form(url.Values{"email": {"nobody@guest.test"}})
		if h := do(t, browser(), "POST", c.proxy, link, fmt.Sprintf("10.2.0.%d", i+1), "", wrong, formType); h.status == http.StatusSeeOther || h.status == http.StatusTooManyRequests {
			t.Fatalf("wrong guess %d: %d %s", i+1, h.status, h.code())
		}
	}
	h := do(t, browser(), "POST", c.proxy, link, "10.2.1.1", "", form(url.Values{"email": {"guarded@guest.test"}}), formType)
	if h.status != http.StatusTooManyRequests || h.code() != "too_many_attempts" {
		t.Fatalf("after %d wrong guesses on three replicas, the right email: %d %q", replicaGuessesLink, h.status, h.code())
	}

	// Per client: one client's wrong guesses on different links, spread
	// over the replicas, count together; the limit goes by the client's
	// address in X-Forwarded-For, not the proxy's.
	links := make([]string, replicaGuessesMin+2)
	for i := range links {
		links[i] = a.invite(1, fmt.Sprintf("g%d@guest.test", i))
	}
	for i := range replicaGuessesMin {
		h := do(t, browser(), "POST", c.proxy, links[i], "10.3.0.1", "", form(url.Values{"email": {"nobody@guest.test"}}), formType)
		if h.status == http.StatusSeeOther || h.status == http.StatusTooManyRequests {
			t.Fatalf("client's wrong guess %d: %d %s", i+1, h.status, h.code())
		}
	}
	h = do(t, browser(), "POST", c.proxy, links[replicaGuessesMin], "10.3.0.1", "", form(url.Values{"email": {"nobody@guest.test"}}), formType)
	if h.status != http.StatusTooManyRequests || h.code() != "too_many_attempts" {
		t.Fatalf("the client's guess after %d wrong ones on three replicas: %d %q", replicaGuessesMin, h.status, h.code())
	}
	h = do(t, browser(), "POST", c.proxy, links[replicaGuessesMin+1], "10.3.0.2", "", form(url.Values{"email": {fmt.Sprintf("g%d@guest.test", replicaGuessesMin+1)}}), formType)
	if h.status != http.StatusSeeOther {
		t.Fatalf("another client behind the same proxy: %d %q (limited by the proxy's address?)", h.status, h.code())
	}
}

func testScheduleAcross(t *testing.T, c *cluster) {
	type run struct {
		Tick    time.Time
		Replica string
	}
	runs := func(since time.Time) []run {
		var out []run
		if err := c.db.R.Raw("SELECT tick, replica FROM plugin_runs WHERE plugin = 'brand' AND trigger = 'schedule' AND tick >= ? ORDER BY tick", since).Scan(&out).Error; err != nil {
			t.Fatal(err)
		}
		return out
	}
	// once checks that every 2 s tick in [from, to) ran exactly once.
	once := func(from, to time.Time) []run {
		t.Helper()
		got := runs(from)
		byTick := map[time.Time]int{}
		for _, r := range got {
			if r.Tick.Before(to) {
				byTick[r.Tick.UTC()]++
			}
		}
		for tick := from.Truncate(2 * time.Second).Add(2 * time.Second); tick.Add(2 * time.Second).Before(to); tick = tick.Add(2 * time.Second) {
			if byTick[tick] != 1 {
				t.Fatalf("tick %s ran %d times with the replicas up (runs: %v)", tick.Format(time.TimeOnly), byTick[tick], got)
			}
		}
		return got
	}
	from := time.Now().UTC()
	time.Sleep(9 * time.Second)
	got := once(from, time.Now().UTC())
	replicas := map[string]bool{}
	for _, r := range got {
		replicas[r.Replica] = true
	}
	t.Logf("%d ticks in 9 s, run by %d replica(s)", len(got), len(replicas))

	// Kill the replica that holds the job's lock (it ran the last tick).
	last := got[len(got)-1]
	r := c.byPID(pidOf(last.Replica))
	if r == nil {
		t.Fatalf("no running replica is %q", last.Replica)
	}
	c.kill(r, syscall.SIGKILL)
	killed := time.Now().UTC()
	time.Sleep(7 * time.Second)
	after := once(killed, time.Now().UTC())
	for _, x := range after {
		if x.Replica == last.Replica {
			t.Fatalf("the killed replica %s ran tick %s", x.Replica, x.Tick)
		}
	}
	t.Logf("after killing replica %d (%s): %d ticks in 7 s by the others", r.n, last.Replica, len(after))
	c.restart(r)
}

// enqueue queues n messages to the SMTP server of the test, in one
// transaction, and returns their Message-IDs.
func enqueue(t *testing.T, db *store.DB, batch string, n int) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			m, err := mail.Enqueue(tx, "replicas.test", mail.NewMessage{
				AccountID: "acct", Template: "test", Locale: "en", ToEmail: fmt.Sprintf("%s-%d@replicas.test", batch, i),
				Rendered: mail.Rendered{Subject: fmt.Sprintf("%s %d", batch, i), Text: "hello", HTML: "<p>hello</p>"}, RefKind: "test",
			}, time.Now().UTC())
			if err != nil {
				return err
			}
			ids[m.MessageID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// received counts the arrivals of each of ids at the SMTP server.
func received(md *mailtest.Maildev, ids map[string]bool) map[string]int {
	out := map[string]int{}
	for _, r := range md.Messages() {
		if id := "<" + r.MessageID + ">"; ids[id] {
			out[id]++
		}
	}
	return out
}

// waitSent waits until no message of the batch is queued or being sent.
func waitSent(t *testing.T, c *cluster, batch string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		open := c.count("SELECT COUNT(*) FROM mail_messages WHERE to_email LIKE ? AND status IN (?, ?)", batch+"-%", mail.Queued, mail.Sending)
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages of %s still unsent after %s", open, batch, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// arrivals checks that each of ids arrived, and returns how many arrived
// more than once.
func arrivals(t *testing.T, md *mailtest.Maildev, ids map[string]bool) int {
	t.Helper()
	var got map[string]int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = received(md, ids)
		if len(got) == len(ids) || time.Now().After(deadline) {
			break
		}
	}
	if len(got) != len(ids) {
		t.Fatalf("%d of %d messages arrived", len(got), len(ids))
	}
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	return dups
}

// sendingOn waits until a replica's workers hold claimed messages of the
// batch and at least min of it were sent, and returns that replica.
func sendingOn(t *testing.T, c *cluster, batch string, min int64) *replica {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c.count("SELECT COUNT(*) FROM mail_messages WHERE to_email LIKE ? AND status = ?", batch+"-%", mail.Sent) < min {
			continue
		}
		var worker string
		c.db.R.Raw("SELECT claimed_by FROM mail_messages WHERE to_email LIKE ? AND status = ? LIMIT 1", batch+"-%", mail.Sending).Scan(&worker)
		if r := c.byPID(pidOf(worker)); r != nil {
			return r
		}
	}
	t.Fatalf("no replica was sending %s", batch)
	return nil
}

func testOutboxAcross(t *testing.T, c *cluster, md *mailtest.Maildev) {
	const n = 2000
	at := time.Now()
	ids := enqueue(t, c.db, "calm", n)
	waitSent(t, c, "calm", 2*time.Minute)
	if dups := arrivals(t, md, ids); dups != 0 {
		t.Fatalf("%d of %d messages arrived twice with every replica up", dups, n)
	}
	var senders int64
	c.db.R.Raw("SELECT COUNT(DISTINCT split_part(claimed_by, '/', 1)) FROM mail_messages WHERE to_email LIKE 'calm-%'").Scan(&senders)
	t.Logf("%d messages sent once each by %d replicas in %s", n, senders, time.Since(at).Round(time.Millisecond))
	if senders != 3 {
		t.Fatalf("%d replicas sent the messages, want 3", senders)
	}

	// SIGKILL mid-send: the dead replica's claims run out (lease 4s) and
	// the others send them; only what was in flight there may repeat.
	ids = enqueue(t, c.db, "kill", n)
	r := sendingOn(t, c, "kill", 300)
	c.kill(r, syscall.SIGKILL)
	inFlight := c.count("SELECT COUNT(*) FROM mail_messages WHERE to_email LIKE 'kill-%' AND status = ? AND claimed_by LIKE ?", mail.Sending, fmt.Sprintf("%%:%d/%%", r.cmd.Process.Pid))
	waitSent(t, c, "kill", 2*time.Minute)
	dups := arrivals(t, md, ids)
	t.Logf("SIGKILL of replica %d mid-send: %d of its claimed messages left in flight, %d messages arrived twice (bound: batch size %d)", r.n, inFlight, dups, replicaMailBatch)
	if dups > replicaMailBatch || int64(dups) > inFlight {
		t.Fatalf("%d repeats after the kill; at most the %d in flight, and the batch size %d", dups, inFlight, replicaMailBatch)
	}
	c.restart(r)

	// SIGTERM mid-send: the replica finishes the message it sends and
	// returns the rest of its claims at once, not after the lease.
	ids = enqueue(t, c.db, "term", n/2)
	r = sendingOn(t, c, "term", 100)
	pid := r.cmd.Process.Pid
	c.kill(r, syscall.SIGTERM)
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("replica %d exited %d after SIGTERM", r.n, code)
	}
	if held := c.count("SELECT COUNT(*) FROM mail_messages WHERE status = ? AND claimed_by LIKE ?", mail.Sending, fmt.Sprintf("%%:%d/%%", pid)); held != 0 {
		t.Fatalf("%d messages still claimed by replica %d after its graceful stop", held, r.n)
	}
	waitSent(t, c, "term", 2*time.Minute)
	if dups := arrivals(t, md, ids); dups != 0 {
		t.Fatalf("%d messages arrived twice after a graceful stop", dups)
	}
	c.restart(r)
}

func testBulkAcross(t *testing.T, a *api) {
	a = a.with(t)
	const rows = 100_000
	c := a.c
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Minute)
	ev := a.call("POST", "/api/v1/events", map[string]any{"name": "Bulk summit", "slug": "bulk-summit",
		"starts_at": start, "ends_at": start.Add(2 * time.Hour), "time_zone": "Europe/Paris"}, http.StatusCreated)
	evID := ev["id"].(string)
	var csv bytes.Buffer
	csv.WriteString("Email,First Name,Last Name,Title,Company,Speaker,Moderator\r\n")
	for i := range rows {
		fmt.Fprintf(&csv, "bulk%06d@example.org,First%d,Last%d,,,No,No\r\n", i, i, i)
	}
	h := do(t, http.DefaultClient, "POST", c.proxy, "/api/v1/events/"+evID+"/bulk-invites", "", a.key, &csv, "text/csv")
	if h.status/100 != 2 {
		t.Fatalf("upload: %d %s", h.status, tail(h.body, 500))
	}
	var answer struct{ Job struct{ ID, Status string } }
	json.Unmarshal([]byte(h.body), &answer)
	up := answer.Job
	jobAt := func() job.Job {
		var j job.Job
		if err := c.db.R.Where("id = ?", up.ID).Take(&j).Error; err != nil {
			t.Fatal(err)
		}
		return j
	}
	waitFor := func(what string, within time.Duration, ok func(job.Job) bool) job.Job {
		t.Helper()
		for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
			j := jobAt()
			if ok(j) {
				return j
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s: %+v", what, within, j)
			}
		}
	}
	waitFor("the check", time.Minute, func(j job.Job) bool { return j.Status == job.Ready })
	a.call("POST", "/api/v1/events/"+evID+"/bulk-invites/"+up.ID+"/confirm", map[string]any{"send_email": false}, http.StatusAccepted)
	imported := time.Now()

	// SIGTERM the replica running it: the lease is given back at once and
	// another replica goes on.
	j := waitFor("a runner", time.Minute, func(j job.Job) bool { return j.Status == job.Running && j.Processed >= 10_000 })
	r := c.byPID(pidOf(j.Runner))
	if r == nil {
		t.Fatalf("no replica runs the job (runner %q)", j.Runner)
	}
	c.kill(r, syscall.SIGTERM)
	left := jobAt()
	termAt := time.Now()
	if left.Finished() || left.Status != job.Running || left.LeaseUntil != nil || left.Runner != "" {
		t.Fatalf("after SIGTERM of its runner, the job: status %s runner %q lease %v", left.Status, left.Runner, left.LeaseUntil)
	}
	j = waitFor("another runner after SIGTERM", 5*time.Second, func(j job.Job) bool { return j.Runner != "" && j.Runner != left.Runner })
	t.Logf("SIGTERM of replica %d at %d rows; replica with runner %s went on after %s", r.n, left.Processed, j.Runner, time.Since(termAt).Round(time.Millisecond))
	c.restart(r)

	// SIGKILL the replica running it now: its lease runs out and another
	// replica resumes from the last step.
	j = waitFor("progress", 2*time.Minute, func(j job.Job) bool { return j.Processed >= left.Processed+10_000 || j.Finished() })
	if j.Finished() {
		t.Fatalf("the import ended before the SIGKILL: nothing tested")
	}
	r = c.byPID(pidOf(j.Runner))
	if r == nil {
		t.Fatalf("no replica runs the job (runner %q)", j.Runner)
	}
	c.kill(r, syscall.SIGKILL)
	killed := jobAt()
	t.Logf("SIGKILL of replica %d at %d rows", r.n, killed.Processed)
	done := waitFor("the end", 3*time.Minute, func(j job.Job) bool { return j.Finished() })
	if done.Runner == killed.Runner {
		t.Fatalf("the killed runner %s finished the job", done.Runner)
	}
	t.Logf("import of %d rows done %s after confirming, claimed %d times", rows, time.Since(imported).Round(time.Millisecond), done.Attempts)
	want := fmt.Sprintf(`{"added":%d,"updated":0,"unchanged":0,"refused":0}`, rows)
	if done.Status != job.Done || done.Processed != rows || string(done.Counts) != want || done.Attempts < 3 {
		t.Fatalf("job ended %s: %d rows, counts %s, %d claims, error %q", done.Status, done.Processed, done.Counts, done.Attempts, done.Error)
	}
	if n := c.count("SELECT COUNT(*) FROM attendees WHERE event_id = ?", evID); n != rows {
		t.Fatalf("%d attendees, want %d", n, rows)
	}
	if n := c.count("SELECT COUNT(DISTINCT email) FROM attendees WHERE event_id = ?", evID); n != rows {
		t.Fatalf("%d distinct attendees, want %d", n, rows)
	}
	// The report the organizer reads, from a replica that did not finish it.
	rep := a.call("GET", "/api/v1/jobs/"+up.ID, nil, http.StatusOK)
	counts, _ := rep["counts"].(map[string]any)
	if rep["status"] != job.Done || rep["finished"] != true || rep["processed"] != float64(rows) || counts["added"] != float64(rows) || counts["refused"] != float64(0) {
		t.Fatalf("the job's report: %v", rep)
	}
	c.restart(r)
}
