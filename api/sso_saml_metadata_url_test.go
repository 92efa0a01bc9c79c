package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/crewjam/saml/samlidp"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

// A connection given the IdP's metadata URL instead of its XML fetches it
// when first used, and signs people in; IdP-initiated sign-in from the
// IdP's portal lands on the path its RelayState names.
func TestSAMLMetadataURLAndPortalRelayState(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			idp := samlIDP(t)
			e := ssoRealEnv(t, d)
			c := e.Must(e.Do("POST", "/api/v1/sso/connections", e.APIKey, map[string]any{"name": "Uni", "type": "saml", "domains": []string{"uni.edu"}, "jit": true,
				"mapping": map[string]any{"preset": "generic", "email": "mail", "first_name": "givenName", "last_name": "sn", "groups": "eduPersonAffiliation"},
				"config":  map[string]any{"idp_metadata_url": idp.EntityID(), "allow_idp_initiated": true}}), http.StatusCreated).Map(t)
			id := c["id"].(string)
			idp.Register(t, id, samltest.FetchSPMetadata(t, e.URL+"/sso/saml/"+id+"/metadata"), false)
			browser := e.Client()
			p := samlLogin(e, browser, idp, url.Values{"email": {samlEmail}, "return": {"/console/events"}})
			if r := postACS(e, browser, p); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/events" {
				t.Fatalf("a sign-in through metadata from its URL: %d %q %.800s", r.Status, r.Header.Get("Location"), r.Body)
			}

			relay := "/console/settings"
			idp.Put(t, "/shortcuts/"+id, samlidp.Shortcut{Name: id, ServiceProviderID: e.URL + "/sso/saml/" + id + "/metadata", RelayState: &relay})
			b := samltest.NewBrowser()
			if s := b.Do(t, http.MethodPost, idp.URL+"/login", url.Values{"user": {samlUser}, "password": {samlPassword}}); s.Status != http.StatusOK {
				t.Fatalf("IdP login: %d %s", s.Status, s.Body)
			}
			portal := b.Do(t, http.MethodGet, idp.URL+"/login/"+id, nil)
			if portal.Fields.Get("RelayState") != relay {
				t.Fatalf("the portal's RelayState %q", portal.Fields.Get("RelayState"))
			}
			if r := postACS(e, e.Client(), portal); r.Status != http.StatusSeeOther || r.Header.Get("Location") != relay {
				t.Fatalf("an IdP-initiated sign-in with RelayState %s: %d %q %.800s", relay, r.Status, r.Header.Get("Location"), r.Body)
			}
			if got := e.Must(e.Do("GET", "/api/v1/sso/connections/"+id, e.APIKey, nil), http.StatusOK).Map(t); got["last_failure"] != "" || got["last_login_at"] == nil {
				t.Fatalf("the connection after two sign-ins: last failure %v, last login %v", got["last_failure"], got["last_login_at"])
			}
		})
	}
}
