package api_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/lti/ltitest"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// ltiEnv is a gateway with the static-rooms plugin as its room adapter
// and an LTI platform (lti/ltitest, over HTTP) registered with its account.
type ltiEnv struct {
	*apitest.Env
	plat       *ltitest.Platform
	platformID string
}

const (
	ltiClientID   = "tool-client-1"
	ltiDeployment = "deployment-1"
)

func newLTIEnv(t *testing.T, o apitest.Options) *ltiEnv {
	t.Helper()
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	cfg := o.Config
	o.Config = func(c *app.Config) {
		c.Plugins = []host.Config{{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum, Config: map[string]any{
			"join_url": "https://video.example.org/join/{resource}?role={role}",
			"rooms": []any{map[string]any{"id": "bio-101", "type": "room", "title": "Biology 101 live", "lti_contexts": []any{"course-bio"},
				"roster": []any{map[string]any{"email": "sam@uni.test", "name": "Sam Ortiz"}}}},
		}}}
		if cfg != nil {
			cfg(c)
		}
	}
	env := apitest.New(t, o)
	now := env.Clock.Now
	if o.RealClock {
		now = nil
	}
	plat := ltitest.New(t, ltitest.Options{ClientID: ltiClientID, DeploymentID: ltiDeployment, ToolURL: env.URL, Now: now, ToolHTTP: env.HTTP.Client()})
	e := &ltiEnv{Env: env, plat: plat}
	e.platformID = e.register(env.APIKey, plat)
	plat.AddUser("teacher", ltitest.User{Sub: "u-ada", Email: "ada@uni.test", GivenName: "Ada", FamilyName: "Lovelace", Roles: []string{ltitest.RoleInstructor}})
	plat.AddUser("student", ltitest.User{Sub: "u-bob", Email: "bob@uni.test", GivenName: "Bob", FamilyName: "Stone", Roles: []string{ltitest.RoleLearner}})
	plat.AddLink("bio", ltitest.Link{ID: "rl-bio-1", Title: "Live class", ContextID: "course-bio", ContextTitle: "Biology 101"})
	return e
}

// register registers a platform with the account of the API key.
func (e *ltiEnv) register(key string, p *ltitest.Platform) string {
	e.T.Helper()
	r := e.Must(e.Do("POST", "/api/v1/lti/platforms", key, map[string]any{
		"name": "Test LMS", "issuer": p.Issuer, "client_id": p.ClientID, "deployment_ids": []string{p.DeploymentID},
		"auth_login_url": p.AuthURL(), "token_url": p.TokenURL(), "jwks_url": p.JWKSURL(), "adapter": "rooms",
	}), http.StatusCreated)
	return r.Map(e.T)["id"].(string)
}

// login starts a launch as the platform's page does, and returns the
// redirect to the platform's authorization endpoint.
func (e *ltiEnv) login(c *http.Client, userHint, linkHint string) *url.URL {
	e.T.Helper()
	req, _ := http.NewRequest("GET", e.plat.LoginURL(userHint, linkHint), nil)
	r := e.Send(c, req)
	if r.Status != http.StatusSeeOther {
		e.T.Fatalf("login: %d %s", r.Status, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		e.T.Fatal(err)
	}
	return u
}

var hiddenRE = regexp.MustCompile(`name="(id_token|state)" value="([^"]*)"`)

// authorize follows the redirect to the platform, which answers with its
// auto-posted form; it returns the form's fields.
func (e *ltiEnv) authorize(c *http.Client, auth *url.URL) url.Values {
	e.T.Helper()
	req, _ := http.NewRequest("GET", auth.String(), nil)
	r := e.Send(c, req)
	if r.Status != http.StatusOK {
		e.T.Fatalf("platform's authorization: %d %s", r.Status, r.Body)
	}
	form := url.Values{}
	for _, m := range hiddenRE.FindAllSubmatch(r.Body, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	if form.Get("id_token") == "" || form.Get("state") == "" {
		e.T.Fatalf("the platform's form has no id_token and state: %s", r.Body)
	}
	return form
}

// launch posts the form to the tool as the platform's page does.
func (e *ltiEnv) launch(c *http.Client, form url.Values) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/lti/launch", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// The form comes from the platform's site.
	req.Header.Set("Origin", e.plat.Issuer)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return e.Send(c, req)
}

// roundTrip launches as a person of the platform and returns the room
// page's path and the client signed in there.
func (e *ltiEnv) roundTrip(userHint string) (string, *http.Client) {
	e.T.Helper()
	c := e.Client()
	form := e.authorize(c, e.login(c, userHint, "bio"))
	r := e.launch(c, form)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/lti/rooms/") {
		e.T.Fatalf("launch: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	return r.Header.Get("Location"), c
}

func TestLTILaunchRoundTrip(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	room, teacher := e.roundTrip("teacher")

	page := e.Get(teacher, room)
	e.Must(page, http.StatusOK)
	body := string(page.Body)
	for _, want := range []string{"Biology 101 live", `id="open-invite"`, "Invite users", `id="join"`, `data-role="owner"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the instructor's room page lacks %q: %s", want, body)
		}
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors "+e.plat.Issuer) || page.Header.Get("X-Frame-Options") != "" {
		t.Errorf("room page framing: CSP %q, X-Frame-Options %q; want frame-ancestors the platform only", csp, page.Header.Get("X-Frame-Options"))
	}

	// The launcher is the platform's person, known by issuer and sub.
	var n int64
	e.DB.R.Raw(`SELECT COUNT(*) FROM user_identities i JOIN users u ON u.id = i.user_id
		WHERE i.issuer = ? AND i.subject = 'u-ada' AND u.email = 'ada@uni.test' AND u.first_name = 'Ada'`, e.plat.Issuer).Scan(&n)
	if n != 1 {
		t.Errorf("identity rows for the instructor: %d, want 1", n)
	}
	rid := strings.TrimPrefix(room, "/lti/rooms/")
	var method string
	e.DB.R.Raw(`SELECT method FROM sessions WHERE scope = 'resource' AND scope_id = ?`, rid).Scan(&method)
	if method != "lti_launch" {
		t.Errorf("session method %q, want lti_launch", method)
	}

	// Inviting from the room page: the console's rules, the same core call.
	r := e.postJSON(teacher, room+"/invitations", `{"email":"guest@else.test","first_name":"Gail","last_name":"Guest","role":"speaker"}`)
	e.Must(r, http.StatusCreated)
	if !strings.Contains(string(r.Body), `"link":"`+e.URL+`/i/`) {
		t.Errorf("no link in the answer: %s", r.Body)
	}
	var inv invite.Invitation
	if err := e.DB.R.Where("resource_id = ? AND email = 'guest@else.test'", rid).Take(&inv).Error; err != nil || inv.Role != "speaker" {
		t.Errorf("invitation row: %+v, %v", inv, err)
	}
	if r := e.postJSON(teacher, room+"/invitations", `{"email":"guest2@else.test","role":"speaker"}`); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "first_name") {
		t.Errorf("an invitation without names: %d %s", r.Status, r.Body)
	}
	if r := e.Get(teacher, room+"/people?q=sa"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "sam@uni.test") {
		t.Errorf("suggestions: %d %s", r.Status, r.Body)
	}

	// Join: the room's join URL with a join token, as a moderator.
	req, _ := http.NewRequest(http.MethodPost, e.URL+room+"/join", nil)
	req.Header.Set("Origin", e.URL)
	j := e.Send(teacher, req)
	if loc := j.Header.Get("Location"); j.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://video.example.org/join/bio-101?") ||
		!strings.Contains(loc, "role=moderator") || !strings.Contains(loc, "jt=") {
		t.Errorf("join: %d %q", j.Status, j.Header.Get("Location"))
	}

	// A learner: the same room, a Join button, no invite option, and
	// their invitation is refused as the console refuses a person who is
	// no collaborator (404: the resource is not theirs to invite to).
	room2, student := e.roundTrip("student")
	if room2 != room {
		t.Fatalf("the learner landed on %s, the instructor on %s", room2, room)
	}
	body = string(e.Must(e.Get(student, room), http.StatusOK).Body)
	if !strings.Contains(body, `id="join"`) || strings.Contains(body, "Invite users") || strings.Contains(body, "invite-form") {
		t.Errorf("the learner's page: %s", body)
	}
	if r := e.postJSON(student, room+"/invitations", `{"email":"x@else.test","first_name":"X","last_name":"Y","role":"viewer"}`); r.Status != http.StatusNotFound {
		t.Errorf("a learner's invitation: %d %s", r.Status, r.Body)
	}
	// Sessions are for that room only.
	if r := e.Get(student, "/lti/rooms/"+e.Resource(map[string]any{"type": "room", "title": "Other"})); r.Status != http.StatusUnauthorized {
		t.Errorf("another room with the learner's session: %d", r.Status)
	}
	if r := e.Get(e.Client(), room); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "lti_session_missing") {
		t.Errorf("the room page without a session: %d %s", r.Status, r.Body)
	}
}

// postJSON posts JSON from the gateway's own page, with the client's cookies.
func (e *ltiEnv) postJSON(c *http.Client, path, body string) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", e.URL)
	return e.Send(c, req)
}

// Over https the tool's cookies work inside the LMS's frame: SameSite=None,
// Secure and Partitioned, each sent only to the route that reads it.
func TestLTICookiesOverHTTPS(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{TLS: true})
	c := e.Client()
	req, _ := http.NewRequest("GET", e.plat.LoginURL("teacher", "bio"), nil)
	r := e.Send(c, req)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	state := r.Header.Get("Set-Cookie")
	for _, want := range []string{"ig_lti_", "Path=/lti/launch", "HttpOnly", "Secure", "SameSite=None", "Partitioned"} {
		if !strings.Contains(state, want) {
			t.Errorf("state cookie %q lacks %s", state, want)
		}
	}
	u, _ := url.Parse(r.Header.Get("Location"))
	l := e.launch(c, e.authorize(c, u))
	if l.Status != http.StatusSeeOther {
		t.Fatalf("launch: %d %s", l.Status, l.Body)
	}
	var sess string
	for _, v := range l.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "ig_lti_session=") {
			sess = v
		}
	}
	for _, want := range []string{"Path=" + l.Header.Get("Location"), "HttpOnly", "Secure", "SameSite=None", "Partitioned"} {
		if !strings.Contains(sess, want) {
			t.Errorf("session cookie %q lacks %s", sess, want)
		}
	}
	e.Must(e.Get(c, l.Header.Get("Location")), http.StatusOK)
}
