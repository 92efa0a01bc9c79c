package saml

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		t.Fatalf("error %v is not an invalid-input problem", err)
	}
	var fs []string
	for _, d := range p.Details {
		fs = append(fs, d.Field)
	}
	return fs
}

func TestValidateReportsEveryField(t *testing.T) {
	idp := samltest.Start(t)
	good, err := generateKeyPair(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := generateKeyPair(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
		msg  string
	}{
		{"nothing", Config{}, []string{"config.idp_metadata_xml"}, "metadata"},
		{"every field wrong", Config{
			IDPMetadataXML: "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>",
			IDPMetadataURL: "ftp://idp.example/metadata",
			EntityID:       " spaced ",
			NameIDFormat:   "weird",
			Binding:        "soap",
			Keys:           []KeyPair{{PrivateKey: "garbage", Certificate: "garbage"}},
		}, []string{"config.idp_metadata_url", "config.idp_metadata_xml", "config.entity_id", "config.name_id_format",
			"config.binding", "config.keys[0].certificate", "config.keys[0].private_key"}, ""},
		{"not XML", Config{IDPMetadataXML: "hello"}, []string{"config.idp_metadata_xml"}, "not XML"},
		{"key of another certificate", Config{IDPMetadataXML: idp.MetadataXML(t),
			Keys: []KeyPair{{PrivateKey: other.PrivateKey, Certificate: good.Certificate}}},
			[]string{"config.keys[0].private_key"}, "not the key of the certificate"},
		{"certificate without its key", Config{IDPMetadataXML: idp.MetadataXML(t),
			Keys: []KeyPair{{Certificate: good.Certificate}}},
			[]string{"config.keys[0].private_key"}, "required"},
		{"metadata without a signing certificate", Config{IDPMetadataXML: strings.ReplaceAll(idp.MetadataXML(t), `use="signing"`, `use="encryption"`)},
			[]string{"config.idp_metadata_xml"}, "no signing certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			got := fieldsOf(t, err)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("fields %v, want %v (%v)", got, want, err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not say %q", err, tc.msg)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		c := Config{IDPMetadataXML: idp.MetadataXML(t), Binding: BindingPost, NameIDFormat: "persistent", Keys: []KeyPair{good}}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPrepareMakesOneKey(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &Config{IDPMetadataURL: "https://idp.example/metadata"}
	if err := c.Prepare(now); err != nil {
		t.Fatal(err)
	}
	if len(c.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(c.Keys))
	}
	k, err := c.Keys[0].parse()
	if err != nil {
		t.Fatal(err)
	}
	selfSigned := k.cert.CheckSignature(k.cert.SignatureAlgorithm, k.cert.RawTBSCertificate, k.cert.Signature)
	if k.key.N.BitLen() != 2048 || selfSigned != nil || !slices.Equal(k.cert.RawIssuer, k.cert.RawSubject) {
		t.Errorf("key of %d bits, self-signed: %v", k.key.N.BitLen(), selfSigned)
	}
	if got := k.cert.NotAfter.Sub(now); got < 3649*24*time.Hour || got > 3651*24*time.Hour {
		t.Errorf("certificate valid for %v, want ten years", got)
	}
	first := c.Keys[0]
	if err := c.Prepare(now); err != nil || len(c.Keys) != 1 || c.Keys[0] != first {
		t.Error("Prepare replaced a key the config already had")
	}
}

func TestPublicLeavesPrivateKeysOut(t *testing.T) {
	c := &Config{IDPMetadataURL: "https://idp.example/metadata"}
	if err := c.Prepare(time.Now()); err != nil {
		t.Fatal(err)
	}
	rotated, _, err := c.RotateKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rotated.Public())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatalf("public config holds a private key: %s", b)
	}
	var p struct {
		Binding string `json:"binding"`
		Keys    []struct {
			Certificate   string    `json:"certificate"`
			SHA256        string    `json:"sha256_fingerprint"`
			NotAfter      time.Time `json:"not_after"`
			Signing       bool      `json:"signing"`
			PrivateKeySet bool      `json:"private_key_set"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Binding != "redirect" || len(p.Keys) != 2 || !p.Keys[0].Signing || p.Keys[1].Signing {
		t.Fatalf("public config %s", b)
	}
	for i, k := range p.Keys {
		cert, err := parseCertificatePEM(k.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(cert.Raw)
		if k.SHA256 != fingerprint(sum[:]) || len(k.SHA256) != 95 || !k.PrivateKeySet || !k.NotAfter.Equal(cert.NotAfter) {
			t.Errorf("key %d shown as %+v", i, k)
		}
	}
}

func TestKeepSecrets(t *testing.T) {
	stored := &Config{IDPMetadataURL: "https://idp.example/metadata"}
	if err := stored.Prepare(time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Run("no keys in the update keeps the stored ones", func(t *testing.T) {
		u := &Config{IDPMetadataURL: "https://idp.example/other"}
		u.KeepSecrets(stored)
		if len(u.Keys) != 1 || u.Keys[0] != stored.Keys[0] {
			t.Fatalf("keys %+v", u.Keys)
		}
	})
	t.Run("a certificate alone takes its stored private key", func(t *testing.T) {
		u := &Config{IDPMetadataURL: "https://idp.example/metadata",
			Keys: []KeyPair{{Certificate: "\n" + stored.Keys[0].Certificate + "\n"}}}
		u.KeepSecrets(stored)
		if u.Keys[0].PrivateKey != stored.Keys[0].PrivateKey {
			t.Fatal("private key not kept")
		}
	})
	t.Run("another certificate gets no stored key", func(t *testing.T) {
		fresh, _ := generateKeyPair(time.Now())
		u := &Config{IDPMetadataURL: "https://idp.example/metadata", Keys: []KeyPair{{Certificate: fresh.Certificate}}}
		u.KeepSecrets(stored)
		if u.Keys[0].PrivateKey != "" {
			t.Fatal("a stored private key was given to another certificate")
		}
		if fs := fieldsOf(t, u.Validate()); !slices.Equal(fs, []string{"config.keys[0].private_key"}) {
			t.Errorf("fields %v", fs)
		}
	})
}

func TestRotateKeySteps(t *testing.T) {
	c := &Config{IDPMetadataURL: "https://idp.example/metadata"}
	one, msg, err := c.RotateKey(time.Now())
	if err != nil || len(one.(*Config).Keys) != 1 || msg != rotateFirst {
		t.Fatalf("rotate with no key: %q %v", msg, err)
	}
	two, msg, _ := one.(*Config).RotateKey(time.Now())
	if k := two.(*Config).Keys; len(k) != 2 || k[0] != one.(*Config).Keys[0] || msg != rotateAdded {
		t.Fatalf("rotate with one key: %q", msg)
	}
	back, msg, _ := two.(*Config).RotateKey(time.Now())
	if k := back.(*Config).Keys; len(k) != 1 || k[0] != two.(*Config).Keys[1] || msg != rotateDropped {
		t.Fatalf("rotate with two keys: %q", msg)
	}
}

func TestRefresh(t *testing.T) {
	idp := samltest.Start(t)
	good := idp.MetadataXML(t)
	var status atomic.Int32
	var body atomic.Value
	status.Store(http.StatusOK)
	body.Store(good)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(body.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	stored := &Config{IDPMetadataURL: srv.URL, IDPMetadataXML: "<old/>"}

	got, err := stored.Refresh(context.Background(), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if got.(*Config).IDPMetadataXML != good || stored.IDPMetadataXML != "<old/>" {
		t.Fatal("Refresh did not return the fetched metadata in a new config")
	}
	for _, tc := range []struct {
		name   string
		status int
		body   string
		msg    string
	}{
		{"server error", http.StatusInternalServerError, good, "HTTP 500"},
		{"not metadata", http.StatusOK, "<html>sign in</html>", "not SAML metadata"},
		{"no identity provider", http.StatusOK, `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`, "no identity provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status.Store(int32(tc.status))
			body.Store(tc.body)
			if got, err := stored.Refresh(context.Background(), srv.Client()); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Refresh gave %v, %v; want an error saying %q", got, err, tc.msg)
			}
		})
	}
	t.Run("no URL: nothing to fetch", func(t *testing.T) {
		c := &Config{IDPMetadataXML: good}
		if got, err := c.Refresh(context.Background(), srv.Client()); err != nil || got.(*Config).IDPMetadataXML != good {
			t.Fatalf("%v %v", got, err)
		}
	})
}

// A connection given only a metadata URL works before the first scheduled
// refresh: Open fetches the metadata.
func TestOpenFetchesMetadataFromURL(t *testing.T) {
	idp := samltest.Start(t)
	c := &Config{IDPMetadataURL: idp.URL + "/metadata"}
	if err := c.Prepare(time.Now()); err != nil {
		t.Fatal(err)
	}
	env := connector.Env{ConnectionID: testConnID, BaseURL: "https://gw.example/", HTTPClient: http.DefaultClient, Replay: newMemReplay()}
	conn, err := c.Open(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := conn.Begin(context.Background(), &connector.Request{Key: "k"})
	if err != nil || !strings.HasPrefix(rd.URL, idp.URL+"/sso?") {
		t.Fatalf("Begin: %+v %v", rd, err)
	}
	if got := conn.(*Connector).sp.AcsURL.String(); got != "https://gw.example/sso/saml/"+testConnID+"/acs" {
		t.Errorf("ACS URL %s", got)
	}
	env.Replay = nil
	if _, err := c.Open(context.Background(), env); err == nil {
		t.Error("opened without a replay cache")
	}
	if _, ok := conn.(*Connector).keys[0].key.Public().(*rsa.PublicKey); !ok {
		t.Error("SP key is not RSA")
	}
}
