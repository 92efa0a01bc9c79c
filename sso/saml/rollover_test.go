package saml

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/invitegate/gateway/sso/saml/samltest"
)

// metadataCerts are the certificates SP metadata publishes, each with the
// uses it is published for, in order.
func metadataCerts(t *testing.T, md []byte) (certs []string, uses map[string][]string) {
	t.Helper()
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	spd := ed.SPSSODescriptors[0]
	if len(spd.AssertionConsumerServices) != 1 || spd.AssertionConsumerServices[0].Binding != crewjam.HTTPPostBinding {
		t.Errorf("ACS endpoints %+v, want one with HTTP-POST", spd.AssertionConsumerServices)
	}
	if spd.AuthnRequestsSigned == nil || !*spd.AuthnRequestsSigned {
		t.Error("metadata does not say AuthnRequests are signed")
	}
	uses = map[string][]string{}
	for _, kd := range spd.KeyDescriptors {
		c := strings.Join(strings.Fields(kd.KeyInfo.X509Data.X509Certificates[0].Data), "")
		if _, seen := uses[c]; !seen {
			certs = append(certs, c)
		}
		uses[c] = append(uses[c], kd.Use)
	}
	return certs, uses
}

// encryptionCerts are the certificates SP metadata publishes for
// encryption, in order.
func encryptionCerts(t *testing.T, md []byte) []string {
	t.Helper()
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kd := range ed.SPSSODescriptors[0].KeyDescriptors {
		if kd.Use == "encryption" {
			out = append(out, strings.Join(strings.Fields(kd.KeyInfo.X509Data.X509Certificates[0].Data), ""))
		}
	}
	return out
}

func derOf(t *testing.T, k KeyPair) string {
	t.Helper()
	c, err := parseCertificatePEM(k.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(c.Raw)
}

// The SP key rollover as an admin does it: rotate (the new certificate is
// published, the old key still signs), give the IdP the new metadata,
// rotate again (the old key is gone).
func TestKeyRollover(t *testing.T) {
	idp := samltest.Start(t)
	g := startGateway(t, idp, gwOptions{binding: BindingPost})
	ctx := context.Background()
	oldKey := g.cfg.Keys[0]
	before, err := g.connector().Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if certs, _ := metadataCerts(t, before); !slices.Equal(certs, []string{derOf(t, oldKey)}) {
		t.Fatalf("metadata before rotating publishes %d certificates, want the one key's", len(certs))
	}

	rotated, msg, err := g.cfg.RotateKey(time.Now())
	if err != nil || msg != "added a new key; update the IdP, then rotate again" {
		t.Fatalf("first rotate: %q, %v", msg, err)
	}
	if len(g.cfg.Keys) != 1 {
		t.Fatal("RotateKey changed the config it was called on")
	}
	g.cfg = rotated.(*Config)
	g.reopen()
	newKey := g.cfg.Keys[1]
	during, err := g.connector().Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	certs, uses := metadataCerts(t, during)
	if !slices.Equal(certs, []string{derOf(t, oldKey), derOf(t, newKey)}) {
		t.Fatalf("metadata after the first rotate publishes %d certificates, want old then new", len(certs))
	}
	for _, c := range certs {
		if !slices.Equal(uses[c], []string{"signing", "encryption"}) {
			t.Errorf("certificate published for %v, want signing and encryption", uses[c])
		}
	}
	if enc := encryptionCerts(t, during); !slices.Equal(enc, []string{derOf(t, newKey), derOf(t, oldKey)}) {
		t.Errorf("encryption certificates during the rollover are not new then old (an IdP encrypts to the first)")
	}
	// The old key still signs AuthnRequests: the IdP may not know the new
	// one yet.
	req, rd := g.begin(t)
	doc, _ := base64.StdEncoding.DecodeString(rd.Form["SAMLRequest"])
	if !strings.Contains(strings.Join(strings.Fields(string(doc)), ""), derOf(t, oldKey)) || strings.Contains(string(doc), derOf(t, newKey)) {
		t.Error("the AuthnRequest is not signed with the old key during the rollover")
	}
	// The IdP encrypts to either key.
	for i := range 2 {
		f := samltest.Forgery{EncryptTo: i, InResponseTo: req.AuthnRequestID}
		if i == 1 {
			req, _ = g.begin(t)
			f.InResponseTo = req.AuthnRequestID
		}
		if status, res := g.postACS(t, g.forge(t, idp, f), req.Key); status != http.StatusOK {
			t.Fatalf("assertion encrypted to key %d during the rollover: %d %+v", i, status, res)
		}
	}

	rotated, msg, err = g.cfg.RotateKey(time.Now())
	if err != nil || msg != "removed the old key; the new key now signs" {
		t.Fatalf("second rotate: %q, %v", msg, err)
	}
	g.cfg = rotated.(*Config)
	g.reopen()
	after, err := g.connector().Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if certs, _ := metadataCerts(t, after); !slices.Equal(certs, []string{derOf(t, newKey)}) {
		t.Fatalf("metadata after the second rotate publishes %d certificates, want only the new one", len(certs))
	}
	// An IdP given the metadata during the rollover encrypts to its first
	// encryption certificate, the new key: it goes on without being told
	// again.
	req, _ = g.begin(t)
	if status, res := g.postACS(t, idp.Forge(t, during, samltest.Forgery{EncryptTo: 0, InResponseTo: req.AuthnRequestID}), req.Key); status != http.StatusOK {
		t.Fatalf("assertion encrypted to the first encryption key of the metadata given during the rollover: %d %+v", status, res)
	}
	req, _ = g.begin(t)
	if status, res := g.postACS(t, g.forge(t, idp, samltest.Forgery{EncryptTo: 0, InResponseTo: req.AuthnRequestID}), req.Key); status != http.StatusOK {
		t.Fatalf("assertion encrypted to the new key: %d %+v", status, res)
	}
	// An IdP still holding the old metadata encrypts to the old key, which
	// the SP no longer has.
	req, _ = g.begin(t)
	f := samltest.Forgery{EncryptTo: 0, InResponseTo: req.AuthnRequestID}
	status, res := g.postACS(t, idp.Forge(t, before, f), req.Key)
	if status != http.StatusUnauthorized || res.Code != "sso_invalid_response" || !strings.Contains(res.Detail, "decrypt") {
		t.Fatalf("assertion encrypted to the dropped key: %d %+v, want sso_invalid_response about decryption", status, res)
	}
}
