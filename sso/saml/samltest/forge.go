package samltest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
)

// Forgery describes a Response made with the IdP's own machinery
// (crewjam's DefaultAssertionMaker and its signing) for the default
// person, then bent one way, to see an SP refuse exactly that.
type Forgery struct {
	// InResponseTo is the AuthnRequest id answered; "" for unsolicited.
	InResponseTo string
	// At is the IdP's clock; zero is now.
	At time.Time
	// EncryptTo is the SP key index the assertion is encrypted to; -1 in
	// the clear.
	EncryptTo int
	// UnsignedAssertion and UnsignedResponse leave the signatures out
	// (the assertion is signed and the response too, as samlidp does).
	UnsignedAssertion, UnsignedResponse bool
	// Destination overrides the Response's Destination.
	Destination string
	// Issuer signs as an IdP with this entity id (same key).
	Issuer string
	// Assertion bends the assertion before it is signed.
	Assertion func(*crewjam.Assertion)
}

// Plain is a Forgery of an assertion in the clear, signed as samlidp signs.
func Plain() Forgery { return Forgery{EncryptTo: -1} }

// Forge makes the Response the IdP would send to the SP with this
// metadata, bent as f says, base64 as a SAMLResponse field carries it.
func (idp *IDP) Forge(t testing.TB, spMetadata []byte, f Forgery) string {
	t.Helper()
	now := f.At
	if now.IsZero() {
		now = time.Now()
	}
	var sp crewjam.EntityDescriptor
	if err := xml.Unmarshal(spMetadata, &sp); err != nil {
		t.Fatal(err)
	}
	spd := sp.SPSSODescriptors[0]
	var kds []crewjam.KeyDescriptor
	enc := 0
	for _, kd := range spd.KeyDescriptors {
		if kd.Use != "encryption" {
			continue
		}
		if enc == f.EncryptTo {
			kds = append(kds, kd)
		}
		enc++
	}
	spd.KeyDescriptors = kds
	acs := spd.AssertionConsumerServices[0]

	ip := &idp.Server.IDP
	if f.Issuer != "" {
		u, _ := url.Parse(f.Issuer)
		ip = &crewjam.IdentityProvider{Key: idp.Key, Certificate: idp.Cert, MetadataURL: *u}
	}
	httpReq, _ := http.NewRequest(http.MethodPost, acs.Location, nil)
	httpReq.RemoteAddr = "127.0.0.1:1"
	ar := &crewjam.IdpAuthnRequest{
		IDP: ip, HTTPRequest: httpReq, Now: now,
		Request:                 crewjam.AuthnRequest{ID: f.InResponseTo},
		ServiceProviderMetadata: &sp, SPSSODescriptor: &spd, ACSEndpoint: &acs,
	}
	session := &crewjam.Session{
		ID: "s1", CreateTime: now, ExpireTime: now.Add(time.Hour), Index: "1",
		NameID: Email, NameIDFormat: string(crewjam.EmailAddressNameIDFormat),
		UserName: User, UserEmail: Email, UserGivenName: GivenName, UserSurname: Surname, Groups: Groups,
	}
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(ar, session); err != nil {
		t.Fatal(err)
	}
	ar.Assertion.IssueInstant = now
	if f.Assertion != nil {
		f.Assertion(ar.Assertion)
	}
	if f.UnsignedAssertion {
		ar.AssertionEl = ar.Assertion.Element()
	} else if err := ar.MakeAssertionEl(); err != nil {
		t.Fatal(err)
	}
	if f.Destination != "" {
		ar.ACSEndpoint = &crewjam.IndexedEndpoint{Binding: acs.Binding, Location: f.Destination, Index: acs.Index}
	}
	var root *etree.Element
	if f.UnsignedResponse {
		resp := crewjam.Response{
			Destination: ar.ACSEndpoint.Location, ID: fmt.Sprintf("id-r%d", now.UnixNano()),
			InResponseTo: f.InResponseTo, IssueInstant: now, Version: "2.0",
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
