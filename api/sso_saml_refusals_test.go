package api_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

// samlRefused checks a refusal of the real ACS route: the page's status,
// its code and title, that nobody was signed in or created, and that the
// connection's last failure has the code and the detail.
func samlRefused(t *testing.T, e *apitest.Env, r *apitest.Response, connID, code, title, detail string) {
	t.Helper()
	body := string(r.Body)
	if r.Status != http.StatusUnauthorized || !strings.Contains(body, `data-error-code="`+code+`"`) || !strings.Contains(body, title) {
		t.Fatalf("answered %d, want 401 %s %q: %.1500s", r.Status, code, title, body)
	}
	if r.Header.Get("Set-Cookie") != "" {
		t.Errorf("a refusal sets a cookie: %s", r.Header.Get("Set-Cookie"))
	}
	for table, where := range map[string]string{
		"users":           "email = '" + samlEmail + "'",
		"user_identities": "subject = '" + samlEmail + "'",
		"group_members":   "email = '" + samlEmail + "'",
		"sessions":        "method = '" + session.MethodConsoleSSO + "'",
	} {
		var n int64
		if err := e.DB.R.Table(table).Where(where).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("a refused sign-in left %d rows in %s", n, table)
		}
	}
	c := e.Must(e.Do("GET", "/api/v1/sso/connections/"+connID, e.APIKey, nil), http.StatusOK).Map(t)
	failure, _ := c["last_failure"].(string)
	if !strings.HasPrefix(failure, code) || !strings.Contains(failure, detail) || c["last_failure_at"] == nil || c["last_login_at"] != nil {
		t.Errorf("the connection's last failure %q (at %v, last login %v), want %s about %q", failure, c["last_failure_at"], c["last_login_at"], code, detail)
	}
	if strings.Contains(failure, samlEmail) {
		t.Errorf("the last failure names the person: %q", failure)
	}
}

// samlStart starts a login of a connection and returns its key (the
// RelayState) and the id of the AuthnRequest the gateway sent, as the
// IdP reads them.
func samlStart(e *apitest.Env, browser *http.Client, connID string) (key, requestID string) {
	e.T.Helper()
	r := e.Must(e.Form(browser, "/sso/start", url.Values{"connection": {connID}}), http.StatusSeeOther)
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		e.T.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(loc.Query().Get("SAMLRequest"))
	if err != nil {
		e.T.Fatal(err)
	}
	doc, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		e.T.Fatal(err)
	}
	var req crewjam.AuthnRequest
	if err := xml.Unmarshal(doc, &req); err != nil || req.ID == "" {
		e.T.Fatalf("the AuthnRequest %s: %v", doc, err)
	}
	return loc.Query().Get("RelayState"), req.ID
}

// forged is a Response of the IdP to connection connID, made with the
// IdP's own machinery for the login in flight, bent as f says.
func forged(e *apitest.Env, browser *http.Client, idp *samltest.IDP, connID string, f samltest.Forgery) *samltest.Page {
	e.T.Helper()
	key, reqID := samlStart(e, browser, connID)
	f.InResponseTo = reqID
	md := samltest.FetchSPMetadata(e.T, e.URL+"/sso/saml/"+connID+"/metadata")
	return &samltest.Page{Action: e.URL + "/sso/saml/" + connID + "/acs",
		Fields: url.Values{"SAMLResponse": {idp.Forge(e.T, md, f)}, "RelayState": {key}}}
}

// Responses the real IdP sent (or made with its machinery, bent one way),
// posted to the gateway's real ACS route: each is refused with a page
// that says why, creates no one, and is the connection's last failure.
func TestSAMLRefusals(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			idp := samlIDP(t)
			for _, tc := range []struct {
				name                 string
				answer               func(e *apitest.Env, browser *http.Client, id, other string) *samltest.Page
				code, title, detail  string
				allowIDPInitiated    bool
				clockMovesAfterLogin time.Duration
			}{
				{name: "expired: the gateway's clock five minutes on", answer: func(e *apitest.Env, browser *http.Client, id, _ string) *samltest.Page {
					return samlLogin(e, browser, idp, url.Values{"connection": {id}})
				}, clockMovesAfterLogin: 5 * time.Minute, code: "sso_expired", title: "This sign-in has expired", detail: "IssueInstant expired"},
				{name: "another connection's response", answer: func(e *apitest.Env, browser *http.Client, id, other string) *samltest.Page {
					key, _ := samlStart(e, browser, id)
					p := samlLogin(e, browser, idp, url.Values{"connection": {other}})
					p.Action = e.URL + "/sso/saml/" + id + "/acs"
					p.Fields.Set("RelayState", key)
					return p
				}, code: "sso_invalid_response", title: "The sign-in could not be verified", detail: "Destination"},
				{name: "another connection's IdP-initiated response", allowIDPInitiated: true,
					answer: func(e *apitest.Env, _ *http.Client, id, other string) *samltest.Page {
						p := idpInitiated(t, idp, e, other)
						p.Action = e.URL + "/sso/saml/" + id + "/acs"
						return p
					}, code: "sso_invalid_response", title: "The sign-in could not be verified", detail: "Destination"},
				{name: "wrong audience", answer: func(e *apitest.Env, browser *http.Client, id, _ string) *samltest.Page {
					f := samltest.Plain()
					f.Assertion = func(a *crewjam.Assertion) {
						a.Conditions.AudienceRestrictions[0].Audience.Value = e.URL + "/sso/saml/someone-else/metadata"
					}
					return forged(e, browser, idp, id, f)
				}, code: "sso_invalid_response", title: "The sign-in could not be verified", detail: "AudienceRestriction"},
				{name: "wrong recipient", answer: func(e *apitest.Env, browser *http.Client, id, _ string) *samltest.Page {
					f := samltest.Plain()
					f.Assertion = func(a *crewjam.Assertion) {
						a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = e.URL + "/sso/saml/someone-else/acs"
					}
					return forged(e, browser, idp, id, f)
				}, code: "sso_invalid_response", title: "The sign-in could not be verified", detail: "Recipient"},
				{name: "unsigned", answer: func(e *apitest.Env, browser *http.Client, id, _ string) *samltest.Page {
					f := samltest.Plain()
					f.UnsignedAssertion, f.UnsignedResponse = true, true
					return forged(e, browser, idp, id, f)
				}, code: "sso_invalid_response", title: "The sign-in could not be verified", detail: "signature"},
				{name: "IdP-initiated, not allowed", answer: func(e *apitest.Env, browser *http.Client, id, _ string) *samltest.Page {
					return idpInitiated(t, idp, e, id)
				}, code: "sso_unsolicited", title: "This sign-in was not started here", detail: "IdP-initiated"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e := ssoRealEnv(t, d)
					id := samlConnection(e, idp, nil, map[string]any{"allow_idp_initiated": tc.allowIDPInitiated})
					other := samlConnection(e, idp, map[string]any{"name": "Other", "domains": []string{}}, map[string]any{"allow_idp_initiated": true})
					browser := e.Client()
					p := tc.answer(e, browser, id, other)
					e.Clock.Advance(tc.clockMovesAfterLogin)
					samlRefused(t, e, postACS(e, browser, p), id, tc.code, tc.title, tc.detail)
				})
			}
		})
	}
}

// ssoRealEnv is a gateway with its real SSO connectors, on the settable
// clock set to now.
func ssoRealEnv(t *testing.T, dialect string) *apitest.Env {
	t.Helper()
	e := apitest.New(t, apitest.Options{Dialect: dialect, Config: func(c *app.Config) { c.Limits.SiteFormsPerMinute = 1000 }})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.Logs.String())
		}
	})
	return e
}

// idpInitiated signs the person in at the IdP's portal and opens the
// gateway's connection there: the IdP's unsolicited response, not posted.
func idpInitiated(t *testing.T, idp *samltest.IDP, e *apitest.Env, connID string) *samltest.Page {
	t.Helper()
	idp.Put(t, "/shortcuts/"+connID, samlidp.Shortcut{Name: connID, ServiceProviderID: e.URL + "/sso/saml/" + connID + "/metadata"})
	b := samltest.NewBrowser()
	if p := b.Do(t, http.MethodPost, idp.URL+"/login", url.Values{"user": {samlUser}, "password": {samlPassword}}); p.Status != http.StatusOK {
		t.Fatalf("IdP login: %d %s", p.Status, p.Body)
	}
	p := b.Do(t, http.MethodGet, idp.URL+"/login/"+connID, nil)
	if p.Fields.Get("SAMLResponse") == "" {
		t.Fatalf("the IdP's portal sent no response: %d %s", p.Status, p.Body)
	}
	return p
}

// A response used once and posted again (the back button, or someone who
// copied it) is refused with a page saying so, and signs no one in: with
// its own login key, that login was completed; with another login's, it
// answers a request that login did not make. IdP-initiated sign-in, when
// the connection allows it, lands on the console once; posted again, the
// assertion id kept in the database refuses it as already used.
func TestSAMLReplayAndIDPInitiated(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			idp := samlIDP(t)
			e := ssoRealEnv(t, d)
			id := samlConnection(e, idp, nil, nil)
			first := e.Client()
			p := samlLogin(e, first, idp, url.Values{"email": {samlEmail}, "purpose": {"console"}})
			r := e.Must(postACS(e, first, p), http.StatusSeeOther)
			if r.Header.Get("Location") != "/console" {
				t.Fatalf("after sign-in: %s", r.Header.Get("Location"))
			}
			// Its login was consumed by the first use: the page says the
			// sign-in is not known here or was already completed.
			again := postACS(e, first, p)
			if again.Status != http.StatusUnauthorized || !strings.Contains(string(again.Body), `data-error-code="sso_request_unknown"`) ||
				!strings.Contains(string(again.Body), "This sign-in is not known here") || !strings.Contains(string(again.Body), "already completed") {
				t.Fatalf("the same response again: %d %.1500s", again.Status, again.Body)
			}
			// The same response with another login's key: that login did
			// not ask for it.
			key, _ := samlStart(e, first, id)
			p.Fields.Set("RelayState", key)
			if r := postACS(e, first, p); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `data-error-code="sso_invalid_response"`) {
				t.Fatalf("the response with another login's key: %d %.1500s", r.Status, r.Body)
			}
			var sessions int64
			e.DB.R.Table("sessions").Where("method = ?", session.MethodConsoleSSO).Count(&sessions)
			if sessions != 1 {
				t.Fatalf("%d console sessions after one sign-in and two replays", sessions)
			}

			// IdP-initiated, allowed: the console, once.
			e.Must(e.Do("PATCH", "/api/v1/sso/connections/"+id, e.APIKey, map[string]any{"config": map[string]any{
				"idp_metadata_xml": idp.MetadataXML(t), "allow_idp_initiated": true}}), http.StatusOK)
			portal := idpInitiated(t, idp, e, id)
			browser := e.Client()
			r = e.Must(postACS(e, browser, portal), http.StatusSeeOther)
			if r.Header.Get("Location") != "/console" {
				t.Fatalf("after an IdP-initiated sign-in: %s", r.Header.Get("Location"))
			}
			home := e.Must(e.Get(browser, "/console"), http.StatusOK)
			if !strings.Contains(string(home.Body), samlEmail) {
				t.Fatalf("the console does not show the person signed in: %.800s", home.Body)
			}
			if r := postACS(e, e.Client(), portal); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `data-error-code="sso_replayed"`) {
				t.Fatalf("the IdP-initiated response again: %d %.1500s", r.Status, r.Body)
			}
			e.DB.R.Table("sessions").Where("method = ?", session.MethodConsoleSSO).Count(&sessions)
			if sessions != 2 {
				t.Fatalf("%d console sessions, want 2", sessions)
			}
			c := e.Must(e.Do("GET", "/api/v1/sso/connections/"+id, e.APIKey, nil), http.StatusOK).Map(t)
			if f, _ := c["last_failure"].(string); !strings.HasPrefix(f, "sso_replayed") || c["last_login_at"] == nil {
				t.Fatalf("the connection's last failure %q, last login %v", f, c["last_login_at"])
			}
		})
	}
}

// Two replicas on one PostgreSQL: a login started on one is finished on
// the other; an assertion used on one is refused as already used on the
// other; a change of the connection made through one replica holds on
// the other at its next sign-in.
func TestSAMLAcrossReplicas(t *testing.T) {
	idp := samlIDP(t)
	a := apitest.New(t, apitest.Options{Dialect: store.Postgres, RealClock: true})
	// Behind one load balancer the replicas share the base URL: b is
	// reached at its own address but knows itself by a's.
	b := apitest.New(t, apitest.Options{ReplicaOf: a, RealClock: true, Config: func(c *app.Config) { c.BaseURL = a.URL }})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica a:\n%s\nreplica b:\n%s", a.Logs.String(), b.Logs.String())
		}
	})
	id := samlConnection(a, idp, nil, nil)
	// The browser's cookies go to both replicas (one host, as behind a
	// balancer): the login cookie a set comes with the answer to b.
	browser := a.Client()
	answer := samlLogin(a, browser, idp, url.Values{"email": {samlEmail}})
	answer.Action = strings.Replace(answer.Action, a.URL, b.URL, 1)
	if r := b.Must(postACS(b, browser, answer), http.StatusSeeOther); r.Header.Get("Location") != "/console" {
		t.Fatalf("a login started on a, finished on b: %s", r.Header.Get("Location"))
	}

	// b has the connection open, IdP-initiated sign-in off.
	portal := idpInitiated(t, idp, a, id)
	portal.Action = strings.Replace(portal.Action, a.URL, b.URL, 1)
	if r := postACS(b, b.Client(), portal); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `data-error-code="sso_unsolicited"`) {
		t.Fatalf("IdP-initiated on b while off: %d %.800s", r.Status, r.Body)
	}
	a.Must(a.Do("PATCH", "/api/v1/sso/connections/"+id, a.APIKey, map[string]any{"config": map[string]any{
		"idp_metadata_xml": idp.MetadataXML(t), "allow_idp_initiated": true}}), http.StatusOK)
	portal = idpInitiated(t, idp, a, id)
	onB := *portal
	onB.Action = strings.Replace(portal.Action, a.URL, b.URL, 1)
	if r := postACS(b, b.Client(), &onB); r.Status != http.StatusSeeOther {
		t.Fatalf("IdP-initiated on b after a turned it on: %d %.800s", r.Status, r.Body)
	}
	if r := postACS(a, a.Client(), portal); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `data-error-code="sso_replayed"`) {
		t.Fatalf("the same assertion on a: %d %.800s", r.Status, r.Body)
	}
}
