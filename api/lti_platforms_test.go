package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
)

// Registrations are for the account's admins: members are refused, other
// accounts see none of them, every change is in the audit log, and the
// console page shows what an LMS admin pastes.
func TestLTIPlatformsAPI(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	path := "/api/v1/lti/platforms/" + e.platformID

	got := e.Must(e.Do("GET", path, e.APIKey, nil), http.StatusOK).Map(t)
	if got["issuer"] != e.plat.Issuer || got["client_id"] != ltiClientID || got["adapter"] != "rooms" {
		t.Fatalf("registration: %v", got)
	}
	list := e.Must(e.Do("GET", "/api/v1/lti/platforms", e.APIKey, nil), http.StatusOK).Map(t)["platforms"].([]any)
	if len(list) != 1 {
		t.Fatalf("list: %v", list)
	}
	r := e.Must(e.Do("PATCH", path, e.APIKey, map[string]any{"deployment_ids": []string{"deployment-1", "deployment-2"}, "name": "Sakai"}), http.StatusOK).Map(t)
	if r["name"] != "Sakai" || len(r["deployment_ids"].([]any)) != 2 || r["jwks_url"] != e.plat.JWKSURL() {
		t.Fatalf("patched: %v", r)
	}

	// Bad input: every field named at once, nothing stored.
	bad := e.Do("POST", "/api/v1/lti/platforms", e.APIKey, map[string]any{"name": "x", "issuer": "http://lms.example.edu", "adapter": "nope", "deployment_ids": []string{}})
	if bad.Status != http.StatusBadRequest {
		t.Fatalf("bad registration: %d %s", bad.Status, bad.Body)
	}
	for _, f := range []string{`"field":"issuer"`, `"field":"client_id"`, `"field":"deployment_ids"`, `"field":"auth_login_url"`, `"field":"token_url"`, `"field":"jwks_url"`, `"field":"adapter"`, "the room adapters are: rooms"} {
		if !strings.Contains(string(bad.Body), f) {
			t.Errorf("the refusal does not name %s: %s", f, bad.Body)
		}
	}
	dup := e.Do("POST", "/api/v1/lti/platforms", e.APIKey, map[string]any{"name": "again", "issuer": e.plat.Issuer, "client_id": ltiClientID, "deployment_ids": []string{"d"},
		"auth_login_url": e.plat.AuthURL(), "token_url": e.plat.TokenURL(), "jwks_url": e.plat.JWKSURL(), "adapter": "rooms"})
	if dup.Status != http.StatusConflict || dup.ErrorCode() != "lti_platform_exists" {
		t.Errorf("a second registration of the same issuer and client id: %d %s", dup.Status, dup.Body)
	}

	// A member may not; another account sees nothing.
	_, member := e.ConsoleUser("member@org.test", "member")
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/lti/platforms", nil)
	if r := e.Send(member, req); r.Status != http.StatusForbidden || r.ErrorCode() != "admin_only" {
		t.Errorf("a member listing platforms: %d %s", r.Status, r.Body)
	}
	if r := e.Get(member, "/console/lti"); r.Status != http.StatusForbidden {
		t.Errorf("a member's console LTI page: %d", r.Status)
	}
	_, otherKey := e.SecondAccount()
	if r := e.Do("GET", path, otherKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("another account's view of the registration: %d", r.Status)
	}
	if r := e.Do("DELETE", path, otherKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("another account deleting the registration: %d", r.Status)
	}

	// The console page: the tool's values with copy buttons, the registrations.
	admin := e.SignIn(e.Admin)
	page := string(e.Must(e.Get(admin, "/console/lti"), http.StatusOK).Body)
	tool := e.Must(e.Do("GET", "/api/v1/lti/tool", e.APIKey, nil), http.StatusOK).Map(t)
	for _, want := range []string{
		`value="` + e.URL + `/lti/login"`, `value="` + e.URL + `/lti/launch"`, `value="` + e.URL + `/lti/jwks"`,
		`data-copy="#lti-login-url"`, `data-copy="#lti-launch-url"`, `data-copy="#lti-jwks-url"`, `data-copy="#lti-public-key"`,
		"-----BEGIN PUBLIC KEY-----", tool["key_id"].(string), "Sakai", e.plat.Issuer,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the console LTI page lacks %q", want)
		}
	}
	if jwks := string(e.Must(e.Do("GET", "/lti/jwks", "", nil), http.StatusOK).Body); !strings.Contains(jwks, `"kid":"`+tool["key_id"].(string)+`"`) || !strings.Contains(jwks, `"alg":"RS256"`) {
		t.Errorf("/lti/jwks: %s", jwks)
	}

	e.Must(e.Do("DELETE", path, e.APIKey, nil), http.StatusNoContent)
	e.Must(e.Do("GET", path, e.APIKey, nil), http.StatusNotFound)
	var n int64
	e.DB.R.Raw("SELECT COUNT(*) FROM audit_entries WHERE target_kind = 'lti_platform' AND target_id = ?", e.platformID).Scan(&n)
	if n != 3 {
		t.Errorf("%d audit entries for the registration, want created, updated, deleted", n)
	}
	// Its launches are refused from then on.
	c := e.Client()
	req, _ = http.NewRequest("GET", e.plat.LoginURL("teacher", "bio"), nil)
	refused(t, e.Send(c, req), "lti_platform_unknown")
}
