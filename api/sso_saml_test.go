package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml/samlidp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

// The person the SAML tests sign in: new to the account, known to the
// IdP with two groups.
const (
	samlUser     = "nia"
	samlPassword = "a long passphrase of nia"
	samlEmail    = "nia@uni.edu"
)

var samlGroups = []string{"staff", "students"}

// samlIDP is a real IdP (crewjam's samlidp, keys made by the test) that
// knows the person. It is on another site than the gateway (localhost
// beside 127.0.0.1), so in a browser its answer is a cross-site POST, as
// an organization's IdP's is.
func samlIDP(t *testing.T) *samltest.IDP {
	t.Helper()
	idp := samltest.StartAt(t, "localhost")
	idp.AddUser(t, samlUser, samlPassword, samlidp.User{Email: samlEmail, GivenName: "Nia", Surname: "Obi", Groups: samlGroups})
	return idp
}

// samlConnection creates a SAML connection through the API, as an admin
// does, with the IdP's metadata (XML) and samlidp's attribute names, then
// gives the IdP the connection's SP metadata, fetched from the gateway's
// metadata route. body overrides fields of the connection; config fields
// of its config.
func samlConnection(e *apitest.Env, idp *samltest.IDP, body, config map[string]any) string {
	e.T.Helper()
	cfg := map[string]any{"idp_metadata_xml": idp.MetadataXML(e.T)}
	for k, v := range config {
		cfg[k] = v
	}
	in := map[string]any{"name": "Uni", "type": "saml", "domains": []string{"uni.edu"}, "jit": true,
		"mapping": map[string]any{"email": "mail", "first_name": "givenName", "last_name": "sn", "groups": "eduPersonAffiliation"},
		"config":  cfg}
	for k, v := range body {
		in[k] = v
	}
	c := e.Must(e.Do("POST", "/api/v1/sso/connections", e.APIKey, in), http.StatusCreated).Map(e.T)
	id := c["id"].(string)
	idp.Register(e.T, id, samltest.FetchSPMetadata(e.T, e.URL+"/sso/saml/"+id+"/metadata"), false)
	return id
}

// samlLogin starts a login on the gateway as browser does (the form of
// the sign-in page, here with a Go client that does not follow the
// gateway's redirects; the answer must be posted from the same browser), takes the AuthnRequest to the IdP and signs in
// there as the person; it returns the IdP's self-posting form with the
// SAMLResponse, not yet posted to the ACS.
func samlLogin(e *apitest.Env, browser *http.Client, idp *samltest.IDP, start url.Values) *samltest.Page {
	e.T.Helper()
	r := e.Form(browser, "/sso/start", start)
	b := samltest.NewBrowser()
	b.User, b.Password = samlUser, samlPassword
	switch r.Status {
	case http.StatusSeeOther:
		return b.Login(e.T, idp, r.Header.Get("Location"), nil)
	case http.StatusOK:
		// The HTTP-POST binding: a page whose form posts itself to the IdP.
		form := samltest.ReadPage(r.Status, string(r.Body))
		fields := map[string]string{}
		for k := range form.Fields {
			fields[k] = form.Fields.Get(k)
		}
		if form.Action == "" || fields["SAMLRequest"] == "" {
			e.T.Fatalf("the POST binding's page has no form to the IdP: %s", r.Body)
		}
		return b.Login(e.T, idp, form.Action, fields)
	}
	e.T.Fatalf("starting the login: %d %s", r.Status, r.Body)
	return nil
}

// postACS posts an IdP's form to the gateway, as the browser does from
// the IdP's page (a cross-site POST), and, as a browser running the
// page's script does, posts the gateway's relay page again when it
// answers with one (an answer that came without the login cookie).
func postACS(e *apitest.Env, c *http.Client, p *samltest.Page) *apitest.Response {
	e.T.Helper()
	r := postACSOnce(e, c, p)
	if relay := samltest.ReadPage(r.Status, string(r.Body)); r.Status == http.StatusOK && relay.Fields.Get("ig_relayed") == "1" {
		relay.Action = e.URL + relay.Action
		return postACSOnce(e, c, relay)
	}
	return r
}

// postACSOnce posts an IdP's form to the gateway once.
func postACSOnce(e *apitest.Env, c *http.Client, p *samltest.Page) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.Action, strings.NewReader(p.Fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return e.Send(c, req)
}
