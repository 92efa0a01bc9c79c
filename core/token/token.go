// Package token makes and checks the secrets behind every link, cookie and
// API key: 32 random bytes shown once in base64url, stored only as SHA-256.
// High-entropy secrets need no salt or slow hash; a lookup by hash is an
// index hit, and equality on the hash is all a comparison must do.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// Size is the number of random bytes in a token.
const Size = 32

// New returns a fresh token (shown to its holder once) and its hash (stored).
func New() (plain string, hash string) {
	b := make([]byte, Size)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms; a gateway that cannot
		// make secrets must not hand out guessable ones.
		panic("crypto/rand: " + err.Error())
	}
	plain = base64.RawURLEncoding.EncodeToString(b)
	return plain, Hash(plain)
}

// Hash is the stored form of a token. Tokens that are not well formed still
// hash (to something no row holds), so malformed input costs the same path.
func Hash(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// WellFormed reports whether s could be a token; it lets handlers refuse
// garbage before touching the database.
func WellFormed(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(Size) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// Equal compares two hashes in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
