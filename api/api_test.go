package api_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/store"
)

var errorCodeRE = regexp.MustCompile(`data-error-code="([a-z_]+)"`)

// pageCode is the failure code a page shows, or "".
func pageCode(r *apitest.Response) string {
	m := errorCodeRE.FindSubmatch(r.Body)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func pageState(r *apitest.Response) string {
	m := regexp.MustCompile(`data-state="([a-z]+)"`).FindSubmatch(r.Body)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func tokenOf(link string) string { return strings.TrimPrefix(link, "/i/") }

func TestEveryEndpointRefusesOtherAccounts(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	rid := e.Resource(map[string]any{"type": "room", "title": "A's room"})
	iid, _ := e.Invite(rid, "guest@a.test", "viewer")
	member, _ := e.ConsoleUser("member@a.test", "member")
	_, otherKey := e.SecondAccount()

	cases := []struct{ method, path string }{
		{"GET", "/api/v1/resources/" + rid},
		{"PATCH", "/api/v1/resources/" + rid},
		{"DELETE", "/api/v1/resources/" + rid},
		{"GET", "/api/v1/resources/" + rid + "/collaborators"},
		{"PUT", "/api/v1/resources/" + rid + "/collaborators/" + member.ID},
		{"GET", "/api/v1/resources/" + rid + "/invitations"},
		{"POST", "/api/v1/resources/" + rid + "/invitations"},
		{"GET", "/api/v1/resources/" + rid + "/invitations/" + iid},
		{"DELETE", "/api/v1/resources/" + rid + "/invitations/" + iid},
		{"POST", "/api/v1/resources/" + rid + "/invitations/" + iid + "/resend"},
		{"POST", "/api/v1/users/" + member.ID + "/login-links"},
	}
	bodies := map[string]any{
		"PATCH": map[string]any{"title": "stolen"},
		"PUT":   map[string]any{"role": "co_owner"},
		"POST":  map[string]any{"email": "x@b.test", "first_name": "X", "last_name": "Y", "role": "viewer"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if b, ok := bodies[tc.method]; ok && tc.method != "DELETE" {
				body = b
			}
			if strings.HasSuffix(tc.path, "/resend") || strings.HasSuffix(tc.path, "/login-links") {
				body = nil
			}
			r := e.Do(tc.method, tc.path, otherKey, body)
			if r.Status != http.StatusNotFound {
				t.Fatalf("other account got %d, want 404: %s", r.Status, r.Body)
			}
			if r := e.Do(tc.method, tc.path, "", body); r.Status != http.StatusUnauthorized {
				t.Fatalf("no credentials got %d, want 401", r.Status)
			}
		})
	}
	// Lists and account-wide endpoints show only the caller's own account.
	for _, path := range []string{"/api/v1/resources", "/api/v1/users?q=", "/api/v1/users?console=1", "/api/v1/audit"} {
		r := e.Must(e.Do("GET", path, otherKey, nil), http.StatusOK)
		if strings.Contains(string(r.Body), rid) || strings.Contains(string(r.Body), "a.test") {
			t.Fatalf("%s leaks account A: %s", path, r.Body)
		}
	}
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", otherKey, map[string]any{"enabled": false}), http.StatusOK)
	if r := e.Must(e.Do("GET", "/api/v1/settings/invitations", e.APIKey, nil), http.StatusOK); r.Map(t)["enabled"] != true {
		t.Fatal("another account's settings change reached this account")
	}
	// The resource and invitation survived every attempt.
	got := e.Must(e.Do("GET", "/api/v1/resources/"+rid+"/invitations/"+iid, e.APIKey, nil), http.StatusOK).Map(t)
	if got["status"] != "active" {
		t.Fatalf("invitation was changed by another account: %v", got)
	}
}

func TestMembersActOnlyOnTheirResources(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	adminRoom := e.Resource(map[string]any{"type": "room", "title": "Admin's room"})
	_, mc := e.ConsoleUser("member@org.test", "member")
	send := func(method, path string, body any) *apitest.Response {
		var rd *strings.Reader
		if body != nil {
			rd = strings.NewReader(body.(string))
		} else {
			rd = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, e.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		return e.Send(mc, req)
	}
	if r := send("GET", "/api/v1/resources/"+adminRoom, nil); r.Status != http.StatusNotFound {
		t.Fatalf("member sees a room they do not collaborate on: %d", r.Status)
	}
	// A room one may not see answers exactly as a missing one, on every
	// path under it, so ids cannot be probed.
	inv, _ := e.Invite(adminRoom, "g@x.test", "viewer")
	missing := "0190aaaa-0000-7000-8000-000000000000"
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "", ""}, {"PATCH", "", `{"title":"Mine"}`}, {"DELETE", "", ""},
		{"GET", "/collaborators", ""}, {"PUT", "/collaborators/" + missing, `{"role":"owner"}`},
		{"GET", "/invitations", ""}, {"POST", "/invitations", `{"email":"g@x.test","first_name":"G","last_name":"X"}`},
		{"GET", "/invitations/" + inv, ""}, {"DELETE", "/invitations/" + inv, ""}, {"POST", "/invitations/" + inv + "/resend", `{}`},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		hidden := send(tc.method, "/api/v1/resources/"+adminRoom+tc.path, body)
		gone := send(tc.method, "/api/v1/resources/"+missing+strings.Replace(tc.path, inv, missing, 1), body)
		if hidden.Status != http.StatusNotFound || gone.Status != http.StatusNotFound || hidden.ErrorCode() != gone.ErrorCode() {
			t.Errorf("%s %s: hidden room %d %s, missing room %d %s; want the same 404", tc.method, tc.path, hidden.Status, hidden.ErrorCode(), gone.Status, gone.ErrorCode())
		}
	}
	if r := send("PUT", "/api/v1/settings/invitations", `{"enabled":false}`); r.Status != http.StatusForbidden {
		t.Fatalf("member changed settings: %d", r.Status)
	}
	if r := send("POST", "/api/v1/users", `{"email":"n@x.test","first_name":"N","last_name":"X","console_role":"admin"}`); r.Status != http.StatusForbidden {
		t.Fatalf("member added a user: %d", r.Status)
	}
	// A member's own room: they own it and may invite.
	r := e.Must(send("POST", "/api/v1/resources", `{"type":"webcast","title":"Member's webcast"}`), http.StatusCreated)
	own := r.Map(t)["id"].(string)
	e.Must(send("POST", "/api/v1/resources/"+own+"/invitations", `{"email":"g@x.test","first_name":"G","last_name":"X","role":"moderator"}`), http.StatusCreated)
	if list := e.Must(send("GET", "/api/v1/resources", nil), http.StatusOK); strings.Contains(string(list.Body), adminRoom) {
		t.Fatal("member's list shows the admin's room")
	}
}

func TestInviteFailurePages(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "room", "title": "Room"})
	guest := e.Client()

	check := func(name, path, wantCode string, wantStatus int, post url.Values) {
		t.Helper()
		// Each check comes from a device that never redeemed anything.
		other := e.Client()
		var r *apitest.Response
		if post != nil {
			r = e.Form(other, path, post)
		} else {
			r = e.Get(other, path)
		}
		if r.Status != wantStatus || pageCode(r) != wantCode {
			t.Fatalf("%s: got %d %q, want %d %q: %s", name, r.Status, pageCode(r), wantStatus, wantCode, r.Body)
		}
	}

	check("unknown link", "/i/"+strings.Repeat("A", 43), "invite_not_found", 404, nil)
	check("garbage link", "/i/%3Cscript%3E", "invite_not_found", 404, nil)

	_, expired := e.Invite(room, "exp@x.test", "viewer")
	e.Clock.Advance(8 * 24 * time.Hour)
	check("expired", expired, "invite_expired", 410, nil)
	e.Clock.Advance(-8 * 24 * time.Hour)

	_, mismatch := e.Invite(room, "right@x.test", "viewer")
	check("email mismatch", mismatch, "email_mismatch", 400, url.Values{"email": {"wrong@x.test"}})
	if r := e.Get(guest, mismatch); pageState(r) != "lobby" {
		t.Fatal("a wrong email must leave the link usable")
	}

	_, used := e.Invite(room, "dev@x.test", "viewer")
	e.Must(e.Form(guest, used, url.Values{"email": {"dev@x.test"}}), http.StatusSeeOther)
	check("used on another device", used, "used_on_another_device", 409, nil)
	check("used on another device (post)", used, "used_on_another_device", 409, url.Values{"email": {"dev@x.test"}})

	iid, removed := e.Invite(room, "rm@x.test", "viewer")
	e.Must(e.Do("DELETE", "/api/v1/resources/"+room+"/invitations/"+iid, e.APIKey, nil), http.StatusNoContent)
	check("removed", removed, "invite_removed", 410, nil)

	_, blocked := e.Invite(room, "someone@partner.example", "viewer")
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"blocked_domains": []string{"*.example", "partner.example"}}), http.StatusOK)
	check("domain blocked", blocked, "domain_blocked", 403, nil)
	check("domain blocked (post)", blocked, "domain_blocked", 403, url.Values{"email": {"someone@partner.example"}})
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"blocked_domains": []string{}}), http.StatusOK)

	_, disabled := e.Invite(room, "off@x.test", "viewer")
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"enabled": false}), http.StatusOK)
	check("module disabled", disabled, "module_disabled", 403, nil)
	if r := e.Do("POST", "/api/v1/resources/"+room+"/invitations", e.APIKey, map[string]any{"email": "n@x.test", "first_name": "N", "last_name": "X"}); r.ErrorCode() != "module_disabled" {
		t.Fatalf("creating with the module off: %d %s", r.Status, r.Body)
	}
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"enabled": true}), http.StatusOK)

	// Binding off: a used single-use link is simply used.
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"device_binding": false}), http.StatusOK)
	_, once := e.Invite(room, "once@x.test", "viewer")
	e.Must(e.Form(guest, once, url.Values{"email": {"once@x.test"}}), http.StatusSeeOther)
	check("used", once, "invite_used", 409, nil)
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"device_binding": true}), http.StatusOK)

	_, guesses := e.Invite(room, "rl@x.test", "viewer")
	for i := 0; i < 5; i++ {
		e.Form(e.Client(), guesses, url.Values{"email": {"nope@x.test"}})
	}
	check("too many attempts", guesses, "too_many_attempts", 429, url.Values{"email": {"rl@x.test"}})

	_, gone := e.Invite(room, "gone@x.test", "viewer")
	e.Must(e.Do("DELETE", "/api/v1/resources/"+room, e.APIKey, nil), http.StatusNoContent)
	check("resource deleted", gone, "resource_deleted", 410, nil)

	// Rooms with chat and collaboration off refuse entry and new invitations.
	off := e.Resource(map[string]any{"type": "room", "title": "Quiet room"})
	_, quiet := e.Invite(off, "q@x.test", "viewer")
	e.Must(e.Do("PATCH", "/api/v1/resources/"+off, e.APIKey, map[string]any{"chat_collaboration": false}), http.StatusOK)
	check("chat off", quiet, "module_disabled", 403, nil)
	if r := e.Do("POST", "/api/v1/resources/"+off+"/invitations", e.APIKey, map[string]any{"email": "n@x.test", "first_name": "N", "last_name": "X"}); r.ErrorCode() != "chat_collaboration_off" {
		t.Fatalf("inviting to a room without chat: %d %s", r.Status, r.Body)
	}
}

func TestPerClientGuessLimit(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "room", "title": "Room"})
	c := e.Client()
	// Wrong guesses spread over many links still count against the client.
	var last *apitest.Response
	for i := 0; i < 11; i++ {
		_, link := e.Invite(room, "p"+string(rune('a'+i))+"@x.test", "viewer")
		last = e.Form(c, link, url.Values{"email": {"wrong@x.test"}})
	}
	if last.Status != http.StatusTooManyRequests || pageCode(last) != "too_many_attempts" {
		t.Fatalf("11th wrong guess from one client: %d %q", last.Status, pageCode(last))
	}
}

func TestOpeningALinkChangesNothing(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "room", "title": "Room"})
	iid, link := e.Invite(room, "scan@x.test", "speaker")
	var auditBefore int64
	e.DB.R.Raw("SELECT COUNT(*) FROM audit_entries").Scan(&auditBefore)
	scanner := e.Client()
	for i := 0; i < 100; i++ {
		if r := e.Get(scanner, link); r.Status != 200 || pageState(r) != "lobby" {
			t.Fatalf("GET %d: %d %s", i, r.Status, pageState(r))
		}
		req, _ := http.NewRequest(http.MethodHead, e.URL+link, nil)
		if r := e.Send(scanner, req); r.Status != 200 || len(r.Body) != 0 {
			t.Fatalf("HEAD %d: %d, %d body bytes", i, r.Status, len(r.Body))
		}
	}
	var auditAfter int64
	e.DB.R.Raw("SELECT COUNT(*) FROM audit_entries").Scan(&auditAfter)
	inv := e.Must(e.Do("GET", "/api/v1/resources/"+room+"/invitations/"+iid, e.APIKey, nil), 200).Map(t)
	if inv["uses"].(float64) != 0 || auditAfter != auditBefore {
		t.Fatalf("opening changed state: uses=%v audit %d -> %d", inv["uses"], auditBefore, auditAfter)
	}
	if r := e.Form(e.Client(), link, url.Values{"email": {"scan@x.test"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("link no longer redeems after 200 opens: %d %s", r.Status, r.Body)
	}
}

func TestConcurrentRedemptionOverHTTP(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			room := e.Resource(map[string]any{"type": "room", "title": "Room"})
			_, link := e.Invite(room, "race@x.test", "viewer")
			var mu sync.Mutex
			statuses := map[int]int{}
			codes := map[string]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r := e.Form(e.Client(), link, url.Values{"email": {"race@x.test"}})
					mu.Lock()
					statuses[r.Status]++
					codes[pageCode(r)]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			if statuses[http.StatusSeeOther] != 1 || statuses[http.StatusConflict] != 199 || codes["used_on_another_device"] != 199 {
				t.Fatalf("want one 303 and 199 clear 409 refusals, got statuses %v codes %v", statuses, codes)
			}
		})
	}
}

func TestEnteringCarriesAVerifiableJoinToken(t *testing.T) {
	e := apitest.New(t, apitest.Options{RealClock: true})
	room := e.Resource(map[string]any{"type": "webcast", "title": "Keynote"})
	_, link := e.Invite(room, "Speaker@X.test", "speaker")
	guest := e.Client()
	r := e.Must(e.Form(guest, link, url.Values{"email": {" speaker@x.TEST "}}), http.StatusSeeOther)
	loc, _ := url.Parse(r.Header.Get("Location"))
	jt := loc.Query().Get("jt")
	if loc.Path != "/demo/rooms/"+room || jt == "" {
		t.Fatalf("redirect to %s", loc)
	}
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	e.Must(e.Get(guest, "/.well-known/jwks.json"), 200).JSON(t, &keys)
	set, err := jwksOf(e, guest)
	if err != nil || len(keys.Keys) == 0 {
		t.Fatalf("jwks: %v", err)
	}
	c, err := jointoken.Verify(jt, set, e.URL, "demo-room", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != "speaker" || c.Email != "speaker@x.test" || c.Resource != room || len(c.Privileges) == 0 {
		t.Fatalf("claims %+v", c)
	}
	if _, err := jointoken.Verify(jt, set, e.URL, "another-room", time.Now()); err == nil {
		t.Fatal("token accepted for another audience")
	}
	if _, err := jointoken.Verify(jt, set, e.URL, "demo-room", time.Now().Add(10*time.Minute)); err == nil {
		t.Fatal("token accepted after expiry")
	}
	// The demo room verifies it, keeps its own cookie and drops the token from the URL.
	r = e.Must(e.Get(guest, loc.RequestURI()), http.StatusSeeOther)
	if r.Header.Get("Location") != "/demo/rooms/"+room {
		t.Fatalf("room redirect %q", r.Header.Get("Location"))
	}
	page := e.Must(e.Get(guest, "/demo/rooms/"+room), 200)
	if !strings.Contains(string(page.Body), `data-role="speaker"`) || !strings.Contains(string(page.Body), "speaker@x.test") {
		t.Fatalf("room page: %s", page.Body)
	}
	// A tampered token is refused.
	bad := jt[:len(jt)-4] + "AAAA"
	if r := e.Get(e.Client(), "/demo/rooms/"+room+"?jt="+bad); r.Status != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d", r.Status)
	}
	// Tokens and links never reach the logs.
	if logs := e.Logs.String(); strings.Contains(logs, tokenOf(link)) || strings.Contains(logs, jt[:40]) {
		t.Fatal("a token reached the logs")
	}
	// Each request has its access line: request id first, the route's pattern.
	if ok, _ := regexp.MatchString(`(?m)^time=\S+ level=INFO msg=http request_id=[0-9a-f]{16} method=POST route=/i/:token status=303 duration=\S+$`, e.Logs.String()); !ok {
		t.Fatalf("no access line for the redemption in:\n%s", e.Logs.String())
	}
}

func TestConsoleSignInLinks(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	r := e.Must(e.Do("POST", "/api/v1/users", e.APIKey, map[string]any{"email": "owner@org.test", "first_name": "O", "last_name": "W", "console_role": "member"}), 201)
	uid := r.Map(t)["id"].(string)
	link := e.Must(e.Do("POST", "/api/v1/users/"+uid+"/login-links", e.APIKey, nil), 201).Map(t)["link"].(string)
	path := strings.TrimPrefix(link, e.URL)
	c := e.Client()
	if r := e.Get(c, "/console"); r.Status != http.StatusUnauthorized {
		t.Fatalf("console without session: %d", r.Status)
	}
	for i := 0; i < 3; i++ {
		e.Must(e.Get(c, path), 200) // opening does not sign in or use the link
	}
	if r := e.Get(c, "/console"); r.Status != http.StatusUnauthorized {
		t.Fatal("GET on a login link signed in")
	}
	e.Must(e.Form(c, path, nil), http.StatusSeeOther)
	e.Must(e.Get(c, "/console"), 200)
	if r := e.Form(e.Client(), path, nil); r.Status != http.StatusConflict || pageCode(r) != "login_link_used" {
		t.Fatalf("second use of a login link: %d %q", r.Status, pageCode(r))
	}
	// The session works on the API; signing out ends it.
	e.Must(e.Get(c, "/api/v1/me"), 200)
	e.Must(e.Form(c, "/console/signout", nil), http.StatusSeeOther)
	if r := e.Get(c, "/api/v1/me"); r.Status != http.StatusUnauthorized {
		t.Fatalf("after sign-out: %d", r.Status)
	}
	// Invitees become known users: the invite dialog's autocomplete offers them.
	vid := e.Resource(map[string]any{"type": "video", "title": "V"})
	e.Invite(vid, "viewer.one@x.test", "viewer")
	var list struct {
		Users []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"users"`
	}
	e.Must(e.Do("GET", "/api/v1/users?q=VIEWER", e.APIKey, nil), 200).JSON(t, &list)
	if len(list.Users) != 1 || list.Users[0].Email != "viewer.one@x.test" {
		t.Fatalf("autocomplete: %+v", list.Users)
	}
	// A person who is not a console user gets no sign-in link.
	if r := e.Do("POST", "/api/v1/users/"+list.Users[0].ID+"/login-links", e.APIKey, nil); r.ErrorCode() != "not_console_user" {
		t.Fatalf("login link for an invitee: %d %s", r.Status, r.Body)
	}
}

func TestCrossOriginFormsRefused(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "room", "title": "Room"})
	_, link := e.Invite(room, "co@x.test", "viewer")
	req, _ := http.NewRequest(http.MethodPost, e.URL+link, strings.NewReader("email=co%40x.test"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := e.Send(e.Client(), req); r.Status != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", r.Status)
	}
	if r := e.Form(e.Client(), link, url.Values{"email": {"co@x.test"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("the link must survive a refused cross-site POST: %d", r.Status)
	}
}

func TestBadInputIsExplained(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "video", "title": "Video"})
	for _, tc := range []struct {
		name, body, field, code string
	}{
		{"not json", `{"email":`, "", "bad_json"},
		{"unknown field", `{"email":"a@b.test","first_name":"A","last_name":"B","colour":"red"}`, "colour", "invalid"},
		{"wrong type", `{"email":42}`, "email", "invalid"},
		{"media speaker", `{"email":"a@b.test","first_name":"A","last_name":"B","role":"speaker"}`, "role", "invalid"},
		{"emoji email", `{"email":"a😀@b.test","first_name":"A","last_name":"B"}`, "email", "invalid"},
		{"too long", `{"email":"a@b.test","first_name":"A","last_name":"B","expires_in_hours":100000}`, "expires_in_hours", "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.URL+"/api/v1/resources/"+room+"/invitations", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+e.APIKey)
			r := e.Send(http.DefaultClient, req)
			var b struct {
				Error struct{ Code, Field, Message string } `json:"error"`
			}
			r.JSON(t, &b)
			if r.Status != 400 || b.Error.Code != tc.code || b.Error.Field != tc.field || b.Error.Message == "" {
				t.Fatalf("got %d %+v", r.Status, b.Error)
			}
		})
	}
	if r := e.Do("GET", "/api/v1/resources/not-an-id", e.APIKey, nil); r.Status != 404 {
		t.Fatalf("bad id: %d", r.Status)
	}
	if r := e.Do("POST", "/api/v1/resources", e.APIKey, map[string]any{"type": "video", "title": "V", "starts_at": time.Now()}); r.Status != 400 {
		t.Fatalf("media with a schedule: %d", r.Status)
	}
	_ = context.Background()
}

func TestCountdownBeforeTheSessionOpens(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	starts := e.Clock.Now().Add(2 * time.Hour).Truncate(time.Second)
	room := e.Resource(map[string]any{"type": "room", "title": "Later", "starts_at": starts})
	_, link := e.Invite(room, "early@x.test", "viewer")
	guest := e.Client()
	r := e.Must(e.Get(guest, link), 200)
	if pageState(r) != "countdown" || !strings.Contains(string(r.Body), `data-countdown-to="`+starts.UTC().Format(time.RFC3339)+`"`) {
		t.Fatalf("want a countdown to %s: %s", starts, r.Body)
	}
	if r := e.Form(guest, link, url.Values{"email": {"early@x.test"}}); r.Status != http.StatusConflict || pageCode(r) != "session_not_open" {
		t.Fatalf("entering early: %d %q", r.Status, pageCode(r))
	}
	e.Clock.Set(starts)
	if r := e.Get(guest, link); pageState(r) != "lobby" {
		t.Fatalf("at the start time: %q", pageState(r))
	}
	e.Must(e.Form(guest, link, url.Values{"email": {"early@x.test"}}), http.StatusSeeOther)
}

func TestCollaboratorsMayInvite(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "room", "title": "Shared room"})
	member, mc := e.ConsoleUser("editor@org.test", "member")
	invite := func() *apitest.Response {
		req, _ := http.NewRequest("POST", e.URL+"/api/v1/resources/"+room+"/invitations", strings.NewReader(`{"email":"g@x.test","first_name":"G","last_name":"X","role":"speaker"}`))
		req.Header.Set("Content-Type", "application/json")
		return e.Send(mc, req)
	}
	// Before, the room does not exist for them.
	if r := invite(); r.Status != http.StatusNotFound {
		t.Fatalf("before being a collaborator: %d", r.Status)
	}
	// The admin's console shows the form; the collaborator is added through the API it calls.
	admin := e.SignIn(e.Admin)
	page := e.Must(e.Get(admin, "/console/resources/"+room), 200)
	if !strings.Contains(string(page.Body), `id="collaborator-form"`) || !strings.Contains(string(page.Body), member.ID) {
		t.Fatal("the admin's resource page offers no collaborator form with the member")
	}
	e.Must(e.Do("PUT", "/api/v1/resources/"+room+"/collaborators/"+member.ID, e.APIKey, map[string]any{"role": "co_editor"}), 200)
	e.Must(invite(), http.StatusCreated)
	page = e.Must(e.Get(mc, "/console/resources/"+room), 200)
	if strings.Contains(string(page.Body), `id="collaborator-form"`) || !strings.Contains(string(page.Body), "Co-editor") {
		t.Fatal("a co-editor's page must list collaborators without the form")
	}
	req, _ := http.NewRequest("PUT", e.URL+"/api/v1/resources/"+room+"/collaborators/"+member.ID, strings.NewReader(`{"role":"owner"}`))
	if r := e.Send(mc, req); r.Status != http.StatusForbidden {
		t.Fatalf("a co-editor promoted themself: %d", r.Status)
	}
	if r := e.Do("PUT", "/api/v1/resources/"+room+"/collaborators/"+member.ID, e.APIKey, map[string]any{"role": "janitor"}); r.Status != 400 {
		t.Fatalf("unknown role: %d", r.Status)
	}
}
