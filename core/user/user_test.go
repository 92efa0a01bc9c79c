package user_test

import (
	"testing"

	"github.com/invitegate/gateway/core/user"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{" Gia.Guest@Example.ORG ", "gia.guest@example.org", true},
		{"a+tag@sub.uni.edu", "a+tag@sub.uni.edu", true},
		{"", "", false},
		{"no-at-sign", "", false},
		{"Gia <gia@example.org>", "", false},
		{"gia@localhost", "", false},
		{"gïa@example.org", "", false},
		{"gia😀@example.org", "", false},
		{"gia@example.org.", "", false},
		{"a b@example.org", "", false},
	} {
		got, err := user.NormalizeEmail(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", tc.in, got, err)
		}
	}
}
