package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// caller calls a running gateway's API as a client does: with the API key,
// or with a console session's cookies.
type caller struct {
	t      *testing.T
	base   string
	key    string
	client *http.Client
}

// reply is an answer, its body read.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer (%d) is not a JSON object: %s", r.status, r.body)
	}
	return m
}

func (r reply) code() string {
	var b struct {
		Error struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	json.Unmarshal(r.body, &b)
	if b.Error.Field != "" {
		return b.Error.Code + "/" + b.Error.Field
	}
	return b.Error.Code
}

func (c *caller) do(method, path string, body any) reply {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	return c.send(req)
}

func (c *caller) send(req *http.Request) reply {
	c.t.Helper()
	client := c.client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

func (c *caller) must(r reply, status int) reply {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

func (c *caller) form(path string, v url.Values) reply {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.send(req)
}

// member adds a console member and signs them in through a sign-in link.
func (c *caller) member(email string) *caller {
	c.t.Helper()
	u := c.must(c.do("POST", "/api/v1/users", map[string]any{"email": email, "first_name": "M", "last_name": "Ember", "console_role": "member"}), http.StatusCreated).object(c.t)
	link := c.must(c.do("POST", "/api/v1/users/"+u["id"].(string)+"/login-links", nil), http.StatusCreated).object(c.t)["link"].(string)
	jar, _ := cookiejar.New(nil)
	m := &caller{t: c.t, base: c.base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if r := m.form(strings.TrimPrefix(link, c.base), nil); r.status != http.StatusSeeOther {
		c.t.Fatalf("sign in: %d %s", r.status, r.body)
	}
	return m
}

// invite creates a viewer link to the resource for a guest and returns its path.
func (c *caller) invite(resourceID, email, first string) string {
	c.t.Helper()
	r := c.must(c.do("POST", "/api/v1/resources/"+resourceID+"/invitations", map[string]any{"email": email, "first_name": first, "last_name": "Guest", "role": "viewer"}), http.StatusCreated)
	return strings.TrimPrefix(r.object(c.t)["link"].(string), c.base)
}

// roomsConfig is gateway.yaml declaring the static-rooms plugin with rooms.
func roomsConfig(bin, sum string, rooms ...map[string]any) string {
	cfg, _ := json.Marshal(map[string]any{
		"plugins": []any{map[string]any{"name": "rooms", "kind": "roomadapter", "path": bin, "sha256": sum, "config": map[string]any{
			"join_url": "https://video.example.org/join/{resource}?role={role}", "rooms": rooms,
		}}},
	})
	return string(cfg) // JSON is YAML
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// TestRoomAdapterResources runs `gateway serve` with the real static-rooms
// plugin: an integrator links the platform's rooms (once each, however
// often); the invite dialog's autocomplete offers the roster; the invite
// page follows the platform's schedule and says a room the platform no
// longer has was deleted, writing nothing; and when the plugin cannot
// start, pages still work on the stored values.
func TestRoomAdapterResources(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { testRoomAdapterResources(t, d, bin, sum) })
	}
}

func testRoomAdapterResources(t *testing.T, dialect, bin, sum string) {
	dir := t.TempDir()
	env := []string{"GATEWAY_DATABASE_DSN=" + storetest.DSN(t, dialect), "GATEWAY_ADMIN_EMAIL=owner@org.test", "GATEWAY_LISTEN=" + freeAddr(t)}
	cfgPath := filepath.Join(dir, "gateway.yaml")
	serve := func(config string) *started {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		return startGatewayIn(t, dir, env...)
	}
	stop := func(g *started) {
		t.Helper()
		g.cmd.Process.Signal(syscall.SIGTERM)
		g.cmd.Wait()
	}
	start1 := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	bio := map[string]any{"id": "bio-101", "type": "room", "title": "Biology 101", "starts_at": rfc(start1),
		"lti_contexts": []any{"ctx-bio"}, "collaborators": map[string]any{"olga@org.test": "co-owner"},
		"roster": []any{map[string]any{"email": "sam@uni.test", "name": "Sam Ortiz"}, map[string]any{"email": "ola@uni.test", "name": "Ola Sam"}, map[string]any{"email": "zed@uni.test", "name": "Zed"}}}
	hall := map[string]any{"id": "town-hall", "type": "live", "title": "Town hall"}

	g := serve(roomsConfig(bin, sum, bio, hall))
	admin := &caller{t: t, base: g.base, key: lastField(g.lines["API key"])}

	// Linking: 201 the first time, then 200 with the same resource, by
	// its platform id or its LTI context.
	first := admin.must(admin.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusCreated).object(t)
	rid := first["id"].(string)
	if first["created"] != true || first["adapter"] != "rooms" || first["external_id"] != "bio-101" || first["title"] != "Biology 101" ||
		first["type"] != "room" || first["starts_at"] != rfc(start1) {
		t.Fatalf("linked %v", first)
	}
	again := admin.must(admin.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "context_id": "ctx-bio"}), http.StatusOK).object(t)
	if again["id"] != rid || again["created"] != false {
		t.Fatalf("linked again %v", again)
	}
	hallID := admin.must(admin.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "resource_id": "town-hall"}), http.StatusCreated).object(t)["id"].(string)
	if r := admin.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "resource_id": "chem-1"}); r.status != http.StatusNotFound || r.code() != "platform_resource_not_found" || !bytes.Contains(r.body, []byte(`no room \"chem-1\"`)) {
		t.Fatalf("unknown room: %d %s", r.status, r.body)
	}
	if r := admin.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "zoom", "resource_id": "bio-101"}); r.status != http.StatusBadRequest || r.code() != "room_adapter_unknown/adapter" {
		t.Fatalf("unknown adapter: %d %s", r.status, r.body)
	}

	// Members: the one the platform makes co-owner links and may invite;
	// one it gives no role may not.
	olga := admin.member("olga@org.test")
	if r := olga.must(olga.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusOK).object(t); r["id"] != rid || r["my_role"] != "co_owner" {
		t.Fatalf("co-owner's link: %v", r)
	}
	bob := admin.member("bob@org.test")
	if r := bob.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "resource_id": "bio-101"}); r.status != http.StatusForbidden || r.code() != "no_platform_role" {
		t.Fatalf("member without a role: %d %s", r.status, r.body)
	}
	if r := bob.do("GET", "/api/v1/users?q=sa&resource_id="+rid, nil); r.status != http.StatusNotFound || r.code() != "not_found/resource_id" {
		t.Fatalf("autocomplete of a resource bob cannot see: %d %s", r.status, r.body)
	}

	// The invite dialog: the account's people and the room's roster, once
	// each, by email.
	countdown := olga.invite(rid, "sally@org.test", "Sally")
	var sug struct {
		Users []struct {
			ID        string `json:"id"`
			Email     string `json:"email"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			Source    string `json:"source"`
		} `json:"users"`
		Unavailable bool `json:"roster_unavailable"`
	}
	if err := json.Unmarshal(olga.must(olga.do("GET", "/api/v1/users?q=sa&limit=5&resource_id="+rid, nil), http.StatusOK).body, &sug); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, u := range sug.Users {
		got += fmt.Sprintf("%s %s/%s %s %v; ", u.Email, u.FirstName, u.LastName, u.Source, u.ID != "")
	}
	if want := "ola@uni.test Ola/Sam roster false; sally@org.test Sally/Guest account true; sam@uni.test Sam/Ortiz roster false; "; got != want || sug.Unavailable {
		t.Fatalf("suggestions %q, want %q", got, want)
	}

	// The invite page counts down to the platform's start.
	page := admin.must(admin.do("GET", countdown, nil), http.StatusOK)
	if !bytes.Contains(page.body, []byte(`data-countdown-to="`+rfc(start1)+`"`)) {
		t.Fatalf("countdown page: %s", page.body)
	}
	hallLink := admin.invite(hallID, "hall@org.test", "Hal")
	stop(g)

	// The platform moved the course to an hour ago and renamed it, and no
	// longer has the town hall.
	start2 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	bio["starts_at"], bio["title"] = rfc(start2), "Biology 101 (spring)"
	g = serve(roomsConfig(bin, sum, bio))
	admin.base = g.base
	audits := len(admin.must(admin.do("GET", "/api/v1/audit?limit=1000", nil), http.StatusOK).object(t)["entries"].([]any))
	if r := admin.must(admin.do("GET", countdown, nil), http.StatusOK); !bytes.Contains(r.body, []byte(`data-state="lobby"`)) {
		t.Fatalf("the link does not follow the platform's start: %s", r.body)
	}
	if r := admin.do("GET", hallLink, nil); r.status != http.StatusGone || !bytes.Contains(r.body, []byte(`data-error-code="resource_deleted"`)) {
		t.Fatalf("link to a room the platform no longer has: %d %s", r.status, r.body)
	}
	// Opening the links wrote nothing: the stored schedule and the town
	// hall are as they were, and the audit log has nothing new.
	if r := admin.must(admin.do("GET", "/api/v1/resources/"+rid, nil), http.StatusOK).object(t); r["starts_at"] != rfc(start1) || r["title"] != "Biology 101" {
		t.Fatalf("opening a link changed the resource: %v", r)
	}
	admin.must(admin.do("GET", "/api/v1/resources/"+hallID, nil), http.StatusOK)
	if n := len(admin.must(admin.do("GET", "/api/v1/audit?limit=1000", nil), http.StatusOK).object(t)["entries"].([]any)); n != audits {
		t.Fatalf("opening links wrote %d audit entries", n-audits)
	}
	// The guest enters the platform's room through its join URL.
	guest := &caller{t: t, base: g.base}
	r := guest.form(countdown, url.Values{"email": {"sally@org.test"}})
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://video.example.org/join/bio-101?") || !strings.Contains(loc, "jt=") {
		t.Fatalf("enter: %d %s %s", r.status, loc, r.body)
	}
	if r := guest.form(hallLink, url.Values{"email": {"hall@org.test"}}); r.status != http.StatusGone {
		t.Fatalf("redeeming a link to a room the platform no longer has: %d %s", r.status, r.body)
	}
	// Linking again brings the platform's changes in.
	if r := admin.must(admin.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusOK).object(t); r["title"] != "Biology 101 (spring)" || r["starts_at"] != rfc(start2) {
		t.Fatalf("relinked after the platform's change: %v", r)
	}
	lobby := admin.invite(rid, "late@org.test", "Lee")
	stop(g)

	// The plugin cannot start (its binary is not the one the config
	// vouches for): pages work on the stored values, with a warning in the
	// log; the link says the adapter is unavailable.
	g = serve(roomsConfig(bin, strings.Repeat("0", 64), bio))
	admin.base, olga.base = g.base, g.base
	if r := admin.must(admin.do("GET", lobby, nil), http.StatusOK); !bytes.Contains(r.body, []byte(`data-state="lobby"`)) {
		t.Fatalf("invite page with the adapter down: %s", r.body)
	}
	if r := admin.do("POST", "/api/v1/resources/link", map[string]any{"adapter": "rooms", "resource_id": "bio-101"}); r.status != http.StatusServiceUnavailable || r.code() != "room_adapter_unavailable" {
		t.Fatalf("link with the adapter down: %d %s", r.status, r.body)
	}
	sug.Users = nil
	if err := json.Unmarshal(olga.must(olga.do("GET", "/api/v1/users?q=sa&resource_id="+rid, nil), http.StatusOK).body, &sug); err != nil {
		t.Fatal(err)
	}
	if len(sug.Users) != 1 || sug.Users[0].Email != "sally@org.test" || !sug.Unavailable {
		t.Fatalf("suggestions with the adapter down: %+v", sug)
	}
	logs, _ := os.ReadFile(g.logPath)
	if !bytes.Contains(logs, []byte("room adapter not available; the stored schedule is used")) {
		t.Fatalf("no warning in the log:\n%s", tail(string(logs), 4000))
	}
}
