package saml

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso/connector"
)

// Generated SP keys: RSA 2048 (what every IdP can encrypt to and verify)
// in a self-signed certificate of ten years. SAML reads the certificate as
// a container for the public key, so its expiry only needs to outlast the
// key's use; rollover is RotateKey.
const (
	generatedKeyBits     = 2048
	generatedKeyLifetime = 10 * 365 * 24 * time.Hour
)

// Messages RotateKey returns, for the admin.
const (
	rotateAdded   = "added a new key; update the IdP, then rotate again"
	rotateDropped = "removed the old key; the new key now signs"
	rotateFirst   = "made a key; give the IdP the SP metadata"
)

// spKey is a parsed key pair.
type spKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// parse reads the pair and checks that the certificate is the key's.
func (k KeyPair) parse() (*spKey, error) {
	cert, err := parseCertificatePEM(k.Certificate)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	key, err := parsePrivateKeyPEM(k.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errorString("private_key: is not the key of the certificate")
	}
	return &spKey{key: key, cert: cert}, nil
}

func (k KeyPair) validate(i int, f *problem.Fields) {
	field := fmt.Sprintf("config.keys[%d]", i)
	cert, err := parseCertificatePEM(k.Certificate)
	if err != nil {
		f.Add(field+".certificate", err.Error())
	}
	if strings.TrimSpace(k.PrivateKey) == "" {
		f.Add(field+".private_key", "required (a PEM RSA private key); leave keys out entirely to keep the stored ones")
		return
	}
	key, err := parsePrivateKeyPEM(k.PrivateKey)
	if err != nil {
		f.Add(field+".private_key", err.Error())
		return
	}
	if cert != nil && !key.PublicKey.Equal(cert.PublicKey) {
		f.Add(field+".private_key", "is not the key of the certificate")
	}
}

func parseCertificatePEM(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errorString("must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, errorString("is not a valid X.509 certificate")
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, errorString("must hold an RSA key (IdPs encrypt assertions to it)")
	}
	return cert, nil
}

func parsePrivateKeyPEM(s string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if b == nil {
		return nil, errorString("must be a PEM private key")
	}
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, errorString("is not a valid RSA private key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, errorString("is not a valid PKCS #8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errorString("must be an RSA key (IdPs encrypt assertions to it)")
		}
		return rk, nil
	default:
		return nil, errorString("must be a PEM RSA private key (RSA PRIVATE KEY or PRIVATE KEY)")
	}
}

// sameCertificate says whether two PEM certificates are the same one,
// whatever their spacing.
func sameCertificate(a, b string) bool {
	ca, err := parseCertificatePEM(a)
	if err != nil {
		return false
	}
	cb, err := parseCertificatePEM(b)
	if err != nil {
		return false
	}
	return bytes.Equal(ca.Raw, cb.Raw)
}

// generateKeyPair makes a key and its self-signed certificate, valid from
// a minute before now (an IdP's clock may be behind) for ten years.
func generateKeyPair(now time.Time) (KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, generatedKeyBits)
	if err != nil {
		return KeyPair{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Invitegate SAML service provider"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(generatedKeyLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{
		PrivateKey:  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
	}, nil
}

// Prepare makes the SP key pair when the connection is created without
// one, so the stored config holds it.
func (c *Config) Prepare(now time.Time) error {
	if len(c.Keys) > 0 {
		return nil
	}
	k, err := generateKeyPair(now)
	if err != nil {
		return fmt.Errorf("saml: generate SP key: %w", err)
	}
	c.Keys = []KeyPair{k}
	return nil
}

// RotateKey takes one step of an SP key rollover. With one key it adds a
// new one after it: published in the metadata and accepted for encrypted
// assertions, but not yet signing, so the admin can give the IdP the new
// certificate while the old one still works. With two or more it drops
// the first, so the new key signs. The receiver is left unchanged.
func (c *Config) RotateKey(now time.Time) (connector.Config, string, error) {
	n := c.clone()
	switch len(n.Keys) {
	case 0:
		if err := n.Prepare(now); err != nil {
			return nil, "", err
		}
		return n, rotateFirst, nil
	case 1:
		k, err := generateKeyPair(now)
		if err != nil {
			return nil, "", fmt.Errorf("saml: generate SP key: %w", err)
		}
		n.Keys = append(n.Keys, k)
		return n, rotateAdded, nil
	default:
		n.Keys = n.Keys[1:]
		return n, rotateDropped, nil
	}
}

// PublicKey is a key pair as the API shows it: the certificate and what
// an admin compares with the IdP's copy, never the private key.
type PublicKey struct {
	Certificate string    `json:"certificate"`
	SHA256      string    `json:"sha256_fingerprint"`
	NotAfter    time.Time `json:"not_after"`
	// Signing is the key that signs AuthnRequests (the first).
	Signing       bool `json:"signing"`
	PrivateKeySet bool `json:"private_key_set"`
}

func publicKeys(keys []KeyPair) []PublicKey {
	out := make([]PublicKey, 0, len(keys))
	for i, k := range keys {
		p := PublicKey{Certificate: k.Certificate, Signing: i == 0, PrivateKeySet: k.PrivateKey != ""}
		if cert, err := parseCertificatePEM(k.Certificate); err == nil {
			sum := sha256.Sum256(cert.Raw)
			p.SHA256 = fingerprint(sum[:])
			p.NotAfter = cert.NotAfter.UTC()
		}
		out = append(out, p)
	}
	return out
}

// fingerprint is the colon-separated upper-case hex IdP consoles show.
func fingerprint(sum []byte) string {
	h := strings.ToUpper(hex.EncodeToString(sum))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}
