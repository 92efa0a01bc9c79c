package saml

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
)

// forgery describes a Response made with the test IdP's own machinery
// (crewjam's DefaultAssertionMaker and its signing), then bent one way, to
// see the SP refuse exactly that.
type forgery struct {
	// inResponseTo is the AuthnRequest id answered; "" for unsolicited.
	inResponseTo string
	// at is the IdP's clock; zero is now.
	at time.Time
	// encryptTo is the SP key index the assertion is encrypted to; -1 in
	// the clear.
	encryptTo int
	// unsignedAssertion and unsignedResponse leave the signatures out
	// (the assertion is signed and the response too, as samlidp does).
	unsignedAssertion, unsignedResponse bool
	// destination overrides the Response's Destination.
	destination string
	// issuer signs as an IdP with this entity id (same key).
	issuer string
	// assertion bends the assertion before it is signed.
	assertion func(*crewjam.Assertion)
	// spMetadata is the SP metadata the IdP holds, when not the current
	// one (an IdP not yet told of a key rollover).
	spMetadata []byte
}

func plain() forgery { return forgery{encryptTo: -1} }

func (g *gateway) forge(t testing.TB, idp *testIDP, f forgery) string {
	t.Helper()
	now := f.at
	if now.IsZero() {
		now = time.Now()
	}
	md := f.spMetadata
	if md == nil {
		var err error
		if md, err = g.connector().Metadata(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var sp crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &sp); err != nil {
		t.Fatal(err)
	}
	spd := sp.SPSSODescriptors[0]
	var kds []crewjam.KeyDescriptor
	enc := 0
	for _, kd := range spd.KeyDescriptors {
		if kd.Use != "encryption" {
			continue
		}
		if enc == f.encryptTo {
			kds = append(kds, kd)
		}
		enc++
	}
	spd.KeyDescriptors = kds
	acs := spd.AssertionConsumerServices[0]

	ip := &idp.srv.IDP
	if f.issuer != "" {
		u, _ := url.Parse(f.issuer)
		ip = &crewjam.IdentityProvider{Key: idp.key, Certificate: idp.cert, MetadataURL: *u}
	}
	httpReq, _ := http.NewRequest(http.MethodPost, acs.Location, nil)
	httpReq.RemoteAddr = "127.0.0.1:1"
	ar := &crewjam.IdpAuthnRequest{
		IDP: ip, HTTPRequest: httpReq, Now: now,
		Request:                 crewjam.AuthnRequest{ID: f.inResponseTo},
		ServiceProviderMetadata: &sp, SPSSODescriptor: &spd, ACSEndpoint: &acs,
	}
	session := &crewjam.Session{
		ID: "s1", CreateTime: now, ExpireTime: now.Add(time.Hour), Index: "1",
		NameID: testEmail, NameIDFormat: string(crewjam.EmailAddressNameIDFormat),
		UserName: testUser, UserEmail: testEmail, UserGivenName: "Alice", UserSurname: "Liddell",
	}
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(ar, session); err != nil {
		t.Fatal(err)
	}
	ar.Assertion.IssueInstant = now
	if f.assertion != nil {
		f.assertion(ar.Assertion)
	}
	if f.unsignedAssertion {
		ar.AssertionEl = ar.Assertion.Element()
	} else if err := ar.MakeAssertionEl(); err != nil {
		t.Fatal(err)
	}
	if f.destination != "" {
		ar.ACSEndpoint = &crewjam.IndexedEndpoint{Binding: acs.Binding, Location: f.destination, Index: acs.Index}
	}
	var root *etree.Element
	if f.unsignedResponse {
		resp := crewjam.Response{
			Destination: ar.ACSEndpoint.Location, ID: fmt.Sprintf("id-r%d", now.UnixNano()),
			InResponseTo: f.inResponseTo, IssueInstant: now, Version: "2.0",
			Issuer: &crewjam.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: ip.MetadataURL.String()},
			Status: crewjam.Status{StatusCode: crewjam.StatusCode{Value: crewjam.StatusSuccess}},
		}
		root = resp.Element()
		root.AddChild(ar.AssertionEl)
	} else {
		if err := ar.MakeResponse(); err != nil {
			t.Fatal(err)
		}
		root = ar.ResponseEl
	}
	doc := etree.NewDocument()
	doc.SetRoot(root)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// postACS posts a SAMLResponse to the gateway's ACS with RelayState.
func (g *gateway) postACS(t testing.TB, samlResponse, relayState string) (int, acsResult) {
	t.Helper()
	b := newBrowser()
	return b.post(t, &page{action: g.url + "/sso/saml/" + testConnID + "/acs",
		fields: url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relayState}}})
}

func decoded(t testing.TB, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("forged response does not contain %q: %s", sub, s)
	}
}
