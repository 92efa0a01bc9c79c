package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/ssotest"
)

// ssoEnv is a gateway whose SSO types are the mock connector, as "oidc"
// and "saml".
func ssoEnv(t *testing.T, dialect string, b *ssotest.Behaviour) *apitest.Env {
	t.Helper()
	e := apitest.New(t, apitest.Options{Dialect: dialect, SSOTypes: ssotest.Types(b, "oidc", "saml")})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.Logs.String())
		}
	})
	return e
}

// ssoConnection creates a connection through the API.
func ssoConnection(e *apitest.Env, typ string, body map[string]any) map[string]any {
	e.T.Helper()
	in := map[string]any{"name": "Uni IdP", "type": typ, "domains": []string{"uni.edu"}, "jit": true,
		"config": map[string]any{"issuer": "https://idp.test", "secret": "s3cret"}}
	for k, v := range body {
		in[k] = v
	}
	return e.Must(e.Do("POST", "/api/v1/sso/connections", e.APIKey, in), http.StatusCreated).Map(e.T)
}

// state is the request key in the provider redirect's URL.
func state(t *testing.T, r *apitest.Response) string {
	t.Helper()
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Host != "idp.test" {
		t.Fatalf("not sent to the provider: %d %q %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	return loc.Query().Get("state")
}

// The connection API is for account admins: it creates, shows (without
// secrets, with the URLs to paste into the provider), changes, rotates and
// deletes connections, and refuses a type the gateway has no connector
// for, naming the field.
func TestSSOConnectionAPI(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := ssoEnv(t, d, &ssotest.Behaviour{})
			c := ssoConnection(e, "saml", nil)
			id := c["id"].(string)
			urls := c["urls"].(map[string]any)
			if urls["acs"] != e.URL+"/sso/saml/"+id+"/acs" || urls["metadata"] != e.URL+"/sso/saml/"+id+"/metadata" || urls["entity_id"] != urls["metadata"] {
				t.Fatalf("urls %v", urls)
			}
			got := e.Must(e.Do("GET", "/api/v1/sso/connections/"+id, e.APIKey, nil), http.StatusOK)
			if strings.Contains(string(got.Body), "s3cret") || !strings.Contains(string(got.Body), `"secret_set":true`) {
				t.Fatalf("get shows the secret or hides that it is set: %s", got.Body)
			}
			list := e.Must(e.Do("GET", "/api/v1/sso/connections", e.APIKey, nil), http.StatusOK).Map(t)
			if cs := list["connections"].([]any); len(cs) != 1 || strings.Join(toStrings(list["types"]), ",") != "oidc,saml" {
				t.Fatalf("list %v", list)
			}
			up := e.Must(e.Do("PATCH", "/api/v1/sso/connections/"+id, e.APIKey, map[string]any{"name": "Renamed", "mapping": map[string]any{"preset": "entra"}}), http.StatusOK).Map(t)
			if up["name"] != "Renamed" || up["attribute_names"].(map[string]any)["groups"] != "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups" {
				t.Fatalf("update %v", up)
			}
			rot := e.Must(e.Do("POST", "/api/v1/sso/connections/"+id+"/rotate-key", e.APIKey, nil), http.StatusOK).Map(t)
			if rot["message"] != "added a new key" || len(rot["config"].(map[string]any)["keys"].([]any)) != 2 {
				t.Fatalf("rotate %v", rot)
			}
			md := e.Must(e.Get(e.Client(), "/sso/saml/"+id+"/metadata"), http.StatusOK)
			if !strings.Contains(string(md.Body), "<key>") || md.Header.Get("Content-Type") != "application/samlmetadata+xml" {
				t.Fatalf("metadata %s %s", md.Header.Get("Content-Type"), md.Body)
			}

			r := e.Do("POST", "/api/v1/sso/connections", e.APIKey, map[string]any{"name": "X", "type": "ldap", "config": map[string]any{}})
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"type"`) || !strings.Contains(string(r.Body), "unknown type") {
				t.Fatalf("unknown type: %d %s", r.Status, r.Body)
			}
			r = e.Do("POST", "/api/v1/sso/connections", e.APIKey, map[string]any{"name": "Y", "type": "oidc", "domains": []string{"uni.edu"}, "config": map[string]any{"issuer": "i"}})
			if r.Status != http.StatusConflict || r.ErrorCode() != "sso_domain_taken" {
				t.Fatalf("a served domain: %d %s", r.Status, r.Body)
			}
			_, member := e.ConsoleUser("member@org.test", "member")
			req, _ := http.NewRequest("GET", e.URL+"/api/v1/sso/connections", nil)
			if r := e.Send(member, req); r.Status != http.StatusForbidden {
				t.Fatalf("a member lists connections: %d", r.Status)
			}
			e.Must(e.Do("DELETE", "/api/v1/sso/connections/"+id, e.APIKey, nil), http.StatusNoContent)
			e.Must(e.Do("GET", "/api/v1/sso/connections/"+id, e.APIKey, nil), http.StatusNotFound)
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// Console sign-in with the organization: the email on the sign-in page
// finds the connection, the provider's answer signs the person in with the
// console cookie and goes to the return path asked for, never to another
// site; a second use of the answer is a refusal page saying so.
func TestSSOConsoleSignIn(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := ssoEnv(t, d, &ssotest.Behaviour{})
			c := ssoConnection(e, "oidc", nil)
			id := c["id"].(string)
			signin := e.Get(e.Client(), "/console")
			if !strings.Contains(string(signin.Body), `id="sso-console-form"`) {
				t.Fatalf("the console sign-in page has no organization sign-in: %s", signin.Body)
			}
			browser := e.Client()
			r := e.Form(browser, "/sso/start", url.Values{"email": {"ann@uni.edu"}, "purpose": {"console"}, "return": {"/console/events"}})
			key := state(t, r)
			answer := "/sso/oidc/" + id + "/callback?" + url.Values{"state": {key}, "sub": {"u-1"}, "email": {"ann@uni.edu"},
				"given_name": {"Ann"}, "family_name": {"Lee"}}.Encode()
			r = e.Must(e.Get(browser, answer), http.StatusSeeOther)
			if r.Header.Get("Location") != "/console/events" {
				t.Fatalf("after sign-in: %s", r.Header.Get("Location"))
			}
			home := e.Must(e.Get(browser, "/console"), http.StatusOK)
			if !strings.Contains(string(home.Body), "ann@uni.edu") {
				t.Fatalf("the console does not show the signed-in person: %.500s", home.Body)
			}
			again := e.Get(e.Client(), answer)
			if again.Status != http.StatusUnauthorized || !strings.Contains(string(again.Body), `data-error-code="sso_request_unknown"`) ||
				!strings.Contains(string(again.Body), "This sign-in is not known here") {
				t.Fatalf("a used answer: %d %.600s", again.Status, again.Body)
			}

			key = state(t, e.Form(browser, "/sso/start", url.Values{"email": {"ann@uni.edu"}, "return": {"//evil.test/x"}}))
			r = e.Must(e.Get(browser, "/sso/oidc/"+id+"/callback?"+url.Values{"state": {key}, "sub": {"u-1"}, "email": {"ann@uni.edu"}}.Encode()), http.StatusSeeOther)
			if r.Header.Get("Location") != "/console" {
				t.Fatalf("return path //evil.test/x sent the browser to %s", r.Header.Get("Location"))
			}

			r = e.Form(e.Client(), "/sso/start", url.Values{"email": {"bob@elsewhere.test"}})
			if r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), `data-error-code="sso_no_connection"`) || !strings.Contains(string(r.Body), `id="sso-start-form"`) {
				t.Fatalf("an email no connection serves: %d %.600s", r.Status, r.Body)
			}
			var n int64
			e.DB.R.Model(&user.User{}).Where("email = ?", "ann@uni.edu").Count(&n)
			if n != 1 {
				t.Fatalf("%d users for one person", n)
			}
			page := e.Must(e.Send(e.Client(), adminGet(e, "/console/sso")), http.StatusOK)
			if !strings.Contains(string(page.Body), e.URL+"/sso/oidc/"+id+"/callback") || strings.Contains(string(page.Body), "<td>never</td>") ||
				!strings.Contains(string(page.Body), `<span class="sso-failure">sso_request_unknown</span>`) {
				t.Fatalf("the SSO page lacks the redirect URI or the last login: %.2000s", page.Body)
			}
		})
	}
}

// adminGet is a GET as the bootstrapped admin, signed in.
func adminGet(e *apitest.Env, path string) *http.Request {
	c := e.SignIn(e.Admin)
	req, _ := http.NewRequest("GET", e.URL+path, nil)
	u, _ := url.Parse(e.URL)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	return req
}

// The SAML answer is posted by the provider's site: the cross-origin
// check lets exactly that route through (a cross-site POST elsewhere is
// still refused), and the HTTP-POST binding's request is a page whose form
// posts itself to the provider.
func TestSSOSAMLPostBinding(t *testing.T) {
	b := &ssotest.Behaviour{
		Begin: func(ctx context.Context, req *connector.Request) (*connector.Redirect, error) {
			return &connector.Redirect{URL: "https://idp.test/sso", Form: map[string]string{"SAMLRequest": "PHNhbWw+", "RelayState": req.Key}}, nil
		},
		RequestKey: func(r *http.Request) string { return r.FormValue("RelayState") },
	}
	e := ssoEnv(t, store.SQLite, b)
	c := ssoConnection(e, "saml", nil)
	id := c["id"].(string)
	browser := e.Client()
	page := e.Must(e.Form(browser, "/sso/start", url.Values{"email": {"ann@uni.edu"}}), http.StatusOK)
	body := string(page.Body)
	for _, want := range []string{`action="https://idp.test/sso"`, `name="SAMLRequest" value="PHNhbWw&#43;"`, `data-autosubmit`, `<script src="/static/sso.js"></script>`, `id="sso-post-continue"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("the POST binding page lacks %s: %s", want, body)
		}
	}
	i := strings.Index(body, `name="RelayState" value="`)
	key := body[i+len(`name="RelayState" value="`):]
	key = key[:strings.IndexByte(key, '"')]
	if e.Must(e.Get(e.Client(), "/static/sso.js"), http.StatusOK).Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatal("sso.js is not served as a script")
	}

	post := func(path string, form url.Values) *apitest.Response {
		req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://idp.test")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		return e.Send(browser, req)
	}
	r := post("/sso/saml/"+id+"/acs", url.Values{"RelayState": {key}, "sub": {"u-1"}, "email": {"ann@uni.edu"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console" {
		t.Fatalf("the provider's cross-site POST: %d %s", r.Status, r.Body)
	}
	if r := post("/sso/start", url.Values{"email": {"ann@uni.edu"}}); r.Status != http.StatusForbidden || r.ErrorCode() != "cross_origin" {
		t.Fatalf("a cross-site POST to the start form: %d %s", r.Status, r.Body)
	}
	if r := post("/api/v1/sso/connections", url.Values{}); r.Status != http.StatusForbidden {
		t.Fatalf("a cross-site POST to the API: %d", r.Status)
	}
}

// On an SSO event's site, the organization sign-in signs the person in to
// the event (attendee status "SSO login", the event's own cookie) and
// goes back to the event page.
func TestSSOEventSignIn(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := ssoEnv(t, d, &ssotest.Behaviour{})
			c := ssoConnection(e, "oidc", nil)
			start := e.Clock.Now().Add(48 * time.Hour)
			ev := e.Must(e.Do("POST", "/api/v1/events", e.APIKey, map[string]any{"name": "Summit", "starts_at": start, "ends_at": start.Add(time.Hour),
				"time_zone": "UTC", "login_method": "sso", "registration": "open"}), http.StatusCreated).Map(t)
			slug := ev["slug"].(string)
			browser := e.Client()
			page := e.Must(e.Get(browser, "/e/"+slug), http.StatusOK)
			if !strings.Contains(string(page.Body), `id="sso-event-form"`) {
				t.Fatalf("the SSO event page has no organization sign-in: %.2000s", page.Body)
			}
			key := state(t, e.Form(browser, "/sso/start", url.Values{"email": {"ann@uni.edu"}, "purpose": {"event"}, "event": {ev["id"].(string)}, "return": {"/e/" + slug}}))
			r := e.Must(e.Get(browser, "/sso/oidc/"+c["id"].(string)+"/callback?"+url.Values{"state": {key}, "sub": {"u-1"}, "email": {"ann@uni.edu"}, "given_name": {"Ann"}}.Encode()), http.StatusSeeOther)
			if r.Header.Get("Location") != "/e/"+slug {
				t.Fatalf("after an event sign-in: %s", r.Header.Get("Location"))
			}
			var a event.Attendee
			if err := e.DB.R.Where("event_id = ? AND email = ?", ev["id"], "ann@uni.edu").Take(&a).Error; err != nil || a.Status != event.SSOLogin {
				t.Fatalf("attendee %+v %v", a, err)
			}
			site := e.Must(e.Get(browser, "/e/"+slug), http.StatusOK)
			if strings.Contains(string(site.Body), `id="sso-event-form"`) {
				t.Fatal("the event page still asks a signed-in attendee to sign in")
			}
		})
	}
}

// Starting logins counts against the client's site form sends: past the
// limit the start page answers 429 and stores nothing more.
func TestSSOStartIsRateLimited(t *testing.T) {
	e := apitest.New(t, apitest.Options{SSOTypes: ssotest.Types(&ssotest.Behaviour{}, "oidc"), Config: func(c *app.Config) { c.Limits.SiteFormsPerMinute = 3 }})
	ssoConnection(e, "oidc", nil)
	for i := range 3 {
		if r := e.Form(e.Client(), "/sso/start", url.Values{"email": {"ann@uni.edu"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("start %d: %d", i, r.Status)
		}
	}
	if r := e.Form(e.Client(), "/sso/start", url.Values{"email": {"ann@uni.edu"}}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("fourth start: %d, want 429", r.Status)
	}
	var n int64
	e.DB.R.Table("sso_requests").Count(&n)
	if n != 3 {
		t.Fatalf("%d logins in flight stored, want 3", n)
	}
}
