package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/lti/ltitest"
)

const ltiClaim = "https://purl.imsglobal.org/spec/lti/claim/"

// started is a login the tool began: its state and nonce, as the
// platform's authorization endpoint receives them.
type started struct {
	c            *http.Client
	state, nonce string
}

func (e *ltiEnv) start(userHint string) started {
	e.T.Helper()
	c := e.Client()
	q := e.login(c, userHint, "bio").Query()
	return started{c: c, state: q.Get("state"), nonce: q.Get("nonce")}
}

func (e *ltiEnv) claims(userHint, nonce string) map[string]any {
	u := ltitest.User{Sub: "u-ada", Email: "ada@uni.test", GivenName: "Ada", FamilyName: "Lovelace", Roles: []string{ltitest.RoleInstructor}}
	if userHint == "student" {
		u = ltitest.User{Sub: "u-bob", Email: "bob@uni.test", GivenName: "Bob", FamilyName: "Stone", Roles: []string{ltitest.RoleLearner}}
	}
	return e.plat.Claims(u, ltitest.Link{ID: "rl-bio-1", Title: "Live class", ContextID: "course-bio", ContextTitle: "Biology 101"}, nonce)
}

// refused checks a launch's answer is the refusal page with the code.
func refused(t *testing.T, r *apitest.Response, code string) {
	t.Helper()
	if r.Status < 400 || r.Status > 499 && r.Status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want a refusal %s: %.400s", r.Status, code, r.Body)
	}
	if !strings.Contains(string(r.Body), `data-error-code="`+code+`"`) || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("want the %s page, got %d: %.1500s", code, r.Status, r.Body)
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors *") {
		t.Errorf("the refusal page cannot show in the LMS frame: %q", r.Header.Get("Content-Security-Policy"))
	}
	if r.Header.Get("Set-Cookie") != "" && strings.Contains(r.Header.Get("Set-Cookie"), "ig_lti_session") {
		t.Errorf("a refused launch set a session cookie")
	}
}

func TestLTILaunchRefusals(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	otherKid, otherKey := e.plat.UnpublishedKey()
	cur := e.plat.Sign(map[string]any{}, ltitest.SignOptions{}) // its header names the published kid
	publishedKid := kidOf(t, cur)

	cases := []struct {
		name   string
		change func(c map[string]any)
		sign   ltitest.SignOptions
		code   string
	}{
		{"no kid", nil, ltitest.SignOptions{NoKid: true}, "lti_kid_missing"},
		{"unknown kid after refetch", nil, ltitest.SignOptions{Kid: otherKid, Key: otherKey}, "lti_kid_unknown"},
		{"wrong signature", nil, ltitest.SignOptions{Kid: publishedKid, Key: otherKey}, "lti_signature_invalid"},
		{"alg none", nil, ltitest.SignOptions{Alg: "none"}, "lti_alg_not_allowed"},
		{"HS256 keyed with the public key", nil, ltitest.SignOptions{Alg: "HS256"}, "lti_alg_not_allowed"},
		{"RS512", nil, ltitest.SignOptions{Alg: "RS512"}, "lti_alg_not_allowed"},
		{"missing iss", func(c map[string]any) { delete(c, "iss") }, ltitest.SignOptions{}, "lti_issuer_mismatch"},
		{"wrong iss", func(c map[string]any) { c["iss"] = "https://other.example.edu" }, ltitest.SignOptions{}, "lti_issuer_mismatch"},
		{"missing aud", func(c map[string]any) { delete(c, "aud") }, ltitest.SignOptions{}, "lti_audience_mismatch"},
		{"wrong aud", func(c map[string]any) { c["aud"] = "another-tool" }, ltitest.SignOptions{}, "lti_audience_mismatch"},
		{"several audiences without azp", func(c map[string]any) { c["aud"] = []string{ltiClientID, "another-tool"} }, ltitest.SignOptions{}, "lti_azp_mismatch"},
		{"wrong azp", func(c map[string]any) { c["aud"] = []string{ltiClientID, "another-tool"}; c["azp"] = "another-tool" }, ltitest.SignOptions{}, "lti_azp_mismatch"},
		{"missing sub", func(c map[string]any) { delete(c, "sub") }, ltitest.SignOptions{}, "lti_subject_missing"},
		{"missing deployment_id", func(c map[string]any) { delete(c, ltiClaim+"deployment_id") }, ltitest.SignOptions{}, "lti_deployment_unknown"},
		{"wrong deployment_id", func(c map[string]any) { c[ltiClaim+"deployment_id"] = "deployment-9" }, ltitest.SignOptions{}, "lti_deployment_unknown"},
		{"missing roles", func(c map[string]any) { delete(c, ltiClaim+"roles") }, ltitest.SignOptions{}, "lti_roles_missing"},
		{"missing message_type", func(c map[string]any) { delete(c, ltiClaim+"message_type") }, ltitest.SignOptions{}, "lti_message_type_unsupported"},
		{"wrong message_type", func(c map[string]any) { c[ltiClaim+"message_type"] = "LtiSubmissionReviewRequest" }, ltitest.SignOptions{}, "lti_message_type_unsupported"},
		{"deep linking without its settings", func(c map[string]any) { c[ltiClaim+"message_type"] = "LtiDeepLinkingRequest" }, ltitest.SignOptions{}, "lti_deep_linking_settings"},
		{"missing version", func(c map[string]any) { delete(c, ltiClaim+"version") }, ltitest.SignOptions{}, "lti_version_unsupported"},
		{"wrong version", func(c map[string]any) { c[ltiClaim+"version"] = "1.1" }, ltitest.SignOptions{}, "lti_version_unsupported"},
		{"missing resource_link", func(c map[string]any) { delete(c, ltiClaim+"resource_link") }, ltitest.SignOptions{}, "lti_resource_link_missing"},
		{"resource_link without id", func(c map[string]any) { c[ltiClaim+"resource_link"] = map[string]any{"title": "x"} }, ltitest.SignOptions{}, "lti_resource_link_missing"},
		{"target link elsewhere", func(c map[string]any) { c[ltiClaim+"target_link_uri"] = "https://evil.example.org/lti/launch" }, ltitest.SignOptions{}, "lti_target_link_invalid"},
		{"expired", func(c map[string]any) { c["exp"] = e.Clock.Now().Add(-2 * time.Minute).Unix() }, ltitest.SignOptions{}, "lti_token_expired"},
		{"iat an hour old", func(c map[string]any) { c["iat"] = e.Clock.Now().Add(-time.Hour).Unix() }, ltitest.SignOptions{}, "lti_token_time"},
		{"missing nonce", func(c map[string]any) { delete(c, "nonce") }, ltitest.SignOptions{}, "lti_nonce_mismatch"},
		{"another nonce", func(c map[string]any) { c["nonce"] = "not-the-login-nonce" }, ltitest.SignOptions{}, "lti_nonce_mismatch"},
	}
	sessions := func() int64 {
		var n int64
		e.DB.R.Raw("SELECT COUNT(*) FROM sessions WHERE method = 'lti_launch'").Scan(&n)
		return n
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := e.start("teacher")
			c := e.claims("teacher", s.nonce)
			if tc.change != nil {
				tc.change(c)
			}
			tok := e.plat.Sign(c, tc.sign)
			refused(t, e.launch(s.c, url.Values{"id_token": {tok}, "state": {s.state}}), tc.code)
		})
	}
	if n := sessions(); n != 0 {
		t.Fatalf("refused launches opened %d sessions", n)
	}
	// The page says what to fix; the log says what exactly was wrong.
	if logs := e.Logs.String(); !strings.Contains(logs, "lti launch refused") || !strings.Contains(logs, "step=signature") || !strings.Contains(logs, `detail="alg \"none\""`) {
		t.Errorf("the refusals' detail is not in the log")
	}

	t.Run("state missing, unknown, used, from another browser", func(t *testing.T) {
		s := e.start("teacher")
		tok := e.plat.Sign(e.claims("teacher", s.nonce), ltitest.SignOptions{})
		refused(t, e.launch(s.c, url.Values{"id_token": {tok}}), "lti_state_unknown")
		refused(t, e.launch(s.c, url.Values{"id_token": {tok}, "state": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}), "lti_state_unknown")

		// Another browser's login: this one holds its own state cookie.
		other := e.start("teacher")
		otherTok := e.plat.Sign(e.claims("teacher", other.nonce), ltitest.SignOptions{})
		refused(t, e.launch(s.c, url.Values{"id_token": {otherTok}, "state": {other.state}}), "lti_state_mismatch")

		// The right browser launches once; the same form again is refused:
		// its state was deleted by the first.
		s2 := e.start("teacher")
		tok2 := e.plat.Sign(e.claims("teacher", s2.nonce), ltitest.SignOptions{})
		form := url.Values{"id_token": {tok2}, "state": {s2.state}}
		if r := e.launch(s2.c, form); r.Status != http.StatusSeeOther {
			t.Fatalf("launch: %d %.500s", r.Status, r.Body)
		}
		refused(t, e.launch(s2.c, form), "lti_state_unknown")

		// The same id_token with a fresh login: its nonce is the old one's.
		s3 := e.start("teacher")
		refused(t, e.launch(s3.c, url.Values{"id_token": {tok2}, "state": {s3.state}}), "lti_nonce_mismatch")

		// A login left too long.
		s4 := e.start("teacher")
		e.Clock.Advance(11 * time.Minute)
		tok4 := e.plat.Sign(e.claims("teacher", s4.nonce), ltitest.SignOptions{})
		refused(t, e.launch(s4.c, url.Values{"id_token": {tok4}, "state": {s4.state}}), "lti_state_expired")
	})

	t.Run("login refusals", func(t *testing.T) {
		get := func(q url.Values) *apitest.Response {
			req, _ := http.NewRequest("GET", e.URL+"/lti/login?"+q.Encode(), nil)
			return e.Send(e.Client(), req)
		}
		ok := url.Values{"iss": {e.plat.Issuer}, "login_hint": {"teacher"}, "target_link_uri": {e.URL + "/lti/launch"}, "client_id": {ltiClientID}}
		with := func(k, v string) url.Values {
			q := url.Values{}
			for kk, vv := range ok {
				q[kk] = vv
			}
			if v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
			return q
		}
		refused(t, get(with("login_hint", "")), "lti_login_invalid")
		refused(t, get(with("iss", "https://unknown.example.edu")), "lti_platform_unknown")
		refused(t, get(with("client_id", "unknown-client")), "lti_platform_unknown")
		refused(t, get(with("target_link_uri", "https://evil.example.org/x")), "lti_target_link_invalid")
		refused(t, get(with("lti_deployment_id", "deployment-9")), "lti_deployment_unknown")
	})
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	h := strings.SplitN(tok, ".", 2)[0]
	var v struct {
		Kid string `json:"kid"`
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || json.Unmarshal(b, &v) != nil {
		t.Fatalf("header of %s", tok)
	}
	return v.Kid
}

// A launch from one account's platform, aimed at another account's room,
// lands in a room of its own account: the launch is resolved in the
// registration's account, whatever its target link says, and its session
// opens nothing else.
func TestLTILaunchStaysInItsAccount(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	otherAccount, otherKey := e.SecondAccount()
	theirs := e.Must(e.Do("POST", "/api/v1/resources/link", otherKey, map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusCreated).Map(t)["id"].(string)

	e.plat.TargetLinkURI = e.URL + "/lti/rooms/" + theirs
	room, c := e.roundTrip("teacher")
	if room == "/lti/rooms/"+theirs {
		t.Fatal("the launch landed in the other account's room")
	}
	var account string
	e.DB.R.Raw("SELECT account_id FROM resources WHERE id = ?", strings.TrimPrefix(room, "/lti/rooms/")).Scan(&account)
	if account != e.AccountID {
		t.Fatalf("the launch's room is in account %q, want the registration's %q", account, e.AccountID)
	}
	if r := e.Get(c, "/lti/rooms/"+theirs); r.Status != http.StatusUnauthorized {
		t.Errorf("the other account's room page with this session: %d", r.Status)
	}
	var n int64
	e.DB.R.Raw("SELECT COUNT(*) FROM collaborators WHERE resource_id = ?", theirs).Scan(&n)
	if n != 0 {
		t.Errorf("the launch made %d collaborators on the other account's room", n)
	}
	e.DB.R.Raw("SELECT COUNT(*) FROM users WHERE account_id = ? AND email = 'ada@uni.test'", otherAccount).Scan(&n)
	if n != 0 {
		t.Errorf("the launch made the launcher a user of the other account")
	}
}
