package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"

	"github.com/invitegate/gateway/sso/saml/samltest"
)

// A person signs in through the IdP's login form, SP-initiated, with each
// binding, with the assertion encrypted to the SP key and in the clear.
func TestRoundTrip(t *testing.T) {
	idp := samltest.Start(t)
	for _, tc := range []struct {
		name      string
		binding   string
		encrypted bool
	}{
		{"redirect binding, encrypted assertion", BindingRedirect, true},
		{"redirect binding, plain assertion", BindingRedirect, false},
		{"post binding, encrypted assertion", BindingPost, true},
		{"post binding, plain assertion", BindingPost, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, idp, gwOptions{binding: tc.binding})
			g.register(t, idp, !tc.encrypted)
			req, rd := g.begin(t)
			if req.AuthnRequestID == "" {
				t.Fatal("Begin recorded no AuthnRequest id")
			}
			checkAuthnRequest(t, idp, tc.binding, req.Key, req.AuthnRequestID, rd.URL, rd.Form)

			b := samltest.NewBrowser()
			form := b.Login(t, idp, rd.URL, rd.Form)
			if want := g.url + "/sso/saml/" + testConnID + "/acs"; form.Action != want {
				t.Errorf("IdP posts to %q, want the ACS %q", form.Action, want)
			}
			if form.Fields.Get("RelayState") != req.Key {
				t.Errorf("RelayState back from the IdP = %q, want the request key %q", form.Fields.Get("RelayState"), req.Key)
			}
			if got := hasEncryptedAssertion(samltest.Decode(t, form.Fields.Get("SAMLResponse"))); got != tc.encrypted {
				t.Fatalf("assertion encrypted = %v, want %v", got, tc.encrypted)
			}
			status, res := postACSForm(t, b, form)
			if status != http.StatusOK || res.Assertion == nil {
				t.Fatalf("ACS answered %d %+v", status, res)
			}
			a := res.Assertion
			if a.Issuer != idp.URL+"/metadata" || a.Subject != samltest.Email || !a.EmailVerified {
				t.Errorf("assertion issuer %q subject %q verified %v", a.Issuer, a.Subject, a.EmailVerified)
			}
			for name, want := range map[string][]string{
				"mail":                              {samltest.Email},
				"urn:oid:0.9.2342.19200300.100.1.3": {samltest.Email},
				"givenName":                         {"Alice"},
				"sn":                                {"Liddell"},
				"eduPersonAffiliation":              {"staff", "admins"},
			} {
				if !slices.Equal(a.Attributes[name], want) {
					t.Errorf("attribute %s = %q, want %q", name, a.Attributes[name], want)
				}
			}
			if !a.Expires.After(time.Now()) || a.Expires.After(time.Now().Add(5*time.Minute)) {
				t.Errorf("expires %v, want within minutes from now", a.Expires)
			}

			// The same response again, with its login still in flight (as
			// if the request store had let it through): the replay cache
			// refuses it.
			g.mu.Lock()
			g.pending[req.Key] = req
			g.mu.Unlock()
			if status, res := postACSForm(t, b, form); status != http.StatusUnauthorized || res.Code != "sso_replayed" {
				t.Errorf("second use answered %d %+v, want sso_replayed", status, res)
			}
		})
	}
}

// checkAuthnRequest reads the AuthnRequest Begin made as the IdP will: it
// is signed (a query signature with HTTP-Redirect, an enveloped one with
// HTTP-POST), names the ACS, and carries the request key as RelayState.
func checkAuthnRequest(t *testing.T, idp *samltest.IDP, binding, key, id, target string, form map[string]string) {
	t.Helper()
	var doc []byte
	if binding == BindingRedirect {
		if form != nil {
			t.Fatalf("redirect binding gave a form %v", form)
		}
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if !strings.HasPrefix(target, idp.URL+"/sso?") || q.Get("SigAlg") == "" || q.Get("Signature") == "" {
			t.Fatalf("redirect URL %s: want the IdP's SSO URL with SigAlg and Signature", target)
		}
		if q.Get("RelayState") != key {
			t.Errorf("RelayState %q, want %q", q.Get("RelayState"), key)
		}
		raw, _ := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
		doc, _ = io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	} else {
		if target != idp.URL+"/sso" || form == nil {
			t.Fatalf("post binding: URL %s form %v; want the IdP's SSO URL and a form", target, form)
		}
		if form["RelayState"] != key {
			t.Errorf("RelayState %q, want %q", form["RelayState"], key)
		}
		doc, _ = base64.StdEncoding.DecodeString(form["SAMLRequest"])
		if !strings.Contains(string(doc), "SignatureValue") {
			t.Errorf("POST AuthnRequest carries no enveloped signature: %s", doc)
		}
	}
	if !strings.Contains(string(doc), `ID="`+id+`"`) {
		t.Errorf("AuthnRequest %s does not carry the recorded id %s", doc, id)
	}
}

// An unsolicited response from the IdP's portal: refused unless the
// connection allows IdP-initiated sign-in, and then used once only.
func TestIDPInitiated(t *testing.T) {
	idp := samltest.Start(t)
	for _, tc := range []struct {
		name  string
		allow bool
	}{
		{"refused when off", false},
		{"accepted once when on", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, idp, gwOptions{allowIDPInitiated: tc.allow})
			g.register(t, idp, false)
			entityID := g.url + "/sso/saml/" + testConnID + "/metadata"
			idp.Put(t, "/shortcuts/gateway", samlidp.Shortcut{Name: "gateway", ServiceProviderID: entityID})

			b := samltest.NewBrowser()
			if p := b.Do(t, http.MethodPost, idp.URL+"/login", url.Values{"user": {samltest.User}, "password": {samltest.Password}}); p.Status != http.StatusOK {
				t.Fatalf("IdP login: %d %s", p.Status, p.Body)
			}
			form := b.Do(t, http.MethodGet, idp.URL+"/login/gateway", nil)
			if form.Fields.Get("SAMLResponse") == "" {
				t.Fatalf("IdP portal sent no response: %d %s", form.Status, form.Body)
			}
			status, res := postACSForm(t, b, form)
			if !tc.allow {
				if status != http.StatusUnauthorized || res.Code != "sso_unsolicited" {
					t.Fatalf("answered %d %+v, want sso_unsolicited", status, res)
				}
				return
			}
			if status != http.StatusOK || res.Assertion == nil || res.Assertion.Subject != samltest.Email {
				t.Fatalf("answered %d %+v, want the assertion", status, res)
			}
			if status, res := postACSForm(t, b, form); status != http.StatusUnauthorized || res.Code != "sso_replayed" {
				t.Errorf("second use answered %d %+v, want sso_replayed", status, res)
			}
		})
	}
}

// With IdP-initiated sign-in allowed, a response to one of our requests
// still has to come back with that request: posted without it (its login
// already used or never ours), its InResponseTo matches nothing.
func TestIDPInitiatedStillChecksInResponseTo(t *testing.T) {
	idp := samltest.Start(t)
	g := startGateway(t, idp, gwOptions{allowIDPInitiated: true})
	g.register(t, idp, false)
	req, rd := g.begin(t)
	form := samltest.NewBrowser().Login(t, idp, rd.URL, rd.Form)
	g.mu.Lock()
	delete(g.pending, req.Key)
	g.mu.Unlock()
	status, res := postACSForm(t, samltest.NewBrowser(), form)
	if status != http.StatusUnauthorized || res.Code != "sso_invalid_response" || !strings.Contains(res.Detail, "InResponseTo") {
		t.Fatalf("answered %d %+v, want sso_invalid_response about InResponseTo", status, res)
	}
}
