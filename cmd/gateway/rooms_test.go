package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// member adds a console member and signs them in through a sign-in link,
// returning their browser.
func member(e *apitest.Env, email string) *http.Client {
	e.T.Helper()
	u := e.Must(e.Do("POST", "/api/v1/users", e.APIKey, map[string]any{"email": email, "first_name": "M", "last_name": "Ember", "console_role": "member"}), http.StatusCreated).Map(e.T)
	link := e.Must(e.Do("POST", "/api/v1/users/"+u["id"].(string)+"/login-links", e.APIKey, nil), http.StatusCreated).Map(e.T)["link"].(string)
	b := e.Client()
	if r := e.Form(b, strings.TrimPrefix(link, e.URL), nil); r.Status != http.StatusSeeOther {
		e.T.Fatalf("sign in: %d %s", r.Status, r.Body)
	}
	return b
}

// invite creates a viewer link to the resource for a guest, as the
// signed-in browser b (nil: with the API key), and returns its path.
func invite(e *apitest.Env, b *http.Client, resourceID, email, first string) string {
	e.T.Helper()
	body := map[string]any{"email": email, "first_name": first, "last_name": "Guest", "role": "viewer"}
	path := "/api/v1/resources/" + resourceID + "/invitations"
	var r *apitest.Response
	if b == nil {
		r = e.Do("POST", path, e.APIKey, body)
	} else {
		r = e.Call(b, "POST", path, "", body)
	}
	return strings.TrimPrefix(e.Must(r, http.StatusCreated).Map(e.T)["link"].(string), e.URL)
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
	e := &apitest.Env{T: t, URL: g.base, APIKey: lastField(g.lines["API key"])}

	// Linking: 201 the first time, then 200 with the same resource, by
	// its platform id or its LTI context.
	first := e.Must(e.Do("POST", "/api/v1/resources/link", e.APIKey, map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusCreated).Map(t)
	rid := first["id"].(string)
	if first["created"] != true || first["adapter"] != "rooms" || first["external_id"] != "bio-101" || first["title"] != "Biology 101" ||
		first["type"] != "room" || first["starts_at"] != rfc(start1) {
		t.Fatalf("linked %v", first)
	}
	again := e.Must(e.Do("POST", "/api/v1/resources/link", e.APIKey, map[string]any{"adapter": "rooms", "context_id": "ctx-bio"}), http.StatusOK).Map(t)
	if again["id"] != rid || again["created"] != false {
		t.Fatalf("linked again %v", again)
	}
	hallID := e.Must(e.Do("POST", "/api/v1/resources/link", e.APIKey, map[string]any{"adapter": "rooms", "resource_id": "town-hall"}), http.StatusCreated).Map(t)["id"].(string)
	if r := e.Do("POST", "/api/v1/resources/link", e.APIKey, map[string]any{"adapter": "rooms", "resource_id": "chem-1"}); r.Status != http.StatusNotFound || r.ErrorCode() != "platform_resource_not_found" || r.ErrorField() != "" || !bytes.Contains(r.Body, []byte(`no room \"chem-1\"`)) {
		t.Fatalf("unknown room: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", "/api/v1/resources/link", e.APIKey, map[string]any{"adapter": "zoom", "resource_id": "bio-101"}); r.Status != http.StatusBadRequest || r.ErrorCode() != "room_adapter_unknown" || r.ErrorField() != "adapter" {
		t.Fatalf("unknown adapter: %d %s", r.Status, r.Body)
	}

	// Members: the one the platform makes co-owner links and may invite;
	// one it gives no role may not.
	olga := member(e, "olga@org.test")
	if r := e.Must(e.Call(olga, "POST", "/api/v1/resources/link", "", map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusOK).Map(t); r["id"] != rid || r["my_role"] != "co_owner" {
		t.Fatalf("co-owner's link: %v", r)
	}
	bob := member(e, "bob@org.test")
	if r := e.Call(bob, "POST", "/api/v1/resources/link", "", map[string]any{"adapter": "rooms", "resource_id": "bio-101"}); r.Status != http.StatusForbidden || r.ErrorCode() != "no_platform_role" || r.ErrorField() != "" {
		t.Fatalf("member without a role: %d %s", r.Status, r.Body)
	}
	if r := e.Get(bob, "/api/v1/users?q=sa&resource_id="+rid); r.Status != http.StatusNotFound || r.ErrorCode() != "not_found" || r.ErrorField() != "resource_id" {
		t.Fatalf("autocomplete of a resource bob cannot see: %d %s", r.Status, r.Body)
	}

	// The invite dialog: the account's people and the room's roster, once
	// each, by email.
	countdown := invite(e, olga, rid, "sally@org.test", "Sally")
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
	if err := json.Unmarshal(e.Must(e.Get(olga, "/api/v1/users?q=sa&limit=5&resource_id="+rid), http.StatusOK).Body, &sug); err != nil {
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
	page := e.Must(e.Do("GET", countdown, e.APIKey, nil), http.StatusOK)
	if !bytes.Contains(page.Body, []byte(`data-countdown-to="`+rfc(start1)+`"`)) {
		t.Fatalf("countdown page: %s", page.Body)
	}
	hallLink := invite(e, nil, hallID, "hall@org.test", "Hal")
	stop(g)

	// The platform moved the course to an hour ago and renamed it, and no
	// longer has the town hall.
	start2 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	bio["starts_at"], bio["title"] = rfc(start2), "Biology 101 (spring)"
	g = serve(roomsConfig(bin, sum, bio))
	e.URL = g.base
	audits := len(e.Must(e.Do("GET", "/api/v1/audit?limit=1000", e.APIKey, nil), http.StatusOK).Map(t)["entries"].([]any))
	if r := e.Must(e.Do("GET", countdown, e.APIKey, nil), http.StatusOK); !bytes.Contains(r.Body, []byte(`data-state="lobby"`)) {
		t.Fatalf("the link does not follow the platform's start: %s", r.Body)
	}
	if r := e.Do("GET", hallLink, e.APIKey, nil); r.Status != http.StatusGone || !bytes.Contains(r.Body, []byte(`data-error-code="resource_deleted"`)) {
		t.Fatalf("link to a room the platform no longer has: %d %s", r.Status, r.Body)
	}
	// Opening the links wrote nothing: the stored schedule and the town
	// hall are as they were, and the audit log has nothing new.
	if r := e.Must(e.Do("GET", "/api/v1/resources/"+rid, e.APIKey, nil), http.StatusOK).Map(t); r["starts_at"] != rfc(start1) || r["title"] != "Biology 101" {
		t.Fatalf("opening a link changed the resource: %v", r)
	}
	e.Must(e.Do("GET", "/api/v1/resources/"+hallID, e.APIKey, nil), http.StatusOK)
	if n := len(e.Must(e.Do("GET", "/api/v1/audit?limit=1000", e.APIKey, nil), http.StatusOK).Map(t)["entries"].([]any)); n != audits {
		t.Fatalf("opening links wrote %d audit entries", n-audits)
	}
	// The guest enters the platform's room through its join URL.
	guest := e.Client()
	r := e.Form(guest, countdown, url.Values{"email": {"sally@org.test"}})
	if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://video.example.org/join/bio-101?") || !strings.Contains(loc, "jt=") {
		t.Fatalf("enter: %d %s %s", r.Status, loc, r.Body)
	}
	if r := e.Form(guest, hallLink, url.Values{"email": {"hall@org.test"}}); r.Status != http.StatusGone {
		t.Fatalf("redeeming a link to a room the platform no longer has: %d %s", r.Status, r.Body)
	}
	// Linking again brings the platform's changes in.
	if r := e.Must(e.Do("POST", "/api/v1/resources/link", e.APIKey, map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusOK).Map(t); r["title"] != "Biology 101 (spring)" || r["starts_at"] != rfc(start2) {
		t.Fatalf("relinked after the platform's change: %v", r)
	}
	lobby := invite(e, nil, rid, "late@org.test", "Lee")
	stop(g)

	// The plugin cannot start (its binary is not the one the config
	// vouches for): pages work on the stored values, with a warning in the
	// log; the link says the adapter is unavailable.
	g = serve(roomsConfig(bin, strings.Repeat("0", 64), bio))
	e.URL = g.base
	if r := e.Must(e.Do("GET", lobby, e.APIKey, nil), http.StatusOK); !bytes.Contains(r.Body, []byte(`data-state="lobby"`)) {
		t.Fatalf("invite page with the adapter down: %s", r.Body)
	}
	if r := e.Do("POST", "/api/v1/resources/link", e.APIKey, map[string]any{"adapter": "rooms", "resource_id": "bio-101"}); r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "room_adapter_unavailable" || r.ErrorField() != "" {
		t.Fatalf("link with the adapter down: %d %s", r.Status, r.Body)
	}
	sug.Users = nil
	if err := json.Unmarshal(e.Must(e.Get(olga, "/api/v1/users?q=sa&resource_id="+rid), http.StatusOK).Body, &sug); err != nil {
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
