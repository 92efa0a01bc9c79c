package token_test

import (
	"testing"

	"github.com/invitegate/gateway/core/token"
)

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		p, h := token.New()
		if !token.WellFormed(p) || len(p) != 43 || token.Hash(p) != h || h == p {
			t.Fatalf("token %q hash %q", p, h)
		}
		if seen[p] {
			t.Fatal("repeated token")
		}
		seen[p] = true
	}
	for _, bad := range []string{"", "short", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if token.WellFormed(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if !token.Equal("abc", "abc") || token.Equal("abc", "abd") {
		t.Fatal("Equal")
	}
}
