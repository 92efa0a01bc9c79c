package api_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/lti/ltitest"
)

// dynEnv is a gateway with the room adapter, and an LMS (lti/ltitest) that
// is not registered with it yet and registers itself.
type dynEnv struct {
	*ltiEnv
	lms *ltitest.Platform
}

func newDynEnv(t *testing.T, dialect string) *dynEnv {
	t.Helper()
	e := newLTIEnv(t, apitest.Options{Dialect: dialect})
	lms := ltitest.New(t, ltitest.Options{ClientID: "dyn-client", DeploymentID: "dyn-deployment", ToolURL: e.URL, Now: e.Clock.Now})
	lms.AddUser("teacher", ltitest.User{Sub: "u-ada", Email: "ada@uni.test", GivenName: "Ada", FamilyName: "Lovelace", Roles: []string{ltitest.RoleInstructor}})
	lms.AddLink("bio", ltitest.Link{ID: "rl-bio-1", Title: "Live class", ContextID: "course-bio", ContextTitle: "Biology 101"})
	return &dynEnv{ltiEnv: e, lms: lms}
}

// registrationURL is what an account admin copies from the console.
func (e *dynEnv) registrationURL() string {
	e.T.Helper()
	r := e.Must(e.Do("POST", "/api/v1/lti/registrations", e.APIKey, map[string]any{}), http.StatusCreated)
	m := r.Map(e.T)
	u, _ := m["url"].(string)
	if !strings.HasPrefix(u, e.URL+"/lti/register?token=") {
		e.T.Fatalf("registration URL %q", u)
	}
	exp, err := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
	if err != nil || exp.Sub(e.Clock.Now()) != time.Hour {
		e.T.Fatalf("expires_at %v (%v), want an hour from now", m["expires_at"], err)
	}
	return u
}

var hiddenFieldRE = regexp.MustCompile(`name="(token|openid_configuration|registration_token)" value="([^"]*)"`)

// open is the LMS opening the registration URL in its frame; it returns
// the confirmation page's form.
func (e *dynEnv) open(c *http.Client, regURL string) (*apitest.Response, url.Values) {
	e.T.Helper()
	req, _ := http.NewRequest("GET", e.lms.OpenRegistration(regURL), nil)
	r := e.Send(c, req)
	form := url.Values{}
	for _, m := range hiddenFieldRE.FindAllSubmatch(r.Body, -1) {
		form.Set(string(m[1]), strings.ReplaceAll(string(m[2]), "&amp;", "&"))
	}
	return r, form
}

// confirm is the LMS admin pressing Register on that page.
func (e *dynEnv) confirm(c *http.Client, form url.Values, toolName, adapter string) *apitest.Response {
	e.T.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("tool_name", toolName)
	f.Set("adapter", adapter)
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/lti/register", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return e.Send(c, req)
}

func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// The whole registration as an LMS makes it: the admin's URL, the LMS
// opening it with its configuration and token, the confirmation, the
// tool's configuration as the LMS receives it, the registration stored,
// and a launch from the newly registered LMS.
func TestLTIDynamicRegistrationRoundTrip(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newDynEnv(t, dialect)
		regURL := e.registrationURL()
		plain := strings.TrimPrefix(regURL, e.URL+"/lti/register?token=")
		var stored int64
		e.DB.R.Raw("SELECT COUNT(*) FROM lti_registration_tokens WHERE account_id = ? AND token_hash <> ? AND used_at IS NULL", e.AccountID, plain).Scan(&stored)
		if stored != 1 {
			t.Fatalf("registration token rows (hashed, unused): %d", stored)
		}
		c := e.Client()

		page, form := e.open(c, regURL)
		e.Must(page, http.StatusOK)
		body := string(page.Body)
		for _, want := range []string{`id="lti-register-issuer">` + e.lms.Issuer, "ltitest 1.0", `<option value="rooms">rooms</option>`, `value="` + lti.DefaultToolName + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the confirmation page lacks %q: %s", want, body)
			}
		}
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+e.lms.Issuer+";") {
			t.Errorf("the confirmation page may not show in the LMS's frame only: %q", csp)
		}
		if form.Get("token") != plain || form.Get("registration_token") != ltitest.RegistrationToken || form.Get("openid_configuration") != e.lms.ConfigurationURL() {
			t.Fatalf("the confirmation form carries %v", form)
		}
		if n := len(e.lms.Registrations()); n != 0 {
			t.Fatalf("opening the page registered %d times; it must change nothing", n)
		}

		done := e.Must(e.confirm(c, form, "Rooms at Uni", "rooms"), http.StatusOK)
		if !strings.Contains(string(done.Body), `id="lti-registered"`) || !strings.Contains(string(done.Body), "/static/lti.js") ||
			!strings.Contains(string(done.Body), "dyn-client") {
			t.Fatalf("the done page: %s", done.Body)
		}
		js := string(e.Must(e.Get(c, "/static/lti.js"), http.StatusOK).Body)
		if !strings.Contains(js, `postMessage({ subject: "org.imsglobal.lti.close" }, "*")`) {
			t.Errorf("lti.js does not tell the LMS to close the registration")
		}

		regs := e.lms.Registrations()
		if len(regs) != 1 {
			t.Fatalf("the LMS received %d registrations", len(regs))
		}
		got := regs[0]
		wantStr := map[string]string{"application_type": "web", "initiate_login_uri": e.URL + "/lti/login", "client_name": "Rooms at Uni",
			"jwks_uri": e.URL + "/lti/jwks", "token_endpoint_auth_method": "private_key_jwt"}
		for k, v := range wantStr {
			if got[k] != v {
				t.Errorf("%s = %v, want %q", k, got[k], v)
			}
		}
		wantList := map[string][]string{"response_types": {"id_token"}, "grant_types": {"implicit", "client_credentials"}, "redirect_uris": {e.URL + "/lti/launch"}}
		for k, v := range wantList {
			if !slices.Equal(strs(got[k]), v) {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if !slices.Contains(strings.Fields(got["scope"].(string)), lti.ScopeNRPS) {
			t.Errorf("scope %v lacks NRPS", got["scope"])
		}
		tc, _ := got["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any)
		u, _ := url.Parse(e.URL)
		if tc["domain"] != u.Host || tc["target_link_uri"] != e.URL+"/lti/launch" {
			t.Errorf("tool configuration %v", tc)
		}
		for _, claim := range []string{"sub", "email", "given_name", "family_name", "name"} {
			if !slices.Contains(strs(tc["claims"]), claim) {
				t.Errorf("claims %v lack %s", tc["claims"], claim)
			}
		}
		var types []string
		for _, m := range tc["messages"].([]any) {
			msg := m.(map[string]any)
			types = append(types, msg["type"].(string))
			if msg["target_link_uri"] != e.URL+"/lti/launch" {
				t.Errorf("message %v", msg)
			}
		}
		if !slices.Equal(types, []string{"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}) {
			t.Errorf("messages %v", types)
		}

		var p lti.Platform
		if err := e.DB.R.Where("issuer = ? AND client_id = 'dyn-client'", e.lms.Issuer).Take(&p).Error; err != nil {
			t.Fatalf("the registration row: %v", err)
		}
		if p.AccountID != e.AccountID || !slices.Equal(p.DeploymentIDs, []string{"dyn-deployment"}) || p.AuthLoginURL != e.lms.AuthURL() ||
			p.TokenURL != e.lms.TokenURL() || p.JWKSURL != e.lms.JWKSURL() || p.Adapter != "rooms" || p.Name != "ltitest at "+strings.TrimPrefix(e.lms.Issuer, "http://") {
			t.Errorf("the registration row %+v", p)
		}
		var audits int64
		e.DB.R.Raw("SELECT COUNT(*) FROM audit_entries WHERE action = 'lti_platform.created' AND target_id = ?", p.ID).Scan(&audits)
		if audits != 1 {
			t.Errorf("audit entries of the registration: %d", audits)
		}
		var used int64
		e.DB.R.Raw("SELECT COUNT(*) FROM lti_registration_tokens WHERE used_at IS NOT NULL AND platform_id = ?", p.ID).Scan(&used)
		if used != 1 {
			t.Errorf("the token is not marked used by the registration")
		}

		// The registered LMS launches the tool.
		launcher := &ltiEnv{Env: e.Env, plat: e.lms}
		room, teacher := launcher.roundTrip("teacher")
		if !strings.Contains(string(e.Must(e.Get(teacher, room), http.StatusOK).Body), "Biology 101 live") {
			t.Errorf("the room page after a launch from the registered LMS")
		}

		// The URL registers once.
		refused(t, e.confirm(c, form, "Again", "rooms"), lti.ErrRegistrationTokenUsed.Code)
		r, _ := e.open(c, regURL)
		refused(t, r, lti.ErrRegistrationTokenUsed.Code)
		if n := len(e.lms.Registrations()); n != 1 {
			t.Errorf("a used URL reached the LMS: %d registrations", n)
		}
	})
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestLTIDynamicRegistrationRefusals(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		e := newDynEnv(t, dialect)
		c := e.Client()
		platforms := func() int64 {
			var n int64
			e.DB.R.Raw("SELECT COUNT(*) FROM lti_platforms WHERE client_id = 'dyn-client'").Scan(&n)
			return n
		}

		t.Run("expired", func(t *testing.T) {
			regURL := e.registrationURL()
			_, form := e.open(c, regURL)
			e.Clock.Advance(time.Hour + time.Second)
			r, _ := e.open(c, regURL)
			refused(t, r, lti.ErrRegistrationTokenExpired.Code)
			refused(t, e.confirm(c, form, "Tool", "rooms"), lti.ErrRegistrationTokenExpired.Code)
		})
		t.Run("unknown token", func(t *testing.T) {
			r, _ := e.open(c, e.URL+"/lti/register?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
			refused(t, r, lti.ErrRegistrationTokenInvalid.Code)
			r, _ = e.open(c, e.URL+"/lti/register")
			refused(t, r, lti.ErrRegistrationTokenInvalid.Code)
		})
		t.Run("issuer on another site", func(t *testing.T) {
			e.lms.ConfigurationIssuer("https://lms.elsewhere.test")
			defer e.lms.ConfigurationIssuer("")
			r, _ := e.open(c, e.registrationURL())
			refused(t, r, "lti_registration_issuer_mismatch")
			if !strings.Contains(string(r.Body), "https://lms.elsewhere.test") {
				t.Errorf("the page does not say which issuer: %s", r.Body)
			}
		})
		t.Run("configuration not reachable", func(t *testing.T) {
			regURL := e.registrationURL()
			req, _ := http.NewRequest("GET", regURL+"&openid_configuration="+url.QueryEscape("http://127.0.0.1:1/.well-known/openid-configuration"), nil)
			r := e.Send(c, req)
			refused(t, r, "lti_platform_configuration_unreachable")
			req, _ = http.NewRequest("GET", regURL+"&openid_configuration="+url.QueryEscape("http://lms.example.org/.well-known/openid-configuration"), nil)
			r = e.Send(c, req)
			refused(t, r, "lti_platform_configuration_invalid")
			if !strings.Contains(string(r.Body), "must use https") {
				t.Errorf("plain http off the loopback: %s", r.Body)
			}
			req, _ = http.NewRequest("GET", regURL, nil)
			refused(t, e.Send(c, req), "lti_registration_request_invalid")
			req, _ = http.NewRequest("GET", regURL+"&openid_configuration="+url.QueryEscape(e.lms.Issuer+"/jwks"), nil)
			r = e.Send(c, req)
			refused(t, r, "lti_platform_configuration_invalid")
			if !strings.Contains(string(r.Body), "registration_endpoint") {
				t.Errorf("the page does not name what the configuration lacks: %s", r.Body)
			}
		})
		t.Run("the LMS answers 400", func(t *testing.T) {
			regURL := e.registrationURL()
			_, form := e.open(c, regURL)
			e.lms.RefuseRegistrations(http.StatusBadRequest, `{"error":"invalid_redirect_uri","error_description":"redirect URIs must be on the tool's domain"}`)
			r := e.confirm(c, form, "Tool", "rooms")
			e.lms.RefuseRegistrations(0, "")
			refused(t, r, lti.ErrRegistrationRefused.Code)
			if !strings.Contains(string(r.Body), "invalid_redirect_uri: redirect URIs must be on the tool&#39;s domain") {
				t.Errorf("the page does not give the LMS's words: %s", r.Body)
			}
			if platforms() != 0 {
				t.Fatal("a refused registration was stored")
			}
			// The URL still works once the LMS is fixed.
			e.Must(e.confirm(c, form, "Tool", "rooms"), http.StatusOK)
			if platforms() != 1 {
				t.Fatal("the retried registration was not stored")
			}
			e.DB.W.Exec("DELETE FROM lti_platforms WHERE client_id = 'dyn-client'")
		})
		t.Run("wrong choice", func(t *testing.T) {
			_, form := e.open(c, e.registrationURL())
			r := e.confirm(c, form, "Tool", "no-such-adapter")
			refused(t, r, "invalid")
			if !strings.Contains(string(r.Body), `data-error-field="adapter"`) {
				t.Errorf("the page does not name the adapter: %s", r.Body)
			}
			r = e.confirm(c, form, " ", "rooms")
			if !strings.Contains(string(r.Body), `data-error-field="tool_name"`) {
				t.Errorf("the page does not name the tool name: %s", r.Body)
			}
			// Nothing was used up.
			e.Must(e.confirm(c, form, "Tool", "rooms"), http.StatusOK)
			e.DB.W.Exec("DELETE FROM lti_platforms WHERE client_id = 'dyn-client'")
		})
		t.Run("admins only, bound to the account", func(t *testing.T) {
			_, member := e.ConsoleUser("member@org.test", "member")
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/lti/registrations", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", e.URL)
			if r := e.Send(member, req); r.Status != http.StatusForbidden || r.ErrorCode() != "admin_only" {
				t.Errorf("a member making a registration URL: %d %s", r.Status, r.Body)
			}
			otherAccount, otherKey := e.SecondAccount()
			r := e.Must(e.Do("POST", "/api/v1/lti/registrations", otherKey, map[string]any{}), http.StatusCreated)
			_, form := e.open(c, r.Map(t)["url"].(string))
			e.Must(e.confirm(c, form, "Tool", "rooms"), http.StatusOK)
			var account string
			e.DB.R.Raw("SELECT account_id FROM lti_platforms WHERE client_id = 'dyn-client'").Scan(&account)
			if account != otherAccount {
				t.Errorf("the URL of another account registered the LMS with account %q, want %q", account, otherAccount)
			}
			e.DB.W.Exec("DELETE FROM lti_platforms WHERE client_id = 'dyn-client'")
		})
		// Two confirmations at once (a double click, or two replicas):
		// one registers, the other is refused, and the LMS hears once.
		t.Run("confirmed twice at once", func(t *testing.T) {
			before := len(e.lms.Registrations())
			_, form := e.open(c, e.registrationURL())
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = e.confirm(e.Client(), form, "Tool", "rooms").Status
				}()
			}
			wg.Wait()
			slices.Sort(statuses)
			if statuses[0] != http.StatusOK || statuses[1] != http.StatusGone {
				t.Fatalf("statuses %v, want one 200 and one 410", statuses)
			}
			if n := len(e.lms.Registrations()) - before; n != 1 {
				t.Fatalf("the LMS received %d registrations", n)
			}
		})
	})
}
