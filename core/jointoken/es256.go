package jointoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// es256 signs join tokens in JWS compact form for one fixed key:
// base64url(header) "." base64url(claims) "." base64url(r || s). Every
// redemption signs one, and a general JOSE signer spends about as much again
// as the ECDSA signature itself on building and encoding JSON objects; here
// the header is encoded once per key and the claims are written straight
// into the token. Tokens are checked with go-jose (Verify) and the published
// JWKS like any room would.
type es256 struct {
	key *ecdsa.PrivateKey
	// header is the encoded protected header, followed by '.'.
	header string
}

func newES256(key *ecdsa.PrivateKey, kid string) (*es256, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", kid, "JWT"})
	if err != nil {
		return nil, err
	}
	return &es256{key: key, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

var b64 = base64.RawURLEncoding

// sign returns the compact JWS of the claims.
func (s *es256) sign(c *Claims) (string, error) {
	var scratch [512]byte
	payload := appendClaims(scratch[:0], c)
	n := len(s.header) + b64.EncodedLen(len(payload))
	out := make([]byte, n, n+1+b64.EncodedLen(64))
	copy(out, s.header)
	b64.Encode(out[len(s.header):], payload)
	digest := sha256.Sum256(out)
	// A nil random source asks for the deterministic nonce of RFC 6979,
	// derived from the key and the digest: a standard ES256 signature that
	// costs a fifth less than the randomized one, whose nonce generator
	// (an HMAC-DRBG over SHA-512) alone takes about that much. Every token
	// is a different message (its own id and times), so no two share a nonce.
	der, err := s.key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return "", err
	}
	// JWS wants the fixed-size r || s, each 32 bytes big-endian, not DER.
	var r, sv cryptobyte.String
	in, seq := cryptobyte.String(der), cryptobyte.String(nil)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, asn1.INTEGER) || !seq.ReadASN1(&sv, asn1.INTEGER) || !seq.Empty() {
		return "", errors.New("jointoken: malformed ECDSA signature")
	}
	var raw [64]byte
	if !fill(raw[:32], r) || !fill(raw[32:], sv) {
		return "", errors.New("jointoken: ECDSA signature out of range")
	}
	out = append(out, '.')
	out = b64.AppendEncode(out, raw[:])
	return string(out), nil
}

// fill writes the ASN.1 INTEGER's content, a positive big-endian value,
// right-aligned into dst.
func fill(dst []byte, v cryptobyte.String) bool {
	if len(v) == 0 || v[0]&0x80 != 0 { // empty or negative: not from ECDSA
		return false
	}
	for len(v) > 0 && v[0] == 0 { // the sign byte of a high-bit value
		v = v[1:]
	}
	if len(v) > len(dst) {
		return false
	}
	copy(dst[len(dst)-len(v):], v)
	return true
}

// appendClaims appends the claims as encoding/json would marshal them: the
// same fields, in the same order, with the same omissions and escaping
// (the test holds the two byte-for-byte equal).
func appendClaims(b []byte, c *Claims) []byte {
	b = append(b, '{')
	first := true
	key := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
	}
	if c.Issuer != "" {
		key("iss")
		b = appendString(b, c.Issuer)
	}
	if c.Subject != "" {
		key("sub")
		b = appendString(b, c.Subject)
	}
	if len(c.Audience) > 0 {
		key("aud")
		b = appendAudience(b, c.Audience)
	}
	for _, d := range []struct {
		k string
		v *jwt.NumericDate
	}{{"exp", c.Expiry}, {"nbf", c.NotBefore}, {"iat", c.IssuedAt}} {
		if d.v != nil {
			key(d.k)
			b = strconv.AppendInt(b, int64(*d.v), 10)
		}
	}
	if c.ID != "" {
		key("jti")
		b = appendString(b, c.ID)
	}
	for _, f := range []struct{ k, v string }{{"email", c.Email}, {"name", c.Name}, {"resource", c.Resource}, {"role", c.Role}} {
		key(f.k)
		b = appendString(b, f.v)
	}
	key("privileges")
	if c.Privileges == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range c.Privileges {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendAudience follows jwt.Audience: one audience is a string, more an
// array, encoded by go-jose's own JSON package, which writes \b and \f as
// \u0008 and \u000c.
func appendAudience(b []byte, a jwt.Audience) []byte {
	if len(a) == 1 {
		return appendQuoted(b, a[0], true)
	}
	b = append(b, '[')
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuoted(b, v, true)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does by default: HTML-sensitive
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendString(b []byte, s string) []byte { return appendQuoted(b, s, false) }

func appendQuoted(b []byte, s string, longBF bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b', '\f':
				if longBF {
					b = append(b, '\\', 'u', '0', '0', '0', hexDigits[c])
				} else if c == '\b' {
					b = append(b, '\\', 'b')
				} else {
					b = append(b, '\\', 'f')
				}
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
