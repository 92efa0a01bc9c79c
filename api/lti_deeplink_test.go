package api_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/lti/ltitest"
)

var (
	pickerTokenRE = regexp.MustCompile(`name="token" value="([^"]+)"`)
	pickerRoomRE  = regexp.MustCompile(`data-room="([^"]+)"`)
	returnFormRE  = regexp.MustCompile(`<form method="post" action="([^"]+)" id="deep-link-return-form"`)
	returnJWTRE   = regexp.MustCompile(`name="JWT" value="([^"]+)"`)
)

// launchLink launches as a person of the platform from a link (or a deep
// linking hint) and returns the tool's answer and the browser.
func (e *ltiEnv) launchLink(userHint, linkHint string) (*apitest.Response, *http.Client) {
	e.T.Helper()
	c := e.Client()
	return e.launch(c, e.authorize(c, e.login(c, userHint, linkHint))), c
}

// pick posts the picker's form, from the picker's page.
func (e *ltiEnv) pick(c *http.Client, form url.Values) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/lti/deep-linking", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.URL)
	return e.Send(c, req)
}

// returnToPlatform posts the return page's form to the platform, as the
// page does by itself, and returns what the platform verified.
func (e *ltiEnv) returnToPlatform(r *apitest.Response) ltitest.DeepLinkReturn {
	e.T.Helper()
	action, jwt := returnFormRE.FindSubmatch(r.Body), returnJWTRE.FindSubmatch(r.Body)
	if r.Status != http.StatusOK || action == nil || jwt == nil {
		e.T.Fatalf("the return page: %d %.1500s", r.Status, r.Body)
	}
	if got := html.UnescapeString(string(action[1])); got != e.plat.DeepLinkReturnURL() {
		e.T.Fatalf("the return page posts to %q, want the request's return URL %q", got, e.plat.DeepLinkReturnURL())
	}
	before := len(e.plat.DeepLinkReturns())
	resp, err := http.PostForm(e.plat.DeepLinkReturnURL(), url.Values{"JWT": {string(jwt[1])}})
	if err != nil {
		e.T.Fatal(err)
	}
	resp.Body.Close()
	rets := e.plat.DeepLinkReturns()
	if resp.StatusCode != http.StatusOK || len(rets) != before+1 {
		e.T.Fatalf("the platform refused the response: %d", resp.StatusCode)
	}
	return rets[len(rets)-1]
}

// An instructor adds the tool to a course by deep linking: the picker
// lists their rooms; the room picked (or made) comes back to the platform
// in a response it verifies with the tool's key set, as an ltiResourceLink
// to the launch URL naming the room; a launch of that link opens the room.
func TestLTIDeepLinkingRoundTrip(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	e.plat.AddLink("add", ltitest.Link{ID: "dl-1", Title: "Guest lecture", ContextID: "course-bio", ContextTitle: "Biology 101", DeepLinking: true})
	// The instructor's course room, from a first launch: theirs to pick.
	room, _ := e.roundTrip("teacher")
	courseRoom := strings.TrimPrefix(room, "/lti/rooms/")

	r, c := e.launchLink("teacher", "add")
	body := string(e.Must(r, http.StatusOK).Body)
	for _, want := range []string{"Add a room to the course", "Biology 101 live", "Create a new room", `value="Guest lecture"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the picker lacks %q: %s", want, body)
		}
	}
	if rooms := pickerRoomRE.FindAllStringSubmatch(body, -1); len(rooms) != 1 || rooms[0][1] != courseRoom {
		t.Fatalf("the picker's rooms: %v, want the course room %s", rooms, courseRoom)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+e.plat.Issuer) {
		t.Errorf("the picker's CSP %q", csp)
	}
	tok := pickerTokenRE.FindStringSubmatch(body)[1]

	// A room the instructor does not collaborate on is refused, and the
	// pick may still be made.
	other := e.Resource(map[string]any{"type": "room", "title": "Someone else's"})
	if r := e.pick(c, url.Values{"token": {tok}, "title": {"Guest lecture"}}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `data-error-field="room"`) {
		t.Fatalf("a pick of nothing: %d %.800s", r.Status, r.Body)
	}
	refused(t, e.pick(c, url.Values{"token": {tok}, "room": {other}, "title": {"Guest lecture"}}), "lti_deep_linking_room")
	r, c = e.launchLink("teacher", "add")
	tok = pickerTokenRE.FindStringSubmatch(string(r.Body))[1]
	ret := e.returnToPlatform(e.pick(c, url.Values{"token": {tok}, "room": {courseRoom}}))
	if len(ret.Items) != 1 || ret.Items[0].Type != "ltiResourceLink" || ret.Items[0].URL != e.URL+"/lti/launch" ||
		ret.Items[0].Custom["invitegate_room"] != courseRoom || ret.Items[0].Title != "Biology 101 live" {
		t.Fatalf("content items %+v", ret.Items)
	}
	if string(ret.Data) != `"dl-dl-1"` {
		t.Fatalf("data %s, want the request's echoed", ret.Data)
	}
	// The pick is taken once.
	refused(t, e.pick(c, url.Values{"token": {tok}, "room": {courseRoom}}), "lti_deep_linking_spent")

	// A new room: made with the instructor as its owner.
	r, c = e.launchLink("teacher", "add")
	tok = pickerTokenRE.FindStringSubmatch(string(r.Body))[1]
	if r := e.pick(c, url.Values{"token": {tok}, "room": {"new"}, "title": {""}}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `data-error-field="title"`) {
		t.Fatalf("a new room without a title: %d %.800s", r.Status, r.Body)
	}
	ret = e.returnToPlatform(e.pick(c, url.Values{"token": {tok}, "room": {"new"}, "title": {"Guest lecture: Dr. Chen"}}))
	newRoom := ret.Items[0].Custom["invitegate_room"]
	var res resource.Resource
	if err := e.DB.R.Where("id = ? AND account_id = ?", newRoom, e.AccountID).Take(&res).Error; err != nil || res.Title != "Guest lecture: Dr. Chen" || res.Type != resource.Room {
		t.Fatalf("the new room %+v, %v", res, err)
	}
	var role string
	e.DB.R.Raw(`SELECT c.role FROM collaborators c JOIN users u ON u.id = c.user_id WHERE c.resource_id = ? AND u.email = 'ada@uni.test'`, newRoom).Scan(&role)
	if role != resource.Owner {
		t.Fatalf("the instructor's role on the new room: %q", role)
	}

	// The platform puts the link in the course; its launches open the room.
	custom := ret.Items[0].Custom
	e.plat.AddLink("placed", ltitest.Link{ID: "rl-placed", Title: ret.Items[0].Title, ContextID: "course-bio", ContextTitle: "Biology 101", Custom: custom})
	r, teacher := e.launchLink("teacher", "placed")
	if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != "/lti/rooms/"+newRoom {
		t.Fatalf("the placed link's launch: %d %q %.500s", r.Status, loc, r.Body)
	}
	page := string(e.Must(e.Get(teacher, "/lti/rooms/"+newRoom), http.StatusOK).Body)
	if !strings.Contains(page, "Guest lecture: Dr. Chen") || !strings.Contains(page, `id="open-invite"`) {
		t.Fatalf("the instructor's page of the placed room: %s", page)
	}
	r, student := e.launchLink("student", "placed")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/lti/rooms/"+newRoom {
		t.Fatalf("the learner's launch of the placed link: %d %q", r.Status, r.Header.Get("Location"))
	}
	page = string(e.Must(e.Get(student, "/lti/rooms/"+newRoom), http.StatusOK).Body)
	if strings.Contains(page, `id="open-invite"`) || !strings.Contains(page, `id="join"`) {
		t.Fatalf("the learner's page of the placed room: %s", page)
	}
	// The course room picked first opens through its room adapter.
	e.plat.AddLink("placed-course", ltitest.Link{ID: "rl-placed-2", ContextID: "course-other", ContextTitle: "Other", Custom: map[string]string{"invitegate_room": courseRoom}})
	if r, _ := e.launchLink("teacher", "placed-course"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != room {
		t.Fatalf("the placed course room's launch: %d %q %.500s", r.Status, r.Header.Get("Location"), r.Body)
	}
}

// Deep linking refusals, each with its page: a learner; a platform that
// takes no resource links; a link naming a room never placed from the
// platform, or a room of another account.
func TestLTIDeepLinkingRefusals(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	e.plat.AddLink("add", ltitest.Link{ID: "dl-1", Title: "Guest lecture", ContextID: "course-bio", ContextTitle: "Biology 101", DeepLinking: true})

	r, _ := e.launchLink("student", "add")
	refused(t, r, "lti_deep_linking_not_instructor")
	if r.Status != http.StatusForbidden {
		t.Errorf("a learner's deep linking: %d", r.Status)
	}

	s := e.start("teacher")
	u := ltitest.User{Sub: "u-ada", Email: "ada@uni.test", GivenName: "Ada", FamilyName: "Lovelace", Roles: []string{ltitest.RoleInstructor}}
	c := e.plat.DeepLinkingClaims(u, ltitest.Link{ID: "dl-1", ContextID: "course-bio"}, s.nonce)
	settings := c["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"].(map[string]any)
	settings["accept_types"] = []string{"link", "file"}
	refused(t, e.launch(s.c, url.Values{"id_token": {e.plat.Sign(c, ltitest.SignOptions{})}, "state": {s.state}}), "lti_deep_linking_types")

	s = e.start("teacher")
	c = e.plat.DeepLinkingClaims(u, ltitest.Link{ID: "dl-1", ContextID: "course-bio"}, s.nonce)
	delete(c["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"].(map[string]any), "deep_link_return_url")
	refused(t, e.launch(s.c, url.Values{"id_token": {e.plat.Sign(c, ltitest.SignOptions{})}, "state": {s.state}}), "lti_deep_linking_settings")

	notPlaced := e.Resource(map[string]any{"type": "room", "title": "Never placed"})
	_, otherKey := e.SecondAccount()
	var otherRoom map[string]any
	e.Must(e.Do("POST", "/api/v1/resources", otherKey, map[string]any{"type": "room", "title": "Another account's"}), http.StatusCreated).JSON(t, &otherRoom)
	for hint, rid := range map[string]string{"not-placed": notPlaced, "other-account": otherRoom["id"].(string)} {
		e.plat.AddLink(hint, ltitest.Link{ID: "rl-" + hint, ContextID: "course-bio", Custom: map[string]string{"invitegate_room": rid}})
		r, _ := e.launchLink("teacher", hint)
		refused(t, r, "lti_placed_room_unknown")
	}
	var n int64
	e.DB.R.Raw("SELECT COUNT(*) FROM sessions WHERE method = 'lti_launch'").Scan(&n)
	if n != 0 {
		t.Fatalf("refused launches opened %d sessions", n)
	}
}

// The room page's invite dialog suggests the course's members from the
// platform's NRPS endpoint, with the room adapter's roster and the
// account's people, names filled from the roster; learners get none.
func TestLTIRosterSuggestions(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	e.plat.PageSize = 1
	e.plat.AddMember("course-bio", ltitest.Member{UserID: "m1", Email: "sasha@uni.test", GivenName: "Sasha", FamilyName: "Reed", Roles: []string{ltitest.RoleLearner}})
	e.plat.AddMember("course-bio", ltitest.Member{UserID: "m2", Email: "lee@uni.test", GivenName: "Santi", FamilyName: "Lee", Roles: []string{ltitest.RoleLearner}})
	e.plat.AddMember("course-bio", ltitest.Member{UserID: "m3", Email: "sal@uni.test", GivenName: "Sal", FamilyName: "Gone", Status: "Deleted"})
	room, teacher := e.roundTrip("teacher")

	var got struct {
		Users []struct {
			Email, Source string
			First         string `json:"first_name"`
			Last          string `json:"last_name"`
		} `json:"users"`
		RosterUnavailable bool `json:"roster_unavailable"`
	}
	r := e.Must(e.Get(teacher, room+"/people?q=sa"), http.StatusOK)
	r.JSON(t, &got)
	var list []string
	for _, u := range got.Users {
		list = append(list, u.Email+"/"+u.First+"/"+u.Last+"/"+u.Source)
	}
	// Email matches first (the adapter's sam, NRPS's sasha), then the name
	// match (Santi Lee); the deleted member is not offered.
	if want := "sam@uni.test/Sam/Ortiz/roster,sasha@uni.test/Sasha/Reed/roster,lee@uni.test/Santi/Lee/roster"; strings.Join(list, ",") != want || got.RosterUnavailable {
		t.Fatalf("suggestions:\n got %s (unavailable %v)\nwant %s", strings.Join(list, ","), got.RosterUnavailable, want)
	}
	if n := e.plat.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests", n)
	}
	for _, q := range []string{"sas", "le"} {
		e.Must(e.Get(teacher, room+"/people?q="+q), http.StatusOK)
	}
	if n := e.plat.NRPSRequests(); n != 3 {
		t.Fatalf("%d NRPS page reads for three keystrokes over 3 pages, want 3 (one roster read)", n)
	}
	var raw map[string]any
	json.Unmarshal(e.Must(e.Get(teacher, room+"/people?q=le"), http.StatusOK).Body, &raw)
	if users := raw["users"].([]any); len(users) != 1 || users[0].(map[string]any)["email"] != "lee@uni.test" {
		t.Fatalf("q=le: %v", raw)
	}

	_, student := e.roundTrip("student")
	if r := e.Get(student, room+"/people?q=sa"); r.Status != http.StatusNotFound {
		t.Fatalf("a learner's suggestions: %d %s", r.Status, r.Body)
	}
}

// The deep linking URL an LMS admin pastes: in the tool's values of the
// API and, with a copy button, on the console's LTI page.
func TestLTIDeepLinkingURLShown(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	tool := e.Must(e.Do("GET", "/api/v1/lti/tool", e.APIKey, nil), http.StatusOK).Map(t)
	if tool["deep_linking_url"] != e.URL+"/lti/deep-linking" {
		t.Fatalf("the tool's values: %v", tool)
	}
	page := string(e.Must(e.Get(e.SignIn(e.Admin), "/console/lti"), http.StatusOK).Body)
	if !strings.Contains(page, `id="lti-deep-linking-url" value="`+e.URL+`/lti/deep-linking"`) || !strings.Contains(page, `data-copy="#lti-deep-linking-url"`) {
		t.Fatalf("the console's LTI page lacks the deep linking URL with its copy button: %s", page)
	}
}
