package saml

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/sso/connector"
)

// The attack responses of crewjam/saml's test suite (testdata/README.md),
// each given to the connector with the clock, SP URLs and request id its
// original test uses, and a genuine response beside them where the same
// setup accepts one, so a refusal is known to be for the attack.

// attackSP is a connection set up as one of crewjam's tests sets up its SP.
type attackSP struct {
	metadata, entityID, acs string
	key, cert               string
	at                      time.Time
	requestID               string
}

var (
	onelogin = attackSP{
		metadata: "TestSPCanHandleOneloginResponse_IDPMetadata",
		entityID: "https://29ee6d2e.ngrok.io/saml/metadata", acs: "https://29ee6d2e.ngrok.io/saml/acs",
		key: "sp_key.pem", cert: "sp_cert.pem",
		at:        mustTime("Mon Jan 2 15:04:05 UTC 2006", "Tue Jan 5 17:53:12 UTC 2016"),
		requestID: "id-d40c15c104b52691eccf0a2a5c8a15595be75423",
	}
	signedAssertions = attackSP{
		metadata: "TestServiceProviderCanHandleSignedAssertionsResponse_IDPMetadata",
		entityID: "http://sp.example.com/demo1/metadata.php", acs: "http://sp.example.com/demo1/index.php?acs",
		key: "sp_key.pem", cert: "sp_cert.pem",
		at:        mustTime(time.RFC3339, "2014-07-17T01:02:59Z"),
		requestID: "ONELOGIN_4fee3b046395c4e751011e97f8900b5273d56685",
	}
	google = attackSP{
		metadata: "TestSPRejectsInjectedComment_IDPMetadata",
		entityID: "https://29ee6d2e.ngrok.io/saml/metadata", acs: "https://29ee6d2e.ngrok.io/saml/acs",
		key: "sp_key.pem", cert: "sp_cert.pem",
		at:        mustTime("Mon Jan 2 15:04:05 UTC 2006", "Tue Jan 5 16:55:39 UTC 2016"),
		requestID: "id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6",
	}
	docrocket = attackSP{
		metadata: "TestSPRealWorldKeyInfoHasRSAPublicKeyNotX509Cert_idp_metadata",
		entityID: "https://preview.docrocket-ross.test.octolabs.io/saml/metadata", acs: "https://preview.docrocket-ross.test.octolabs.io/saml/acs",
		key: "key_2017.pem", cert: "cert_2017.pem",
		at:        mustTime("Mon Jan 2 15:04:05 MST 2006", "Fri Apr 21 13:12:51 UTC 2017"),
		requestID: "id-3992f74e652d89c3cf1efd6c7e472abaac9bc917",
	}
)

func mustTime(layout, s string) time.Time {
	t, err := time.Parse(layout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// open configures the connection as an admin would (metadata XML, entity
// id, key pair), at the test's time. The ACS URL the responses were made
// for is not one of this gateway's, so it is set on the opened SP.
func (a attackSP) open(t *testing.T) *Connector {
	t.Helper()
	cfg := &Config{
		IDPMetadataXML: testdata(t, a.metadata),
		EntityID:       a.entityID,
		Keys:           []KeyPair{{PrivateKey: testdata(t, a.key), Certificate: testdata(t, a.cert)}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	c, err := cfg.Open(context.Background(), connector.Env{
		ConnectionID: testConnID, BaseURL: "https://gateway.example",
		Now: func() time.Time { return a.at }, ClockSkew: 2 * time.Minute, Replay: newMemReplay(),
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	conn := c.(*Connector)
	u, _ := url.Parse(a.acs)
	conn.sp.AcsURL = *u
	return conn
}

func (a attackSP) finish(t *testing.T, conn *Connector, samlResponse string) (*connector.Assertion, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/sso/saml/"+testConnID+"/acs",
		strings.NewReader(url.Values{"SAMLResponse": {samlResponse}, "RelayState": {"k"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return conn.Finish(context.Background(), &connector.Request{Key: "k", AuthnRequestID: a.requestID}, r)
}

func TestAttackResponses(t *testing.T) {
	for _, tc := range []struct {
		file   string
		sp     attackSP
		detail string // what crewjam's own test says refuses it
	}{
		{"TestXswPermutationOneIsRejected_response", onelogin, "Missing signature referencing the top-level element"},
		{"TestXswPermutationTwoIsRejected_response", onelogin, "Missing signature referencing the top-level element"},
		{"TestXswPermutationThreeIsRejected_response", signedAssertions, "an unsigned Response must contain exactly one Assertion"},
		{"TestXswPermutationFourIsRejected_response", signedAssertions, "signature element not present"},
		{"TestXswPermutationFiveIsRejected_response", signedAssertions, "an unsigned Response must contain exactly one Assertion"},
		{"TestXswPermutationSixIsRejected_response", signedAssertions, "Missing signature referencing the top-level element"},
		{"TestXswPermutationSevenIsRejected_response", signedAssertions, "cannot validate signature on Assertion"},
		{"TestXswPermutationEightIsRejected_response", signedAssertions, "cannot validate signature on Assertion"},
		{"TestXswPermutationNineIsRejected_response", signedAssertions, "Missing signature referencing the top-level element"},
	} {
		t.Run(strings.TrimSuffix(tc.file, "_response"), func(t *testing.T) {
			a, err := tc.sp.finish(t, tc.sp.open(t), strings.TrimSpace(testdata(t, tc.file)))
			checkRefused(t, a, err, tc.detail)
		})
	}

	// The genuine OneLogin response the XSW 1 and 2 permutations were
	// made from is accepted by the same setup.
	t.Run("genuine OneLogin response", func(t *testing.T) {
		a, err := onelogin.finish(t, onelogin.open(t), strings.TrimSpace(testdata(t, "TestSPCanHandleOneloginResponse_response")))
		if err != nil || a.Subject != "ross@kndr.org" {
			t.Fatalf("genuine response: %+v, %v", a, err)
		}
	})

	// CVE-2018-7340: a comment in the NameID must not change whose login
	// it is. The genuine response is accepted; with the comment injected,
	// either the signature fails or the NameID reads as signed.
	t.Run("injected comment", func(t *testing.T) {
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(testdata(t, "TestSPRejectsInjectedComment_response")))
		genuine := string(raw)
		a, err := google.finish(t, google.open(t), base64.StdEncoding.EncodeToString([]byte(genuine)))
		if err != nil || a.Subject != "ross@octolabs.io" {
			t.Fatalf("genuine response: %+v, %v", a, err)
		}
		harmless := strings.Replace(genuine, "ross@octolabs.io", "ross@<!-- and a comment -->octolabs.io", 1)
		if a, err := google.finish(t, google.open(t), base64.StdEncoding.EncodeToString([]byte(harmless))); err == nil && a.Subject != "ross@octolabs.io" {
			t.Fatalf("comment inside the NameID changed the subject to %q", a.Subject)
		}
		attack := strings.Replace(genuine, "ross@octolabs.io", "ross@octolabs.io<!-- and a comment -->.example.com", 1)
		a, err = google.finish(t, google.open(t), base64.StdEncoding.EncodeToString([]byte(attack)))
		checkRefused(t, a, err, "cannot validate signature on Response")
	})

	// An unsigned response carrying a signed assertion beside an injected
	// unsigned one for admin@evil.com.
	t.Run("multiple assertions", func(t *testing.T) {
		doc := testdata(t, "TestSPMultipleAssertions")
		if !strings.Contains(doc, "admin@evil.com") {
			t.Fatal("the test response no longer holds the injected assertion")
		}
		a, err := docrocket.finish(t, docrocket.open(t), base64.StdEncoding.EncodeToString([]byte(doc)))
		checkRefused(t, a, err, "an unsigned Response must contain exactly one Assertion")
	})
}

func checkRefused(t *testing.T, a *connector.Assertion, err error, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted: %+v", a)
	}
	if !errors.Is(err, connector.ErrInvalidResponse) || !strings.Contains(err.Error(), detail) {
		t.Fatalf("refused with %v; want sso_invalid_response about %q", err, detail)
	}
}
