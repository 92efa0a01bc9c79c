package saml

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/invitegate/gateway/sso/saml/samltest"
)

// forge is the IdP's Response to this gateway's current SP metadata, bent
// as f says.
func (g *gateway) forge(t testing.TB, idp *samltest.IDP, f samltest.Forgery) string {
	t.Helper()
	md, err := g.connector().Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return idp.Forge(t, md, f)
}

// postACS posts a SAMLResponse to the gateway's ACS with RelayState.
func (g *gateway) postACS(t testing.TB, samlResponse, relayState string) (int, acsResult) {
	t.Helper()
	return postACSForm(t, samltest.NewBrowser(), &samltest.Page{Action: g.url + "/sso/saml/" + testConnID + "/acs",
		Fields: url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relayState}}})
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("forged response does not contain %q: %s", sub, s)
	}
}
