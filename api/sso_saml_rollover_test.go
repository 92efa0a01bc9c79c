package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

// The SP key rollover as the README tells an admin to do it, with the
// real IdP (which checks every AuthnRequest's signature and encrypts the
// assertion to the SP): rotate, give the IdP the new metadata, rotate
// again; people sign in at every step, the IdP told nothing after the
// last step.
func TestSAMLKeyRollover(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			idp := samlIDP(t)
			idp.Server.IDP.WantAuthnRequestsSigned = true
			e := ssoRealEnv(t, d)
			id := samlConnection(e, idp, nil, map[string]any{"binding": "post"})
			signIn := func(step string) {
				t.Helper()
				browser := e.Client()
				p := samlLogin(e, browser, idp, url.Values{"connection": {id}})
				if !containsEncrypted(t, p) {
					t.Fatalf("%s: the IdP sent the assertion in the clear", step)
				}
				if r := postACS(e, browser, p); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console" {
					t.Fatalf("%s: the sign-in answered %d %q: %.1500s", step, r.Status, r.Header.Get("Location"), r.Body)
				}
			}
			signIn("before the rollover")
			rotate := func(want string) {
				t.Helper()
				r := e.Must(e.Do("POST", "/api/v1/sso/connections/"+id+"/rotate-key", e.APIKey, nil), http.StatusOK).Map(t)
				if r["message"] != want {
					t.Fatalf("rotate-key said %v, want %q", r["message"], want)
				}
			}
			rotate("added a new key; update the IdP, then rotate again")
			signIn("after the first rotate, the IdP not told yet")
			idp.Register(t, id, samltest.FetchSPMetadata(t, e.URL+"/sso/saml/"+id+"/metadata"), false)
			signIn("after the first rotate, the IdP given the new metadata")
			rotate("removed the old key; the new key now signs")
			signIn("after the second rotate")
		})
	}
}

func containsEncrypted(t *testing.T, p *samltest.Page) bool {
	t.Helper()
	return strings.Contains(samltest.Decode(t, p.Fields.Get("SAMLResponse")), "EncryptedAssertion")
}
