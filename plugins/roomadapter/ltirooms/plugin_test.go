package ltirooms_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/plugins/roomadapter/lms/lmstest"
)

func newEnv(t *testing.T, dialect string, config map[string]any, fixtures ...string) *lmstest.Env {
	cfg := map[string]any{"join_url": "https://video.example.org/course/{context}/link/{link}?role={role}"}
	for k, v := range config {
		cfg[k] = v
	}
	e := lmstest.New(t, lmstest.Options{Dialect: dialect, Cmd: "./cmd/gateway-plugin-lti-rooms", Config: cfg})
	for _, f := range fixtures {
		e.Add(f, lmstest.Load(t, "testdata/"+f+".json"))
	}
	return e
}

func each(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

type expect struct {
	who, role string
	invite    bool
}

// launchAll launches as each person and checks their role and Invite
// users on the room page; all land in room (the first's, when "").
func launchAll(t *testing.T, e *lmstest.Env, want []expect) string {
	t.Helper()
	room := ""
	for _, w := range want {
		got, page, _ := e.Launch(w.who)
		if room == "" {
			room = got
		} else if got != room {
			t.Errorf("%s landed in %s, not %s", w.who, got, room)
		}
		if !strings.Contains(page, `data-role="`+w.role+`"`) || strings.Contains(page, `id="open-invite"`) != w.invite {
			t.Errorf("%s: want role %q, invite %v; page:\n%s", w.who, w.role, w.invite, page)
		}
	}
	return room
}

// Moodle 4.x: the course is one room, whichever of its links a person
// follows; teachers own it, site administrators co-own it, students view.
func TestMoodleLaunches(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, nil, "moodle4-teacher", "moodle4-student", "moodle4-admin", "moodle4-teacher-office-hours")
		room := launchAll(t, e, []expect{
			{"moodle4-teacher", "owner", true}, {"moodle4-student", "", false}, {"moodle4-admin", "co_owner", true},
			{"moodle4-teacher-office-hours", "owner", true},
		})
		var title string
		e.DB.R.Raw(`SELECT title FROM resources WHERE id = ?`, strings.TrimPrefix(room, "/lti/rooms/")).Scan(&title)
		if title != "Chemistry 201" {
			t.Errorf("room title %q", title)
		}
	})
}

// One room per resource link: each link in the course is its own room,
// named after the link, and a re-launch finds it again.
func TestRoomPerResourceLink(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, map[string]any{"room_per": "resource_link"}, "moodle4-teacher", "moodle4-teacher-office-hours", "moodle4-student")
		lab, page, _ := e.Launch("moodle4-teacher")
		hours, page2, _ := e.Launch("moodle4-teacher-office-hours")
		again, _, _ := e.Launch("moodle4-student")
		if lab == hours || again != lab || !strings.Contains(page, "Live lab") || !strings.Contains(page2, "Office hours") {
			t.Fatalf("rooms: lab %s, office hours %s, the student's %s", lab, hours, again)
		}
		var n int64
		e.DB.R.Raw(`SELECT COUNT(*) FROM resources WHERE adapter = ?`, lmstest.Adapter).Scan(&n)
		if n != 2 {
			t.Errorf("%d rooms for two links", n)
		}
	})
}

// Canvas: its roles, the course id of $Canvas.course.id in the join URL,
// $Canvas.user.loginId matched by the collaborators config, and a role
// the vocabulary does not have (Observer) viewing, logged once.
func TestCanvasLaunches(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, map[string]any{"collaborators": map[string]any{"sue": "co-publisher"}},
			"canvas-teacher", "canvas-ta", "canvas-student", "canvas-designer", "canvas-observer")
		room := launchAll(t, e, []expect{
			{"canvas-teacher", "owner", true}, {"canvas-ta", "co_editor", true}, {"canvas-student", "co_publisher", true},
			{"canvas-designer", "co_publisher", true}, {"canvas-observer", "", false}, {"canvas-observer", "", false},
		})
		if n := strings.Count(e.Logs.String(), `unknown LTI role \"membership#Observer\"`); n != 1 {
			t.Errorf("the unknown role was logged %d times, want once", n)
		}
		_, _, teacher := e.Launch("canvas-teacher")
		req, _ := http.NewRequest(http.MethodPost, e.URL+room+"/join", nil)
		req.Header.Set("Origin", e.URL)
		j := e.Send(teacher, req)
		if loc := j.Header.Get("Location"); j.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://video.example.org/course/1234/link/?") || !strings.Contains(loc, "jt=") {
			t.Errorf("join: %d %q", j.Status, loc)
		}
	})
}

// Media entries of a platform whose media page (Theming, mediapage) is
// off: no Invite users on the page, and the invitation refused with why.
func TestMediaPageOff(t *testing.T) {
	each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, map[string]any{"type": "media", "media_page": false}, "canvas-teacher")
		room, page, teacher := e.Launch("canvas-teacher")
		if strings.Contains(page, `id="open-invite"`) || !strings.Contains(page, "media page turned off") {
			t.Errorf("media page off: the page offers to invite or does not say why:\n%s", page)
		}
		r := e.PostJSON(teacher, room+"/invitations", `{"email":"guest@else.test","first_name":"Gail","last_name":"Guest","role":"viewer"}`)
		if r.Status != http.StatusConflict || r.ErrorCode() != "media_page_off" {
			t.Errorf("invitation with the media page off: %d %s", r.Status, r.Body)
		}
	})
}
