// Package samltest runs a real SAML identity provider for tests: crewjam/saml's
// samlidp on a loopback httptest server, with keys made by the test and one
// person who can sign in. Tests of the SAML connector and of the gateway's
// routes share it, so both talk to the same IdP the same way.
package samltest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/xml"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
)

// The person every IdP started here knows.
const (
	User      = "alice"
	Password  = "correct horse battery staple"
	Email     = "alice@example.com"
	GivenName = "Alice"
	Surname   = "Liddell"
)

// Groups are the default person's groups, sent as eduPersonAffiliation.
var Groups = []string{"staff", "admins"}

// IDP is a running samlidp.
type IDP struct {
	Server *samlidp.Server
	// URL is the IdP's base URL; its entity id is URL + "/metadata".
	URL  string
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// NewKeyCert makes an RSA 2048 key in a self-signed certificate valid for a
// year from notBefore.
func NewKeyCert(t testing.TB, cn string, notBefore time.Time) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(24 * 365 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// Start runs an IdP until the test ends. It knows the default person
// (User, Password) and verifies the signature of every AuthnRequest,
// refusing an unsigned one.
func Start(t testing.TB) *IDP {
	t.Helper()
	return StartAt(t, "127.0.0.1")
}

// StartAt is Start with the IdP's URLs naming host (a loopback name):
// "localhost" puts the IdP on another site than a server on 127.0.0.1,
// as an organization's IdP is, so a browser treats its form posts as
// cross-site.
func StartAt(t testing.TB, host string) *IDP {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	base, _ := url.Parse("http://" + net.JoinHostPort(host, port))
	key, cert := NewKeyCert(t, "test idp", time.Now().Add(-time.Hour))
	srv, err := samlidp.New(samlidp.Options{
		URL:         *base,
		Key:         key,
		Certificate: cert,
		Store:       &samlidp.MemoryStore{},
		Logger:      log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.IDP.WantAuthnRequestsSigned = true
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	idp := &IDP{Server: srv, URL: base.String(), Key: key, Cert: cert}
	idp.AddUser(t, User, Password, samlidp.User{Email: Email, GivenName: GivenName, Surname: Surname, Groups: Groups})
	return idp
}

// EntityID is the IdP's entity id, the issuer of its responses.
func (idp *IDP) EntityID() string { return idp.URL + "/metadata" }

// AddUser lets another person sign in at the IdP.
func (idp *IDP) AddUser(t testing.TB, name, password string, u samlidp.User) {
	t.Helper()
	u.PlaintextPassword = &password
	idp.Put(t, "/users/"+name, u)
}

// Put calls samlidp's admin API: a JSON value, or raw bytes as they are.
func (idp *IDP) Put(t testing.TB, path string, v any) {
	t.Helper()
	body, ok := v.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, idp.URL+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s: %s %s", path, resp.Status, b)
	}
}

// MetadataXML is the IdP's metadata, as an admin gives it to an SP.
func (idp *IDP) MetadataXML(t testing.TB) string {
	t.Helper()
	resp, err := http.Get(idp.EntityID())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP metadata: %s %s", resp.Status, b)
	}
	return string(b)
}

// Register gives the IdP an SP's metadata under a service name, as an
// admin pastes it; plain strips the encryption certificates, so the IdP
// sends the assertion in the clear.
func (idp *IDP) Register(t testing.TB, service string, md []byte, plain bool) {
	t.Helper()
	if plain {
		md = WithoutEncryption(t, md)
	}
	idp.Put(t, "/services/"+service, md)
}

// FetchSPMetadata GETs an SP's metadata from its URL.
func FetchSPMetadata(t testing.TB, metadataURL string) []byte {
	t.Helper()
	resp, err := http.Get(metadataURL)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SP metadata: %s %s", resp.Status, md)
	}
	return md
}

// WithoutEncryption is SP metadata without its encryption certificates.
func WithoutEncryption(t testing.TB, md []byte) []byte {
	t.Helper()
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	spd := &ed.SPSSODescriptors[0]
	var kept []crewjam.KeyDescriptor
	for _, kd := range spd.KeyDescriptors {
		if kd.Use != "encryption" {
			kept = append(kept, kd)
		}
	}
	spd.KeyDescriptors = kept
	out, err := xml.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
