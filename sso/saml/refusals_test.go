package saml

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/invitegate/gateway/sso/saml/samltest"
)

// Each response differs from one the SP accepts in one way, and is refused
// for that reason. What crewjam/saml checks itself (signatures, audience,
// recipient, destination, issuer, InResponseTo, expiry) is tested here as
// the connector's behaviour too, so a change of library or options that
// dropped a check would fail.
func TestRefusals(t *testing.T) {
	idp := samltest.Start(t)
	g := startGateway(t, idp, gwOptions{})
	other := func(f samltest.Forgery, edit func(*samltest.Forgery)) samltest.Forgery { edit(&f); return f }
	for _, tc := range []struct {
		name   string
		f      samltest.Forgery
		id     string // InResponseTo; "" = the request's id
		code   string // "" = accepted
		detail string
	}{
		{name: "signed response and assertion, plain: accepted", f: samltest.Plain()},
		{name: "encrypted assertion: accepted", f: samltest.Forgery{EncryptTo: 0}},
		{name: "only the response signed: accepted", f: other(samltest.Plain(), func(f *samltest.Forgery) { f.UnsignedAssertion = true })},
		{name: "only the assertion signed: accepted", f: other(samltest.Plain(), func(f *samltest.Forgery) { f.UnsignedResponse = true })},
		{name: "unsigned", f: other(samltest.Plain(), func(f *samltest.Forgery) { f.UnsignedAssertion, f.UnsignedResponse = true, true }),
			code: "sso_invalid_response", detail: "signature"},
		{name: "wrong audience", f: other(samltest.Plain(), func(f *samltest.Forgery) {
			f.Assertion = func(a *crewjam.Assertion) {
				a.Conditions.AudienceRestrictions[0].Audience.Value = "https://other-sp.example/metadata"
			}
		}), code: "sso_invalid_response", detail: "AudienceRestriction"},
		{name: "no audience", f: other(samltest.Plain(), func(f *samltest.Forgery) {
			f.Assertion = func(a *crewjam.Assertion) { a.Conditions.AudienceRestrictions = nil }
		}), code: "sso_invalid_response", detail: "AudienceRestriction"},
		{name: "wrong recipient", f: other(samltest.Plain(), func(f *samltest.Forgery) {
			f.Assertion = func(a *crewjam.Assertion) {
				a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = "https://other-sp.example/acs"
			}
		}), code: "sso_invalid_response", detail: "Recipient"},
		{name: "wrong destination", f: other(samltest.Plain(), func(f *samltest.Forgery) { f.Destination = "https://other-sp.example/acs" }),
			code: "sso_invalid_response", detail: "Destination"},
		{name: "destination only a path", f: other(samltest.Plain(), func(f *samltest.Forgery) { f.Destination = "/sso/saml/" + testConnID + "/acs" }),
			code: "sso_invalid_response", detail: "Destination"},
		{name: "wrong issuer of the assertion", f: other(samltest.Plain(), func(f *samltest.Forgery) {
			f.Assertion = func(a *crewjam.Assertion) { a.Issuer.Value = "https://evil-idp.example/metadata" }
		}), code: "sso_invalid_response", detail: "issuer"},
		{name: "wrong issuer, signed with the IdP's key", f: other(samltest.Plain(), func(f *samltest.Forgery) { f.Issuer = "https://evil-idp.example/metadata" }),
			code: "sso_invalid_response", detail: "Issuer"},
		{name: "InResponseTo of another request", f: samltest.Plain(), id: "id-someone-elses",
			code: "sso_invalid_response", detail: "InResponseTo"},
		{name: "assertion answering another request", f: other(samltest.Plain(), func(f *samltest.Forgery) {
			f.Assertion = func(a *crewjam.Assertion) {
				a.Subject.SubjectConfirmations[0].SubjectConfirmationData.InResponseTo = "id-someone-elses"
			}
		}), code: "sso_invalid_response", detail: "request IDs"},
		{name: "unsolicited response to a login in flight", f: samltest.Plain(), id: "-",
			code: "sso_invalid_response", detail: "InResponseTo"},
		{name: "expired", f: other(samltest.Plain(), func(f *samltest.Forgery) { f.At = time.Now().Add(-10 * time.Minute) }),
			code: "sso_expired", detail: "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := g.begin(t)
			f := tc.f
			switch tc.id {
			case "":
				f.InResponseTo = req.AuthnRequestID
			case "-":
			default:
				f.InResponseTo = tc.id
			}
			resp := g.forge(t, idp, f)
			if f.Destination != "" {
				mustContain(t, samltest.Decode(t, resp), `Destination="`+f.Destination+`"`)
			}
			status, res := g.postACS(t, resp, req.Key)
			if tc.code == "" {
				if status != http.StatusOK || res.Assertion == nil || res.Assertion.Subject != samltest.Email {
					t.Fatalf("answered %d %+v, want the assertion", status, res)
				}
				return
			}
			if status != http.StatusUnauthorized || res.Code != tc.code || !strings.Contains(res.Detail, tc.detail) {
				t.Fatalf("answered %d %+v, want %s about %q", status, res, tc.code, tc.detail)
			}
		})
	}

	// Why the ACS URL is passed as the URL a response was received at:
	// crewjam's ParseResponse compares Destination with the request's URL,
	// which a server sees as a path only, so alone it takes a Destination
	// that names no host at all.
	t.Run("the library alone takes a path as Destination", func(t *testing.T) {
		req, _ := g.begin(t)
		f := samltest.Plain()
		f.InResponseTo, f.Destination = req.AuthnRequestID, "/sso/saml/"+testConnID+"/acs"
		r := httptest.NewRequest(http.MethodPost, "/sso/saml/"+testConnID+"/acs", nil)
		r.PostForm = url.Values{"SAMLResponse": {g.forge(t, idp, f)}}
		sp := g.connector().sp
		if _, err := sp.ParseResponse(r, []string{req.AuthnRequestID}); err != nil {
			t.Fatalf("crewjam refused it itself (%v): the connector's own check is no longer needed", err)
		}
	})
}

// The connection's clock skew applies on top of the library's (a fixed
// three minutes): with 30 seconds, an assertion a minute out of its window
// is refused; with two minutes the same one is accepted.
func TestClockSkew(t *testing.T) {
	idp := samltest.Start(t)
	expired := func(a *crewjam.Assertion) {
		past := time.Now().Add(-time.Minute)
		a.Conditions.NotOnOrAfter = past
		a.Subject.SubjectConfirmations[0].SubjectConfirmationData.NotOnOrAfter = past
	}
	early := func(a *crewjam.Assertion) { a.Conditions.NotBefore = time.Now().Add(time.Minute) }
	for _, tc := range []struct {
		name   string
		skew   time.Duration
		bend   func(*crewjam.Assertion)
		code   string
		detail string
	}{
		{"ended a minute ago, skew 30s", 30 * time.Second, expired, "sso_expired", "allowed skew 30s"},
		{"ended a minute ago, skew 2m", 2 * time.Minute, expired, "", ""},
		{"starts in a minute, skew 30s", 30 * time.Second, early, "sso_invalid_response", "not valid before"},
		{"starts in a minute, skew 2m", 2 * time.Minute, early, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, idp, gwOptions{skew: tc.skew})
			req, _ := g.begin(t)
			f := samltest.Plain()
			f.InResponseTo, f.Assertion = req.AuthnRequestID, tc.bend
			status, res := g.postACS(t, g.forge(t, idp, f), req.Key)
			if tc.code == "" {
				if status != http.StatusOK || res.Assertion == nil {
					t.Fatalf("answered %d %+v, want the assertion", status, res)
				}
				return
			}
			if status != http.StatusUnauthorized || res.Code != tc.code || !strings.Contains(res.Detail, tc.detail) {
				t.Fatalf("answered %d %+v, want %s about %q", status, res, tc.code, tc.detail)
			}
		})
	}
}

// The connector reads time only from the gateway's clock: a response
// accepted now is expired once that clock has moved ten minutes on.
func TestInjectedClock(t *testing.T) {
	idp := samltest.Start(t)
	g := startGateway(t, idp, gwOptions{})
	req, _ := g.begin(t)
	f := samltest.Plain()
	f.InResponseTo = req.AuthnRequestID
	resp := g.forge(t, idp, f)
	g.clock.Set(time.Now().Add(10 * time.Minute))
	status, res := g.postACS(t, resp, req.Key)
	if status != http.StatusUnauthorized || res.Code != "sso_expired" {
		t.Fatalf("answered %d %+v, want sso_expired", status, res)
	}
	g.clock.Set(time.Time{})
	g.mu.Lock()
	g.pending[req.Key] = req
	g.mu.Unlock()
	if status, res := g.postACS(t, resp, req.Key); status != http.StatusOK {
		t.Fatalf("with the clock back: answered %d %+v, want the assertion", status, res)
	}
}

// The IdP refuses the login (here: it cannot give the NameID format the
// connection asks for) and says so in a Response with an error status.
func TestProviderError(t *testing.T) {
	idp := samltest.Start(t)
	idp.Server.IDP.EnforceNameIDPolicy = true
	g := startGateway(t, idp, gwOptions{binding: BindingPost, configure: func(c *Config) { c.NameIDFormat = "persistent" }})
	g.register(t, idp, false)
	_, rd := g.begin(t)
	form := samltest.NewBrowser().Login(t, idp, rd.URL, rd.Form)
	status, res := postACSForm(t, samltest.NewBrowser(), form)
	if status != http.StatusUnauthorized || res.Code != "sso_provider_error" || !strings.Contains(res.Detail, "status:Requester") {
		t.Fatalf("answered %d %+v, want sso_provider_error with the IdP's status", status, res)
	}
}

// The replay cache keeps an assertion id for as long as the assertion
// could be accepted: its expiry plus the skew (SAML times are to the
// millisecond).
func TestReplayKeptUntilExpiry(t *testing.T) {
	idp := samltest.Start(t)
	g := startGateway(t, idp, gwOptions{})
	req, _ := g.begin(t)
	f := samltest.Plain()
	f.InResponseTo = req.AuthnRequestID
	var id string
	var expires time.Time
	f.Assertion = func(a *crewjam.Assertion) {
		id, expires = a.ID, a.Subject.SubjectConfirmations[0].SubjectConfirmationData.NotOnOrAfter
	}
	if status, res := g.postACS(t, g.forge(t, idp, f), req.Key); status != http.StatusOK {
		t.Fatalf("answered %d %+v", status, res)
	}
	until, ok := g.replay.until(testConnID, id)
	if !ok {
		t.Fatalf("assertion %s not recorded in the replay cache", id)
	}
	if want := expires.Add(g.skew); until.Sub(want).Abs() >= time.Millisecond {
		t.Errorf("recorded until %v, want %v", until, want)
	}
}
