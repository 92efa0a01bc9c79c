package oidc

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"slices"
	"strconv"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// protocolClaims describe the token rather than the person; a userinfo
// answer never supplies them.
var protocolClaims = []string{"iss", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "c_hash", "auth_time", "jti", "sid", "_claim_names", "_claim_sources"}

func protocolClaim(name string) bool { return slices.Contains(protocolClaims, name) }

// decodeClaims reads the id token's claims keeping numbers exact (a
// numeric employee id past 2^53 must not be rounded).
func decodeClaims(idt *gooidc.IDToken) (map[string]any, error) {
	var out map[string]any
	return out, decodeJSONClaims(idt.Claims, &out)
}

// decodeJSONClaims decodes what read yields (id token or userinfo claims)
// into out, numbers as json.Number.
func decodeJSONClaims(read func(any) error, out *map[string]any) error {
	var raw json.RawMessage
	if err := read(&raw); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if *out == nil {
		return errors.New("claims are not a JSON object")
	}
	return nil
}

// attributes turns claims into the Assertion's strings: a string as is, an
// array as one value per element, a boolean as "true"/"false", a number in
// its shortest decimal form, an object as its JSON text; null is left out.
func attributes(claims map[string]any) map[string][]string {
	out := make(map[string][]string, len(claims))
	for name, v := range claims {
		var vals []string
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if s, ok := claimString(e); ok {
					vals = append(vals, s)
				}
			}
		} else if s, ok := claimString(v); ok {
			vals = []string{s}
		}
		if len(vals) > 0 {
			out[name] = vals
		}
	}
	return out
}

func claimString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return formatNumber(x), true
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}

// formatNumber writes an integer without exponent or fraction (1.7e9 and
// 1700000000 alike become "1700000000") and any other number in its
// shortest form.
func formatNumber(n json.Number) string {
	if i, err := n.Int64(); err == nil {
		return strconv.FormatInt(i, 10)
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return n.String()
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// emailVerified is email_verified as a boolean; absent or anything but
// true (or the string "true", which some providers send) is false.
func emailVerified(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// headerAlg is the alg of a compact JWS's protected header.
func headerAlg(raw string) (string, error) {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", fmt.Errorf("header: %v", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("header: %v", err)
	}
	return h.Alg, nil
}

// checkAtHash compares at_hash with the access token (OIDC Core 3.1.3.8):
// the left half of the access token's hash, the hash being the one of the
// token's signing algorithm. go-oidc's own check knows no HS256.
func checkAtHash(alg, atHash, accessToken string) error {
	var h hash.Hash
	switch {
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "512"), alg == "EdDSA":
		h = sha512.New()
	default:
		return fmt.Errorf("no at_hash for algorithm %q", alg)
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	want := base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	if subtle.ConstantTimeCompare([]byte(want), []byte(atHash)) != 1 {
		return errors.New("at_hash does not match the access token")
	}
	return nil
}
