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

// FoldEmail only trims and lower-cases: it keeps what NormalizeEmail
// refuses, and agrees with it on what it accepts.
func TestFoldEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Gia.Guest@Example.ORG ": "gia.guest@example.org",
		"Room-12@Campus":          "room-12@campus",
		"Gia <GIA@example.org>":   "gia <gia@example.org>",
		"":                        "",
	} {
		if got := user.FoldEmail(in); got != want {
			t.Errorf("FoldEmail(%q) = %q, want %q", in, got, want)
		}
		if n, err := user.NormalizeEmail(in); err == nil && n != user.FoldEmail(in) {
			t.Errorf("NormalizeEmail(%q) = %q, FoldEmail %q", in, n, user.FoldEmail(in))
		}
	}
}
