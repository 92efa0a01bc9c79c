package api_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// eventsEnv is a gateway whose events service (env.Events) the test also
// drives directly for what attendees do on the event site (register,
// confirm, visit, sign in, unregister). With email, the gateway has an
// outbox that queues (its workers are held: delivery is the email tests'
// business), so "Invite" and the re-send actions can run.
type eventsEnv struct {
	*apitest.Env
	n int
}

func newEventsEnv(t *testing.T, opt apitest.Options, withEmail bool) *eventsEnv {
	t.Helper()
	ee := &eventsEnv{}
	if withEmail {
		prev := opt.Config
		opt.Config = func(c *app.Config) {
			c.Mail.From = "Invitegate <noreply@gateway.test>"
			c.Mail.SMTP = mail.SMTPConfig{Host: "127.0.0.1", Port: 9, TLS: mail.TLSNone}
			if prev != nil {
				prev(c)
			}
		}
		opt.HoldMail = true
	}
	ee.Env = apitest.New(t, opt)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", ee.Logs.String())
		}
	})
	return ee
}

// event creates an event through the API.
func (e *eventsEnv) event(body map[string]any) map[string]any {
	e.T.Helper()
	e.n++
	start := e.Clock.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
	in := map[string]any{"name": fmt.Sprintf("Summit %d", e.n), "starts_at": start, "ends_at": start.Add(3 * time.Hour), "time_zone": "Europe/Paris"}
	for k, v := range body {
		in[k] = v
	}
	return e.Must(e.Do("POST", "/api/v1/events", e.APIKey, in), http.StatusCreated).Map(e.T)
}

func (e *eventsEnv) email() string { e.n++; return fmt.Sprintf("person%d@guest.test", e.n) }

// invite adds a person through the API, without an email.
func (e *eventsEnv) invite(evID, email string) map[string]any {
	e.T.Helper()
	return e.Must(e.Do("POST", "/api/v1/events/"+evID+"/attendees", e.APIKey,
		map[string]any{"email": email, "first_name": "Pat", "last_name": "Person"}), http.StatusCreated).Map(e.T)
}

func (e *eventsEnv) attendee(evID, aid string) map[string]any {
	e.T.Helper()
	return e.Must(e.Do("GET", "/api/v1/events/"+evID+"/attendees/"+aid, e.APIKey, nil), http.StatusOK).Map(e.T)
}

// site does what an attendee does on the event site, through the service.
func (e *eventsEnv) site(t *testing.T, what string, do func(ctx context.Context) (*event.Attendee, error)) *event.Attendee {
	t.Helper()
	a, err := do(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return a
}

func TestEventCreateGetUpdate(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	ev := e.event(map[string]any{"name": "Spring Summit", "registration": "invite_only"})
	id := ev["id"].(string)
	if ev["slug"] != "spring-summit" || ev["login_method"] != "magic_link" || ev["confirm_email"] != true || ev["additional_users"] != true {
		t.Fatalf("created event: %v", ev)
	}
	// Every wrong field is named, at once.
	r := e.Do("POST", "/api/v1/events", e.APIKey, map[string]any{"name": "", "time_zone": "Mars/Olympus", "login_method": "carrier_pigeon"})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("bad event: %d %s", r.Status, r.Body)
	}
	for _, f := range []string{"name", "starts_at", "ends_at", "time_zone", "login_method"} {
		if !strings.Contains(string(r.Body), `"field":"`+f+`"`) {
			t.Errorf("bad event: %s not named: %s", f, r.Body)
		}
	}
	if r := e.Do("POST", "/api/v1/events", e.APIKey, map[string]any{"name": "Spring Summit", "starts_at": ev["starts_at"], "ends_at": ev["ends_at"], "time_zone": "UTC"}); r.Status != http.StatusConflict || r.ErrorCode() != "slug_taken" {
		t.Fatalf("taken slug: %d %s", r.Status, r.Body)
	}

	got := e.Must(e.Do("GET", "/api/v1/events/"+id, e.APIKey, nil), http.StatusOK).Map(t)
	if got["name"] != "Spring Summit" {
		t.Fatalf("get: %v", got)
	}
	list := e.Must(e.Do("GET", "/api/v1/events", e.APIKey, nil), http.StatusOK).Map(t)
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Fatalf("list: %v", list)
	}

	// PATCH changes what it names and keeps the rest.
	up := e.Must(e.Do("PATCH", "/api/v1/events/"+id, e.APIKey, map[string]any{"name": "Autumn Summit", "login_method": "sso", "confirm_email": false}), http.StatusOK).Map(t)
	if up["name"] != "Autumn Summit" || up["login_method"] != "sso" || up["confirm_email"] != false || up["slug"] != "spring-summit" || up["registration"] != "invite_only" {
		t.Fatalf("patched: %v", up)
	}
	if got := e.Must(e.Do("GET", "/api/v1/events/"+id, e.APIKey, nil), http.StatusOK).Map(t); got["name"] != "Autumn Summit" || got["login_method"] != "sso" {
		t.Fatalf("patch not stored: %v", got)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"ends_at": ev["starts_at"]}, "ends_at"},
		{map[string]any{"time_zone": "Local"}, "time_zone"},
		{map[string]any{"slug": ""}, "slug"},
		{map[string]any{"slug": "Not A Slug"}, "slug"},
		{map[string]any{"colour": "red"}, "colour"},
		{map[string]any{"closed": "yes"}, "closed"},
	} {
		r := e.Do("PATCH", "/api/v1/events/"+id, e.APIKey, tc.body)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
			t.Errorf("PATCH %v: %d %s, want 400 naming %s", tc.body, r.Status, r.Body, tc.field)
		}
	}
	other := e.event(map[string]any{"name": "Other Summit"})
	if r := e.Do("PATCH", "/api/v1/events/"+id, e.APIKey, map[string]any{"slug": other["slug"]}); r.Status != http.StatusConflict || r.ErrorCode() != "slug_taken" {
		t.Fatalf("PATCH to a taken slug: %d %s", r.Status, r.Body)
	}

	// Both changes are in the audit log.
	audit := string(e.Must(e.Do("GET", "/api/v1/audit", e.APIKey, nil), http.StatusOK).Body)
	for _, want := range []string{`"action":"event.created"`, `"action":"event.updated"`, `Autumn Summit`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if n := strings.Count(audit, `"action":"event.updated"`); n != 1 {
		t.Errorf("audit log has %d event.updated entries, want 1 (refused patches change nothing)", n)
	}
}

// stateCase is one status (with its detail) reached through real triggers.
type stateCase struct {
	name   string
	status string
	detail string
	label  string // status label
	dlabel string // detail label
	// reach makes a fresh attendee in this state and returns (event, attendee).
	reach func(t *testing.T) (string, string)
	// chat: the attendee opened the chat and accepted its terms.
	chat bool
	// magic: the event logs in by emailed link.
	magic bool
	// chatBlocked: already blocked from chat.
	chatBlocked bool
}

// seedActions is the seed's per-status table, written out here rather than
// read from the package under test.
var seedActions = map[string][]string{
	"attended":     {"edit", "view_analytics", "remove"},
	"sso_login":    {"edit", "view_analytics", "remove"},
	"invited":      {"edit", "resend_invitation", "remove"},
	"registered":   {"edit", "resend_registration_confirmation", "view_analytics", "remove"},
	"unregistered": {},
	"blocked":      {"edit", "view_analytics"},
}

var menuOrder = []string{"edit", "resend_invitation", "resend_registration_confirmation", "view_analytics", "remove", "block_from_chat", "generate_login_link"}

// expectedActions is what an organizer may do in a state: the seed's table,
// plus block from chat (attended, chat terms accepted, not yet blocked from
// chat) and generate login link (invited or registered, emailed-link event).
func (sc stateCase) expectedActions() []string {
	allowed := map[string]bool{}
	for _, a := range seedActions[sc.status] {
		allowed[a] = true
	}
	if sc.status == "attended" && sc.chat && !sc.chatBlocked {
		allowed["block_from_chat"] = true
	}
	if (sc.status == "invited" || sc.status == "registered") && sc.magic {
		allowed["generate_login_link"] = true
	}
	out := []string{}
	for _, a := range menuOrder {
		if allowed[a] {
			out = append(out, a)
		}
	}
	return out
}

func stateCases(t *testing.T, e *eventsEnv) []stateCase {
	ctx := context.Background()
	now := e.Clock.Now().UTC().Truncate(time.Second)
	inviteOnly := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
	open := e.event(map[string]any{"registration": "open"})["id"].(string)
	openNoConfirm := e.event(map[string]any{"registration": "open", "confirm_email": false})["id"].(string)
	started := e.event(map[string]any{"registration": "invite_only", "starts_at": now.Add(-time.Hour), "ends_at": now.Add(2 * time.Hour)})["id"].(string)
	sso := e.event(map[string]any{"registration": "open", "login_method": "sso"})["id"].(string)

	invited := func(ev string) (string, string) {
		return ev, e.invite(ev, e.email())["id"].(string)
	}
	register := func(ev string) (string, string) {
		email := e.email()
		a := e.site(t, "register", func(ctx context.Context) (*event.Attendee, error) {
			return e.Events.Register(ctx, ev, event.Identity{Email: email, FirstName: "Reg", LastName: "Istrant"})
		})
		return ev, a.ID
	}
	visited := func(ev string) (string, string) {
		ev, aid := invited(ev)
		if _, err := e.Events.RecordVisit(ctx, ev, aid); err != nil {
			t.Fatalf("visit: %v", err)
		}
		return ev, aid
	}
	chat := func(reach func(t *testing.T) (string, string)) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) {
			ev, aid := reach(t)
			e.site(t, "accept chat terms", func(ctx context.Context) (*event.Attendee, error) { return e.Events.AcceptChatTerms(ctx, ev, aid) })
			return ev, aid
		}
	}
	return []stateCase{
		{name: "invited by team member", status: "invited", detail: "invited_by_team_member", label: "Invited", dlabel: "Invited by team member", magic: true,
			reach: func(t *testing.T) (string, string) { return invited(inviteOnly) }},
		{name: "invited to register", status: "invited", detail: "invited_to_register", label: "Invited", dlabel: "Invited to register", magic: true,
			reach: func(t *testing.T) (string, string) { return invited(open) }},
		{name: "invited on an SSO event", status: "invited", detail: "invited_to_register", label: "Invited", dlabel: "Invited to register",
			reach: func(t *testing.T) (string, string) { return invited(sso) }},
		{name: "registered", status: "registered", detail: "registered", label: "Registered", dlabel: "Registered", magic: true,
			reach: func(t *testing.T) (string, string) {
				// An invited person registers their invitation.
				ev, aid := invited(open)
				a := e.attendee(ev, aid)
				e.site(t, "register", func(ctx context.Context) (*event.Attendee, error) {
					return e.Events.Register(ctx, ev, event.Identity{Email: a["email"].(string), FirstName: "Pat", LastName: "Person"})
				})
				return ev, aid
			}},
		{name: "confirmed email", status: "registered", detail: "confirmed_email", label: "Registered", dlabel: "Confirmed email", magic: true,
			reach: func(t *testing.T) (string, string) {
				ev, aid := register(open)
				e.site(t, "confirm email", func(ctx context.Context) (*event.Attendee, error) { return e.Events.ConfirmEmail(ctx, ev, aid) })
				return ev, aid
			}},
		{name: "no confirmation required", status: "registered", detail: "no_confirmation_required", label: "Registered", dlabel: "No confirmation required", magic: true,
			reach: func(t *testing.T) (string, string) { return register(openNoConfirm) }},
		{name: "pre-event visit", status: "attended", detail: "pre_event_visit", label: "Attended", dlabel: "Pre-event visit", magic: true, chat: true,
			reach: chat(func(t *testing.T) (string, string) { return visited(inviteOnly) })},
		{name: "during-event visit", status: "attended", detail: "during_event_visit", label: "Attended", dlabel: "During-event visit", magic: true, chat: true,
			reach: chat(func(t *testing.T) (string, string) { return visited(started) })},
		{name: "attended without the chat", status: "attended", detail: "pre_event_visit", label: "Attended", dlabel: "Pre-event visit", magic: true,
			reach: func(t *testing.T) (string, string) { return visited(inviteOnly) }},
		{name: "attended, blocked from chat", status: "attended", detail: "during_event_visit", label: "Attended", dlabel: "During-event visit", magic: true, chat: true, chatBlocked: true,
			reach: func(t *testing.T) (string, string) {
				ev, aid := chat(func(t *testing.T) (string, string) { return visited(started) })(t)
				e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees/"+aid+"/actions/block_from_chat", e.APIKey, nil), http.StatusOK)
				return ev, aid
			}},
		{name: "SSO login", status: "sso_login", detail: "sso_login", label: "SSO login", dlabel: "SSO login", chat: true,
			reach: chat(func(t *testing.T) (string, string) {
				email := e.email()
				a := e.site(t, "SSO login", func(ctx context.Context) (*event.Attendee, error) {
					in, err := e.Events.SignInSSO(ctx, sso, user.Identity{Issuer: "https://idp.test", Subject: email, Email: email, FirstName: "Sam", LastName: "Sso"}, nil)
					if err != nil {
						return nil, err
					}
					return in.Attendee, nil
				})
				return sso, a.ID
			})},
		{name: "unregistered", status: "unregistered", detail: "unregistered", label: "Unregistered", dlabel: "Unregistered", magic: true,
			reach: func(t *testing.T) (string, string) {
				ev, aid := register(open)
				e.site(t, "unregister", func(ctx context.Context) (*event.Attendee, error) { return e.Events.Unregister(ctx, ev, aid) })
				return ev, aid
			}},
		{name: "blocked", status: "blocked", detail: "blocked", label: "Blocked", dlabel: "Blocked", magic: true,
			reach: func(t *testing.T) (string, string) {
				ev, aid := visited(inviteOnly)
				e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees/"+aid+"/block", e.APIKey, nil), http.StatusOK)
				return ev, aid
			}},
	}
}

// TestAttendeeActionsByStatus reaches every status through what really moves
// attendees and tries every action on each through the API: allowed ones
// succeed and do what they say, the others answer 409 with the reason.
func TestAttendeeActionsByStatus(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, true)
	for _, sc := range stateCases(t, e) {
		t.Run(sc.name, func(t *testing.T) {
			ev, aid := sc.reach(t)
			v := e.attendee(ev, aid)
			if v["status"] != sc.status || v["detail"] != sc.detail || v["status_label"] != sc.label || v["detail_label"] != sc.dlabel {
				t.Fatalf("reached %v/%v (%v, %v), want %s/%s (%s, %s)", v["status"], v["detail"], v["status_label"], v["detail_label"], sc.status, sc.detail, sc.label, sc.dlabel)
			}
			want := sc.expectedActions()
			if got := anyStrings(v["actions"]); !slices.Equal(got, want) {
				t.Fatalf("actions %v, want %v", got, want)
			}
			for _, act := range menuOrder {
				allowed := slices.Contains(want, act)
				t.Run(act, func(t *testing.T) {
					ev, aid := sc.reach(t) // a fresh attendee: actions change things
					before := e.attendee(ev, aid)
					path := "/api/v1/events/" + ev + "/attendees/" + aid
					var r *apitest.Response
					okStatus := http.StatusOK
					switch act {
					case "edit":
						r = e.Do("PATCH", path, e.APIKey, map[string]any{"first_name": "Edited"})
					case "view_analytics":
						r = e.Do("GET", path+"/analytics", e.APIKey, nil)
					case "remove":
						r = e.Do("DELETE", path, e.APIKey, nil)
						okStatus = http.StatusNoContent
					default:
						r = e.Do("POST", path+"/actions/"+act, e.APIKey, nil)
					}
					if !allowed {
						if r.Status != http.StatusConflict || r.ErrorCode() != "action_not_allowed" {
							t.Fatalf("%s in %s: %d %s, want 409 action_not_allowed", act, sc.name, r.Status, r.Body)
						}
						if msg := string(r.Body); !strings.Contains(msg, sc.label) {
							t.Fatalf("refusal does not name the status %s: %s", sc.label, msg)
						}
						after := e.attendee(ev, aid)
						if after["status"] != before["status"] || after["detail"] != before["detail"] || after["first_name"] != before["first_name"] ||
							fmt.Sprint(after["last_email"]) != fmt.Sprint(before["last_email"]) || after["blocked_from_chat"] != before["blocked_from_chat"] {
							t.Fatalf("a refused %s changed the attendee: %v", act, after)
						}
						return
					}
					if r.Status != okStatus {
						t.Fatalf("%s in %s: %d %s, want %d", act, sc.name, r.Status, r.Body, okStatus)
					}
					checkDone(t, e, ev, aid, act, before, r)
				})
			}
		})
	}
}

// checkDone checks that an allowed action did what it says.
func checkDone(t *testing.T, e *eventsEnv, ev, aid, act string, before map[string]any, r *apitest.Response) {
	t.Helper()
	path := "/api/v1/events/" + ev + "/attendees/" + aid
	switch act {
	case "edit":
		if got := r.Map(t); got["first_name"] != "Edited" || got["last_name"] != "Person" && got["last_name"] != "Istrant" && got["last_name"] != "Sso" {
			t.Fatalf("edit answered %v", got)
		}
		if got := e.attendee(ev, aid); got["first_name"] != "Edited" || !strings.HasPrefix(got["name"].(string), "Edited ") {
			t.Fatalf("edit not stored: %v", got)
		}
	case "view_analytics":
		var an struct {
			Visits []map[string]any `json:"visits"`
			Logins []map[string]any `json:"logins"`
		}
		r.JSON(t, &an)
		if an.Visits == nil || an.Logins == nil {
			t.Fatalf("analytics lacks visits or logins: %s", r.Body)
		}
		for _, v := range an.Visits {
			if v["attendee_id"] != aid {
				t.Fatalf("analytics shows another attendee's visit: %s", r.Body)
			}
		}
		if st := e.attendee(ev, aid)["status"]; st == "attended" && len(an.Visits) == 0 {
			t.Fatalf("an attended attendee's analytics shows no visit: %s", r.Body)
		}
	case "remove":
		e.Must(e.Do("GET", path, e.APIKey, nil), http.StatusNotFound)
		if r := e.Do("DELETE", path, e.APIKey, nil); r.Status != http.StatusNotFound {
			t.Fatalf("second remove: %d", r.Status)
		}
	case "resend_invitation", "resend_registration_confirmation":
		got := r.Map(t)
		le, ok := got["last_email"].(map[string]any)
		if !ok || le["status"] != "queued" || le["id"] == "" {
			t.Fatalf("%s answered without a queued last_email: %v", act, got)
		}
		if prev, ok := before["last_email"].(map[string]any); ok && prev["id"] == le["id"] {
			t.Fatalf("%s queued nothing new: last_email is still %v", act, prev)
		}
		if again := e.attendee(ev, aid)["last_email"].(map[string]any); again["id"] != le["id"] {
			t.Fatalf("last_email differs on reading: %v vs %v", again, le)
		}
	case "block_from_chat":
		if got := r.Map(t); got["blocked_from_chat"] != true || slices.Contains(anyStrings(got["actions"]), "block_from_chat") {
			t.Fatalf("block from chat answered %v", got)
		}
		if r := e.Do("POST", path+"/actions/block_from_chat", e.APIKey, nil); r.Status != http.StatusConflict || r.ErrorCode() != "action_not_allowed" {
			t.Fatalf("second block from chat: %d %s", r.Status, r.Body)
		}
	case "generate_login_link":
		got := r.Map(t)
		u, _ := got["url"].(string)
		if !strings.HasPrefix(u, e.URL+"/l/") || len(strings.TrimPrefix(u, e.URL+"/l/")) != 43 {
			t.Fatalf("login link %q", u)
		}
		if exp, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got["expires_at"])); err != nil || !exp.After(e.Clock.Now()) {
			t.Fatalf("login link expiry %v", got["expires_at"])
		}
	default:
		t.Fatalf("no check for %s", act)
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestAttendeeRequestErrors(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	ev := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
	a := e.invite(ev, "ada@guest.test")
	path := "/api/v1/events/" + ev + "/attendees/" + a["id"].(string)

	if a["status"] != "invited" || a["detail"] != "invited_by_team_member" || a["name"] != "Pat Person" || a["last_email"] != nil ||
		fmt.Sprint(a["roles"]) != "[attendee]" || a["image_url"] != nil {
		t.Fatalf("invited view: %v", a)
	}
	for _, tc := range []struct {
		action, want string
	}{
		{"fly_away", `unknown action \"fly_away\"`},
		{"edit", "PATCH /api/v1/events/{id}/attendees/{aid}"},
		{"remove", "DELETE"},
		{"view_analytics", "/analytics"},
	} {
		r := e.Do("POST", path+"/actions/"+tc.action, e.APIKey, nil)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"action"`) || !strings.Contains(string(r.Body), tc.want) {
			t.Errorf("action %s: %d %s", tc.action, r.Status, r.Body)
		}
	}
	// Without email set up, "Invite" and re-sending say so and change nothing.
	if r := e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey, map[string]any{"email": "bo@guest.test", "first_name": "Bo", "last_name": "B", "send_email": true}); r.Status != http.StatusConflict || r.ErrorCode() != "email_unavailable" {
		t.Fatalf("send_email without email: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", path+"/actions/resend_invitation", e.APIKey, nil); r.Status != http.StatusConflict || r.ErrorCode() != "email_unavailable" {
		t.Fatalf("resend without email: %d %s", r.Status, r.Body)
	}
	list := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees", e.APIKey, nil), http.StatusOK).Map(t)
	if list["total"] != float64(1) {
		t.Fatalf("a refused invitation added someone: %v", list)
	}
	// Bad invitations name the field.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"email": "not-an-email", "first_name": "X", "last_name": "Y"}, "email"},
		{map[string]any{"email": "x@guest.test", "first_name": "", "last_name": "Y"}, "first_name"},
		{map[string]any{"email": "x@guest.test", "first_name": "X", "last_name": "Y", "speaker": true, "bio": strings.Repeat("b", 2501)}, "bio"},
		{map[string]any{"email": "x@guest.test", "first_name": "X", "last_name": "Y", "title": "CTO"}, "speaker"},
		{map[string]any{"email": "x@guest.test", "first_name": "X", "last_name": "Y", "speaker": true, "image_ref": "AAAAAAAAAAAAAAAAAAAAAA"}, "image_ref"},
		{map[string]any{"email": "x@guest.test", "first_name": "X", "last_name": "Y", "role": "speaker"}, "role"},
	} {
		r := e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey, tc.body)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
			t.Errorf("invite %v: %d %s, want 400 naming %s", tc.body, r.Status, r.Body, tc.field)
		}
	}
	if r := e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey, map[string]any{"email": "ADA@guest.test", "first_name": "Ada", "last_name": "L"}); r.Status != http.StatusConflict || r.ErrorCode() != "attendee_exists" {
		t.Fatalf("same person twice: %d %s", r.Status, r.Body)
	}
	// PATCH keeps what it does not name.
	e.Must(e.Do("PATCH", path, e.APIKey, map[string]any{"speaker": true, "title": "CTO", "company": "Analytical Engines"}), http.StatusOK)
	got := e.Must(e.Do("PATCH", path, e.APIKey, map[string]any{"last_name": "Lovelace"}), http.StatusOK).Map(t)
	if got["title"] != "CTO" || got["speaker"] != true || got["last_name"] != "Lovelace" || got["first_name"] != "Pat" || fmt.Sprint(got["roles"]) != "[attendee speaker]" {
		t.Fatalf("partial edit: %v", got)
	}
	if r := e.Do("PATCH", path, e.APIKey, map[string]any{"email": "new@guest.test"}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"email"`) {
		t.Fatalf("email edit: %d %s", r.Status, r.Body)
	}
	// Blocking is for account admins; members organize but do not block.
	_, member := e.ConsoleUser("member@org.test", "member")
	req, _ := http.NewRequest("POST", e.URL+path+"/block", nil)
	if r := e.Send(member, req); r.Status != http.StatusForbidden || r.ErrorCode() != "admin_only" {
		t.Fatalf("member blocked: %d %s", r.Status, r.Body)
	}
	req, _ = http.NewRequest("GET", e.URL+path, nil)
	if r := e.Send(member, req); r.Status != http.StatusOK {
		t.Fatalf("member cannot see the attendee: %d %s", r.Status, r.Body)
	}
	blocked := e.Must(e.Do("POST", path+"/block", e.APIKey, nil), http.StatusOK).Map(t)
	if blocked["status"] != "blocked" || blocked["status_label"] != "Blocked" {
		t.Fatalf("blocked: %v", blocked)
	}
	if r := e.Do("POST", path+"/block", e.APIKey, nil); r.Status != http.StatusConflict {
		t.Fatalf("blocking twice: %d %s", r.Status, r.Body)
	}
	audit := string(e.Must(e.Do("GET", "/api/v1/audit", e.APIKey, nil), http.StatusOK).Body)
	for _, want := range []string{"attendee.invited", "attendee.edited", "attendee.block"} {
		if !strings.Contains(audit, `"action":"`+want+`"`) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

func TestInviteWithEmailShowsTheQueuedEmail(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, true)
	ev := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
	a := e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey,
		map[string]any{"email": "gia@guest.test", "first_name": "Gia", "last_name": "Guest", "send_email": true}), http.StatusCreated).Map(t)
	le, ok := a["last_email"].(map[string]any)
	if !ok || le["status"] != "queued" || le["queued_at"] == nil {
		t.Fatalf("invite with email: last_email %v", a["last_email"])
	}
	msg := e.Must(e.Do("GET", "/api/v1/mail/messages/"+le["id"].(string), e.APIKey, nil), http.StatusOK).Map(t)
	if !strings.Contains(fmt.Sprint(msg), "gia@guest.test") {
		t.Fatalf("the queued message is not to the invitee: %v", msg)
	}
	silent := e.invite(ev, "sid@guest.test")
	if silent["last_email"] != nil {
		t.Fatalf("invite without an email queued one: %v", silent["last_email"])
	}
	list := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees?sort=name", e.APIKey, nil), http.StatusOK).Map(t)
	items := list["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["last_email"] == nil || items[1].(map[string]any)["last_email"] != nil {
		t.Fatalf("list last_email: %v", items)
	}
}

// TestEventEndpointsRefuseOtherAccounts: another account's key reaches no
// event or attendee, and changes nothing.
func TestEventEndpointsRefuseOtherAccounts(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, true)
	ev := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
	a := e.invite(ev, "ada@guest.test")["id"].(string)
	_, otherKey := e.SecondAccount()
	p := "/api/v1/events/" + ev
	cases := []struct {
		method, path string
		body         any
	}{
		{"GET", p, nil},
		{"PATCH", p, map[string]any{"name": "stolen"}},
		{"GET", p + "/attendees", nil},
		{"GET", p + "/attendees?status=invited&sort=name", nil},
		{"POST", p + "/attendees", map[string]any{"email": "x@b.test", "first_name": "X", "last_name": "Y"}},
		{"GET", p + "/attendees/" + a, nil},
		{"PATCH", p + "/attendees/" + a, map[string]any{"first_name": "Stolen"}},
		{"DELETE", p + "/attendees/" + a, nil},
		{"GET", p + "/attendees/" + a + "/analytics", nil},
		{"POST", p + "/attendees/" + a + "/block", nil},
	}
	for _, act := range []string{"resend_invitation", "resend_registration_confirmation", "block_from_chat", "generate_login_link"} {
		cases = append(cases, struct {
			method, path string
			body         any
		}{"POST", p + "/attendees/" + a + "/actions/" + act, nil})
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if r := e.Do(tc.method, tc.path, otherKey, tc.body); r.Status != http.StatusNotFound {
				t.Fatalf("other account: %d %s, want 404", r.Status, r.Body)
			}
			if r := e.Do(tc.method, tc.path, "", tc.body); r.Status != http.StatusUnauthorized {
				t.Fatalf("no credentials: %d, want 401", r.Status)
			}
		})
	}
	if r := e.Must(e.Do("GET", "/api/v1/events", otherKey, nil), http.StatusOK); strings.Contains(string(r.Body), ev) {
		t.Fatalf("other account's event list shows this account's event: %s", r.Body)
	}
	// Nothing changed: the event, the attendee, no email, no login link.
	got := e.Must(e.Do("GET", p, e.APIKey, nil), http.StatusOK).Map(t)
	att := e.attendee(ev, a)
	if got["name"] == "stolen" || att["first_name"] != "Pat" || att["last_email"] != nil || att["status"] != "invited" {
		t.Fatalf("another account changed things: %v %v", got, att)
	}
	if list := e.Must(e.Do("GET", p+"/attendees", e.APIKey, nil), http.StatusOK).Map(t); list["total"] != float64(1) {
		t.Fatalf("another account added an attendee: %v", list)
	}
	// An image of another account cannot be put on this account's speakers.
	ref := e.Must(e.upload(otherKey, "image/png", pngBytes(t, 20, 10)), http.StatusCreated).Map(t)["ref"].(string)
	r := e.Do("PATCH", p+"/attendees/"+a, e.APIKey, map[string]any{"speaker": true, "image_ref": ref})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"image_ref"`) {
		t.Fatalf("another account's image accepted: %d %s", r.Status, r.Body)
	}
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// upload sends an image as the raw body.
func (e *eventsEnv) upload(key, contentType string, b []byte) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/images", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.Send(http.DefaultClient, req)
}

// uploadForm sends a file in a multipart form field, as a browser does.
func (e *eventsEnv) uploadForm(field, filename, partType string, b []byte) *apitest.Response {
	e.T.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("note", "speaker photo")
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename)}
	h["Content-Type"] = []string{partType}
	pw, _ := mw.CreatePart(h)
	pw.Write(b)
	mw.Close()
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/images", &body)
	req.Header.Set("Authorization", "Bearer "+e.APIKey)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.Send(http.DefaultClient, req)
}

func TestSpeakerImages(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	pic := pngBytes(t, 64, 48)

	up := e.Must(e.uploadForm("image", "me.png", "image/png", pic), http.StatusCreated).Map(t)
	ref, _ := up["ref"].(string)
	if up["content_type"] != "image/png" || up["width"] != float64(64) || up["height"] != float64(48) || up["url"] != "/media/images/"+ref || len(ref) != 22 {
		t.Fatalf("upload answer: %v", up)
	}
	// Served publicly, byte for byte, as what it was checked to be.
	r := e.Must(e.Get(e.Client(), "/media/images/"+ref), http.StatusOK)
	if !bytes.Equal(r.Body, pic) || r.Header.Get("Content-Type") != "image/png" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(r.Header.Get("Cache-Control"), "public") {
		t.Fatalf("served image: %d bytes, headers %v", len(r.Body), r.Header)
	}
	req, _ := http.NewRequest("GET", e.URL+"/media/images/"+ref, nil)
	req.Header.Set("If-None-Match", r.Header.Get("ETag"))
	if r := e.Send(http.DefaultClient, req); r.Status != http.StatusNotModified {
		t.Fatalf("conditional GET: %d", r.Status)
	}
	if r := e.Get(e.Client(), "/media/images/AAAAAAAAAAAAAAAAAAAAAA"); r.Status != http.StatusNotFound {
		t.Fatalf("unknown image: %d", r.Status)
	}
	if r := e.Get(e.Client(), "/media/images/..%2f..%2fetc"); r.Status != http.StatusNotFound {
		t.Fatalf("malformed ref: %d", r.Status)
	}
	// The raw body works too.
	raw := e.Must(e.upload(e.APIKey, "image/png", pngBytes(t, 5, 7)), http.StatusCreated).Map(t)
	if raw["width"] != float64(5) || raw["height"] != float64(7) || raw["ref"] == ref {
		t.Fatalf("raw upload: %v", raw)
	}

	// What a file is comes from its bytes, never its name or declared type.
	text := []byte("this is not a picture, just text pretending to be one\n")
	for _, r := range []*apitest.Response{
		e.uploadForm("image", "photo.png", "image/png", text),
		e.upload(e.APIKey, "image/png", text),
	} {
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"image"`) || !strings.Contains(string(r.Body), "text/plain") {
			t.Errorf("text renamed .png: %d %s", r.Status, r.Body)
		}
	}
	damaged := append([]byte{}, pic[:40]...)
	if r := e.upload(e.APIKey, "image/png", damaged); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "damaged") {
		t.Errorf("damaged PNG: %d %s", r.Status, r.Body)
	}
	big := append(append([]byte{}, pic...), make([]byte, event.MaxImageBytes)...)
	for _, r := range []*apitest.Response{e.upload(e.APIKey, "image/png", big), e.uploadForm("image", "big.png", "image/png", big)} {
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "larger than 2 MB") {
			t.Errorf("3 MB image: %d %s", r.Status, r.Body)
		}
	}
	for _, tc := range []struct {
		r    *apitest.Response
		want string
	}{
		{e.upload(e.APIKey, "text/plain", pic), "not an image"},
		{e.upload(e.APIKey, "", pic), "multipart/form-data"},
		{e.upload(e.APIKey, "image/png", nil), "empty"},
		{e.uploadForm("photo", "me.png", "image/png", pic), `no \"image\" field`},
	} {
		if tc.r.Status != http.StatusBadRequest || !strings.Contains(string(tc.r.Body), tc.want) {
			t.Errorf("want 400 %q: %d %s", tc.want, tc.r.Status, tc.r.Body)
		}
	}

	// A speaker with the image: the list shows where to fetch it.
	ev := e.event(nil)["id"].(string)
	a := e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey, map[string]any{
		"email": "spk@guest.test", "first_name": "Spea", "last_name": "Ker", "speaker": true, "title": "Keynote", "image_ref": ref}), http.StatusCreated).Map(t)
	if a["image_url"] != "/media/images/"+ref || a["image_ref"] != ref {
		t.Fatalf("speaker view: %v", a)
	}
	// Each upload is in the audit log; refused ones are not.
	audit := string(e.Must(e.Do("GET", "/api/v1/audit", e.APIKey, nil), http.StatusOK).Body)
	if n := strings.Count(audit, `"action":"image.uploaded"`); n != 2 || !strings.Contains(audit, ref) {
		t.Fatalf("audit has %d image.uploaded entries, want 2 naming %s", n, ref)
	}
}

// TestImageUploadNeedsCredentials: uploading is for organizers; serving is
// public.
func TestImageUploadNeedsCredentials(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	if r := e.upload("", "image/png", pngBytes(t, 2, 2)); r.Status != http.StatusUnauthorized {
		t.Fatalf("anonymous upload: %d", r.Status)
	}
}

func TestAttendeeListQueryErrors(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	ev := e.event(nil)["id"].(string)
	for i := 0; i < 3; i++ {
		e.invite(ev, e.email())
	}
	for _, tc := range []struct {
		query, field, want string
	}{
		{"status=attending", "status", `unknown status \"attending\"`},
		{"status=invited&status=nope", "status", `\"nope\"`},
		{"role=keynote", "role", `unknown role \"keynote\"`},
		{"sort=email", "sort", `unknown sort \"email\"`},
		{"order=up", "order", `unknown order \"up\"`},
		{"page=0", "page", "out of range"},
		{"page=-3", "page", "out of range"},
		{"page=two", "page", "not a whole number"},
		{"page=2", "page", "page 2 is out of range: 3 attendees match, 1 pages of 50"},
		{"page=2000000", "page", "out of range"},
		{"per_page=501", "per_page", "between 1 and 500"},
		{"per_page=0", "per_page", "between 1 and 500"},
		{"statuses=invited", "statuses", "unknown query parameter"},
	} {
		r := e.Do("GET", "/api/v1/events/"+ev+"/attendees?"+tc.query, e.APIKey, nil)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) || !strings.Contains(string(r.Body), tc.want) {
			t.Errorf("?%s: %d %s, want 400 naming %s with %q", tc.query, r.Status, r.Body, tc.field, tc.want)
		}
	}
	// Several wrong parameters are all named.
	r := e.Do("GET", "/api/v1/events/"+ev+"/attendees?status=x&role=y&per_page=9999", e.APIKey, nil)
	for _, f := range []string{"status", "role", "per_page"} {
		if !strings.Contains(string(r.Body), `"field":"`+f+`"`) {
			t.Errorf("combined errors lack %s: %s", f, r.Body)
		}
	}
	// Page 1 of an empty list is an empty page, not an error.
	empty := e.event(nil)["id"].(string)
	if got := e.Must(e.Do("GET", "/api/v1/events/"+empty+"/attendees", e.APIKey, nil), http.StatusOK).Map(t); got["total"] != float64(0) || len(got["items"].([]any)) != 0 {
		t.Fatalf("empty list: %v", got)
	}
	e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees?page=1&per_page=500", e.APIKey, nil), http.StatusOK)
}

var (
	listFirst = []string{"Ada", "Alan", "Émile", "Grace", "Mara", "Max", "Maria", "Linus", "Zoë", "Ken", "Barbara", "Edsger", "Margaret"}
	listLast  = []string{"Lovelace", "Turing", "Hopper", "Martin", "Maxwell", "Torvalds", "Liskov", "Müller", "O'Neil", "Zuse", "Mccarthy"}
	listState = [][2]string{
		{"invited", "invited_by_team_member"}, {"invited", "invited_to_register"}, {"registered", "registered"},
		{"registered", "confirmed_email"}, {"registered", "no_confirmation_required"}, {"attended", "pre_event_visit"},
		{"attended", "during_event_visit"}, {"sso_login", "sso_login"}, {"unregistered", "unregistered"}, {"blocked", "blocked"},
	}
)

// seedAttendees inserts n attendees of an event in multi-row inserts (the
// API would take minutes) with varied names, roles, states and creation
// times that tie, so the id tie-break matters.
func seedAttendees(t *testing.T, e *eventsEnv, accountID, eventID string, n int) []event.Attendee {
	t.Helper()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]event.Attendee, n)
	for i := range rows {
		first, last := listFirst[i%len(listFirst)], listLast[(i/len(listFirst))%len(listLast)]
		st := listState[(i/3)%len(listState)]
		email := fmt.Sprintf("%s.%s.%d@d%d.test", strings.ToLower(first), strings.ToLower(strings.ReplaceAll(last, "'", "")), i, i%5)
		rows[i] = event.Attendee{
			ID: id.New(), AccountID: accountID, EventID: eventID, UserID: id.New(), Email: event.SearchKey(email),
			FirstName: first, LastName: last,
			NameKey: event.SearchKey(strings.ToLower(first + " " + last)), LastKey: event.SearchKey(strings.ToLower(last)),
			Speaker: i%7 == 0, Moderator: i%11 == 0, Organizer: i%13 == 0,
			RegistrationType: event.RegInvited, Status: event.Status(st[0]), Detail: event.Detail(st[1]),
			CreatedAt: base.Add(time.Duration((i*7919)%(n/3)) * time.Second), UpdatedAt: base,
		}
	}
	if err := e.DB.W.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// expectedPage computes a list query's answer in Go, from the rows as
// seeded: prefix search on email, "first last" and last name (lower case),
// any of the roles, any of the statuses, the sort with the id tie-break.
func expectedPage(all []event.Attendee, v url.Values) ([]string, int) {
	s := strings.ToLower(strings.TrimSpace(v.Get("search")))
	var keep []event.Attendee
	for _, a := range all {
		if s != "" && !strings.HasPrefix(string(a.Email), s) && !strings.HasPrefix(string(a.NameKey), s) && !strings.HasPrefix(string(a.LastKey), s) {
			continue
		}
		if roles := v["role"]; len(roles) > 0 {
			ok := false
			for _, r := range roles {
				ok = ok || r == "attendee" || r == "speaker" && a.Speaker || r == "moderator" && a.Moderator || r == "organizer" && a.Organizer
			}
			if !ok {
				continue
			}
		}
		if sts := v["status"]; len(sts) > 0 && !slices.Contains(sts, string(a.Status)) {
			continue
		}
		keep = append(keep, a)
	}
	desc := v.Get("order") == "desc"
	slices.SortFunc(keep, func(x, y event.Attendee) int {
		c := 0
		if v.Get("sort") == "name" {
			c = strings.Compare(string(x.NameKey), string(y.NameKey))
		} else {
			c = x.CreatedAt.Compare(y.CreatedAt)
		}
		if c == 0 {
			c = strings.Compare(x.ID, y.ID)
		}
		if desc {
			c = -c
		}
		return c
	})
	page, per := 1, 50
	fmt.Sscan(v.Get("page"), &page)
	fmt.Sscan(v.Get("per_page"), &per)
	var ids []string
	for i := (page - 1) * per; i < len(keep) && i < page*per; i++ {
		ids = append(ids, keep[i].ID)
	}
	return ids, len(keep)
}

// TestAttendeeListOn10000 checks search, filters, sort and paging of the All
// users list through the API against an independent computation, on SQLite
// and PostgreSQL.
func TestAttendeeListOn10000(t *testing.T) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			e := newEventsEnv(t, apitest.Options{Dialect: dialect}, false)
			ev := e.event(nil)["id"].(string)
			all := seedAttendees(t, e, e.AccountID, ev, 10000)
			// Another event's attendees never show.
			seedAttendees(t, e, e.AccountID, e.event(nil)["id"].(string), 300)

			queries := []string{
				"",
				"sort=name",
				"sort=name&order=desc&per_page=500&page=3",
				"sort=created_at&order=desc&per_page=500&page=20",
				"per_page=1&page=10000",
				"search=ma",
				"search=max&sort=name&per_page=500",
				"search=%20MAX%20",
				"search=ada%20lov&sort=name&per_page=500",
				"search=m%C3%BCller&sort=name",
				"search=ZO%C3%8B&page=2",
				"search=grace.hopper.1&per_page=500",
				"search=@d1.test",
				"search=nobody-has-this-name",
				"role=speaker",
				"role=speaker&role=moderator&sort=name&per_page=500&page=2",
				"role=organizer&role=attendee&per_page=500&page=7",
				"status=invited",
				"status=blocked&status=sso_login&sort=name&order=desc&per_page=100&page=4",
				"search=m&role=speaker&status=attended&status=unregistered&sort=name&order=desc&per_page=7&page=2",
				"search=lovelace&role=moderator&status=registered&sort=created_at&per_page=3",
			}
			for _, qs := range queries {
				v, err := url.ParseQuery(qs)
				if err != nil {
					t.Fatal(err)
				}
				want, total := expectedPage(all, v)
				r := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees?"+qs, e.APIKey, nil), http.StatusOK)
				var got struct {
					Items []struct {
						ID          string  `json:"id"`
						EventID     string  `json:"event_id"`
						Status      string  `json:"status"`
						StatusLabel string  `json:"status_label"`
						DetailLabel string  `json:"detail_label"`
						Actions     []any   `json:"actions"`
						LastEmail   *string `json:"last_email"`
					} `json:"items"`
					Total   int `json:"total"`
					Page    int `json:"page"`
					PerPage int `json:"per_page"`
				}
				r.JSON(t, &got)
				var ids []string
				for _, it := range got.Items {
					ids = append(ids, it.ID)
					if it.EventID != ev || it.StatusLabel == "" || it.DetailLabel == "" || it.Actions == nil || it.LastEmail != nil {
						t.Fatalf("?%s: row %+v", qs, it)
					}
				}
				if got.Total != total || !slices.Equal(ids, want) {
					t.Fatalf("?%s: total %d, %d rows; want total %d, %d rows (first got %v, want %v)", qs, got.Total, len(ids), total, len(want), head(ids), head(want))
				}
				page, per := 1, 50
				fmt.Sscan(v.Get("page"), &page)
				fmt.Sscan(v.Get("per_page"), &per)
				if got.Page != page || got.PerPage != per {
					t.Fatalf("?%s: page %d per_page %d", qs, got.Page, got.PerPage)
				}
				if total > 0 && len(want) == 0 {
					t.Fatalf("?%s: the expectation is an empty page of a non-empty result; pick another page", qs)
				}
			}
			// Past the last page is named, not an empty success.
			r := e.Do("GET", "/api/v1/events/"+ev+"/attendees?per_page=500&page=21", e.APIKey, nil)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "10000 attendees match, 20 pages of 500") {
				t.Fatalf("page 21 of 20: %d %s", r.Status, r.Body)
			}
		})
	}
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
