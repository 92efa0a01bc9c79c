package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/sso/saml/samltest"
	"github.com/invitegate/gateway/sso/ssotest"
)

// signedInSessions counts the console sessions SSO sign-ins opened.
func signedInSessions(t *testing.T, e *apitest.Env) int64 {
	t.Helper()
	var n int64
	if err := e.DB.R.Table("sessions").Where("method = ?", session.MethodConsoleSSO).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// refusedOtherBrowser checks r is the "started in another browser" page,
// with no session cookie set.
func refusedOtherBrowser(t *testing.T, what string, r *apitest.Response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `data-error-code="sso_other_browser"`) ||
		!strings.Contains(string(r.Body), "This sign-in was started in another browser") {
		t.Fatalf("%s: %d %.1200s", what, r.Status, r.Body)
	}
	if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "ig_session=") {
		t.Fatalf("%s: a session cookie was set", what)
	}
}

// Login CSRF, SAML: someone who signs in at the IdP as themselves and
// makes another person's browser post their answer (an auto-submitting
// form on any site) does not sign that person in as them: the answer is
// taken only with the login cookie of the browser that started the
// login. An answer arriving without any cookie (the cross-site POST of a
// real browser, which sends no SameSite=Lax cookie) gets a page posting it
// to the gateway again from its own site, which changes nothing by
// itself; from the right browser that second post signs in.
func TestSAMLLoginBoundToBrowser(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			idp := samlIDP(t)
			e := ssoRealEnv(t, d)
			id := samlConnection(e, idp, nil, nil)

			attacker, victim := e.Client(), e.Client()
			theirs := samlLogin(e, attacker, idp, url.Values{"connection": {id}})
			samlStart(e, victim, id) // the victim has a login cookie of their own
			refusedOtherBrowser(t, "the attacker's answer posted from the victim's browser", postACS(e, victim, theirs))

			theirs = samlLogin(e, attacker, idp, url.Values{"connection": {id}})
			noCookies := &http.Client{Transport: attacker.Transport, CheckRedirect: attacker.CheckRedirect}
			relay := postACSOnce(e, noCookies, theirs)
			page := samltest.ReadPage(relay.Status, string(relay.Body))
			if relay.Status != http.StatusOK || page.Action != "/sso/saml/"+id+"/acs" || page.Fields.Get("SAMLResponse") != theirs.Fields.Get("SAMLResponse") ||
				page.Fields.Get("RelayState") != theirs.Fields.Get("RelayState") || page.Fields.Get("ig_relayed") != "1" ||
				!strings.Contains(string(relay.Body), "data-autosubmit") {
				t.Fatalf("an answer without the login cookie: %d %.1500s", relay.Status, relay.Body)
			}
			if n := signedInSessions(t, e); n != 0 {
				t.Fatalf("%d sessions before the answer came from the right browser", n)
			}
			page.Action = e.URL + page.Action
			refusedOtherBrowser(t, "the relayed answer, still without the cookie", postACSOnce(e, noCookies, page))

			theirs = samlLogin(e, attacker, idp, url.Values{"connection": {id}})
			page = samltest.ReadPage(http.StatusOK, string(postACSOnce(e, noCookies, theirs).Body))
			page.Action = e.URL + page.Action
			if r := postACSOnce(e, attacker, page); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console" {
				t.Fatalf("the relayed answer from the browser that started the login: %d %.1500s", r.Status, r.Body)
			}
			if n := signedInSessions(t, e); n != 1 {
				t.Fatalf("%d sessions after one sign-in in its own browser, want 1", n)
			}
		})
	}
}

// Login CSRF, OIDC: a callback URL of someone else's login, opened in
// another browser (a link, an image, a redirect), signs nobody in there,
// whether that browser has a login cookie of its own or none.
func TestOIDCLoginBoundToBrowser(t *testing.T) {
	e := ssoEnv(t, store.SQLite, &ssotest.Behaviour{})
	id := ssoConnection(e, "oidc", nil)["id"].(string)
	attacker, victim := e.Client(), e.Client()
	e.Form(victim, "/sso/start", url.Values{"email": {"vic@uni.edu"}})
	for _, b := range []struct {
		name string
		c    *http.Client
	}{{"a browser with its own login", victim}, {"a browser without cookies", e.Client()}} {
		key := state(t, e.Form(attacker, "/sso/start", url.Values{"email": {"mal@uni.edu"}}))
		answer := "/sso/oidc/" + id + "/callback?" + url.Values{"state": {key}, "sub": {"mal"}, "email": {"mal@uni.edu"}}.Encode()
		refusedOtherBrowser(t, b.name, e.Get(b.c, answer))
		// The login is used up: not even its own browser can finish it now.
		if r := e.Get(attacker, answer); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `data-error-code="sso_request_unknown"`) {
			t.Fatalf("the refused login finished later: %d %.600s", r.Status, r.Body)
		}
	}
	if n := signedInSessions(t, e); n != 0 {
		t.Fatalf("%d sessions opened by answers in the wrong browser", n)
	}
	key := state(t, e.Form(attacker, "/sso/start", url.Values{"email": {"mal@uni.edu"}}))
	answer := "/sso/oidc/" + id + "/callback?" + url.Values{"state": {key}, "sub": {"mal"}, "email": {"mal@uni.edu"}}.Encode()
	if r := e.Get(attacker, answer); r.Status != http.StatusSeeOther {
		t.Fatalf("the answer in its own browser: %d %.600s", r.Status, r.Body)
	}
}
