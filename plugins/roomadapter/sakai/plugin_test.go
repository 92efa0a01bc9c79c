package sakai_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/roomadapter/lms/lmstest"
)

const contextClaim = "https://purl.imsglobal.org/spec/lti/claim/context"

func newEnv(t *testing.T, dialect string, config map[string]any) *lmstest.Env {
	cfg := map[string]any{"join_url": "https://video.example.org/sakai/{context}?role={role}"}
	for k, v := range config {
		cfg[k] = v
	}
	e := lmstest.New(t, lmstest.Options{Dialect: dialect, Cmd: "./cmd/gateway-plugin-sakai", Config: cfg})
	for _, who := range []string{"instructor", "ta", "student", "admin", "unknown"} {
		e.Add(who, lmstest.Load(t, "testdata/sakai23-"+who+".json"))
	}
	return e
}

func each(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Sakai 23's launches through the real plugin: the site is one room for
// everyone in it, each person's Sakai and LTI roles give their room role,
// the room page offers Invite users to collaborators only, and a renamed
// site renames the room.
func TestSakaiLaunches(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, map[string]any{"academic_session_in_title": true})
		room, page, teacher := e.Launch("instructor")
		for _, want := range []string{`data-role="owner"`, `id="open-invite"`, "Invite users", "Biology 101 (FALL 2026)"} {
			if !strings.Contains(page, want) {
				t.Errorf("the instructor's page lacks %q", want)
			}
		}
		for _, tc := range []struct {
			who, role string
			invite    bool
		}{
			{"ta", "co_editor", true},
			{"student", "", false},
			{"admin", "co_owner", true},
			{"unknown", "", false},
		} {
			got, page, _ := e.Launch(tc.who)
			if got != room {
				t.Errorf("%s landed in %s, the instructor in %s", tc.who, got, room)
			}
			if !strings.Contains(page, `data-role="`+tc.role+`"`) || strings.Contains(page, `id="open-invite"`) != tc.invite {
				t.Errorf("%s: want role %q, invite %v; page:\n%s", tc.who, tc.role, tc.invite, page)
			}
		}
		var rows []struct{ Email, Role string }
		e.DB.R.Raw(`SELECT u.email, c.role FROM collaborators c JOIN users u ON u.id = c.user_id WHERE c.resource_id = ? ORDER BY u.email`,
			strings.TrimPrefix(room, "/lti/rooms/")).Scan(&rows)
		if len(rows) != 3 || rows[0] != (struct{ Email, Role string }{"ada.instructor@sakai.example.edu", "owner"}) ||
			rows[1].Role != "co_owner" || rows[2] != (struct{ Email, Role string }{"tom.ta@sakai.example.edu", "co_editor"}) {
			t.Errorf("collaborators %+v", rows)
		}
		if n := strings.Count(e.Logs.String(), `unknown LTI role \"sakai:Auditor\"`); n != 1 {
			t.Errorf("the unknown Sakai role was logged %d times, want once:\n%s", n, e.Logs.String())
		}

		// The instructor invites from the room page; the student may not.
		e.Must(e.PostJSON(teacher, room+"/invitations", `{"email":"guest@else.test","first_name":"Gail","last_name":"Guest","role":"viewer"}`), http.StatusCreated)
		_, _, student := e.Launch("student")
		if r := e.PostJSON(student, room+"/invitations", `{"email":"x@else.test","first_name":"X","last_name":"Y","role":"viewer"}`); r.Status != http.StatusNotFound {
			t.Errorf("a student's invitation: %d %s", r.Status, r.Body)
		}
		// Join: the adapter's join URL for the site, with the join token.
		req, _ := http.NewRequest(http.MethodPost, e.URL+room+"/join", nil)
		req.Header.Set("Origin", e.URL)
		j := e.Send(teacher, req)
		if loc := j.Header.Get("Location"); j.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://video.example.org/sakai/a8a3a5f2-0bc4-4b93-9a3d-5e2f7c0a1b11?") ||
			!strings.Contains(loc, "role=moderator") || !strings.Contains(loc, "jt=") {
			t.Errorf("join: %d %q", j.Status, loc)
		}

		// The site renamed in Sakai: the next launch renames the room.
		f := lmstest.Load(t, "testdata/sakai23-instructor.json")
		f.Claims[contextClaim].(map[string]any)["title"] = "Biology 101: Cells"
		f.Claims["https://purl.imsglobal.org/spec/lti/claim/custom"].(map[string]any)["context_title"] = "Biology 101: Cells"
		e.Add("renamed", f)
		again, page, _ := e.Launch("renamed")
		var title string
		e.DB.R.Raw(`SELECT title FROM resources WHERE id = ?`, strings.TrimPrefix(room, "/lti/rooms/")).Scan(&title)
		if again != room || title != "Biology 101: Cells (FALL 2026)" || !strings.Contains(page, "Biology 101: Cells") {
			t.Errorf("after the rename: room %s (was %s), title %q", again, room, title)
		}
		var n int64
		e.DB.R.Raw(`SELECT COUNT(*) FROM resources WHERE adapter = ?`, lmstest.Adapter).Scan(&n)
		if n != 1 {
			t.Errorf("%d rooms for one site", n)
		}
	})
}

// Invite users needs Chat & Collaboration on in the room and the
// invitation module on in the account: without either, the room page
// offers none and says why, and the room page's invitation is refused
// with the reason.
func TestSakaiInviteNeedsChatAndTheModule(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, nil)
		f := lmstest.Load(t, "testdata/sakai23-instructor.json")
		f.Claims["https://purl.imsglobal.org/spec/lti/claim/custom"].(map[string]any)["chat_collaboration"] = "false"
		e.Add("chat-off", f)
		room, page, teacher := e.Launch("chat-off")
		if strings.Contains(page, `id="open-invite"`) || !strings.Contains(page, `id="not-invitable"`) || !strings.Contains(page, "chat and collaboration turned off") {
			t.Errorf("C&C off: the page offers to invite or does not say why:\n%s", page)
		}
		r := e.PostJSON(teacher, room+"/invitations", `{"email":"guest@else.test","first_name":"Gail","last_name":"Guest","role":"viewer"}`)
		if r.Status != http.StatusConflict || r.ErrorCode() != "chat_collaboration_off" {
			t.Errorf("invitation with C&C off: %d %s", r.Status, r.Body)
		}

		// Sakai turns it back on; then the account's module is turned off.
		on := lmstest.Load(t, "testdata/sakai23-instructor.json")
		on.Claims["https://purl.imsglobal.org/spec/lti/claim/custom"].(map[string]any)["chat_collaboration"] = "true"
		e.Add("chat-on", on)
		_, page, teacher = e.Launch("chat-on")
		if !strings.Contains(page, `id="open-invite"`) {
			t.Fatalf("C&C on again, no Invite users:\n%s", page)
		}
		e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"enabled": false}), http.StatusOK)
		page = string(e.Must(e.Get(teacher, room), http.StatusOK).Body)
		if strings.Contains(page, `id="open-invite"`) || !strings.Contains(page, "invitation module is turned off") {
			t.Errorf("module off: the page offers to invite or does not say why:\n%s", page)
		}
		r = e.PostJSON(teacher, room+"/invitations", `{"email":"guest@else.test","first_name":"Gail","last_name":"Guest","role":"viewer"}`)
		if r.Status != http.StatusForbidden || r.ErrorCode() != "module_disabled" {
			t.Errorf("invitation with the module off: %d %s", r.Status, r.Body)
		}
	})
}

// The plugin killed in the middle of a launch: the person gets a page that
// says to try again, the gateway restarts the plugin, and the next launch
// enters.
func TestSakaiPluginCrashDuringALaunch(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, nil)
		c := e.Client()
		form := e.Authorize(c, "instructor")
		pid := e.PluginPID()
		plugintest.Kill9(t, pid)
		r := e.Post(c, form)
		body := string(r.Body)
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(body, `data-error-code="room_adapter_unavailable"`) || !strings.Contains(body, "try again") {
			t.Fatalf("launch while the plugin is down: %d %s", r.Status, body)
		}
		e.WaitRestarted(pid)
		room, page, _ := e.Launch("instructor")
		if !strings.HasPrefix(room, "/lti/rooms/") || !strings.Contains(page, `data-role="owner"`) {
			t.Fatalf("launch after the restart: %s\n%s", room, page)
		}
	})
}
