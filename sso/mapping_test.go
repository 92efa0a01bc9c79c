package sso_test

import (
	"testing"

	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/connector"
)

// Presets name each provider's attributes per protocol, overridable field
// by field; Google reads no groups, and "-" turns a preset's off.
func TestMappingPresets(t *testing.T) {
	for _, tc := range []struct {
		m    sso.Mapping
		typ  string
		want sso.Names
	}{
		{sso.Mapping{Preset: "entra"}, "saml", sso.Names{
			Email:     "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
			FirstName: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
			LastName:  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
			Groups:    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"}},
		{sso.Mapping{Preset: "entra"}, "oidc", sso.Names{Email: "email", FirstName: "given_name", LastName: "family_name", Groups: "groups"}},
		{sso.Mapping{Preset: "google"}, "oidc", sso.Names{Email: "email", FirstName: "given_name", LastName: "family_name"}},
		{sso.Mapping{Preset: "keycloak", Groups: "roles"}, "saml", sso.Names{Email: "urn:oid:1.2.840.113549.1.9.1", FirstName: "urn:oid:2.5.4.42", LastName: "urn:oid:2.5.4.4", Groups: "roles"}},
		{sso.Mapping{Preset: "okta", Email: "mail", Groups: "-"}, "oidc", sso.Names{Email: "mail", FirstName: "given_name", LastName: "family_name"}},
	} {
		if got := tc.m.Names(tc.typ); got != tc.want {
			t.Errorf("%+v for %s: %+v, want %+v", tc.m, tc.typ, got, tc.want)
		}
	}
}

// Apply reads the person and their groups; without the email attribute
// the login is refused, naming the attribute expected.
func TestMappingApply(t *testing.T) {
	n := sso.Mapping{Preset: "entra"}.Names("saml")
	as := &connector.Assertion{Issuer: "https://sts.windows.net/t/", Subject: "abc", Attributes: map[string][]string{
		n.Email: {"Ann@Uni.EDU"}, n.FirstName: {"Ann"}, n.LastName: {"Lee"}, n.Groups: {"staff", "admins"}}}
	in, groups, err := n.Apply(as)
	if err != nil || in.Email != "Ann@Uni.EDU" || in.FirstName != "Ann" || in.LastName != "Lee" || in.Subject != "abc" || len(groups) != 2 {
		t.Fatalf("apply: %+v %v %v", in, groups, err)
	}
	delete(as.Attributes, n.Email)
	_, _, err = n.Apply(as)
	if code(err) != "sso_no_email" || !contains(err.Error(), n.Email) {
		t.Fatalf("missing email: %v", err)
	}
}

// Only a relative path of this gateway is a return path.
func TestSafeReturn(t *testing.T) {
	for in, want := range map[string]string{
		"/console/events":     "/console/events",
		"/e/summit?m=hi":      "/e/summit?m=hi",
		"":                    "/d",
		"//evil.test/x":       "/d",
		"/\\evil.test":        "/d",
		"https://evil.test/":  "/d",
		"evil.test":           "/d",
		"/ok\r\nLocation: x":  "/d",
		"/\t/evil.test":       "/d",
		"javascript:alert(1)": "/d",
		"/%2F%2Fevil.test":    "/%2F%2Fevil.test",
		"/a/../../b":          "/a/../../b",
		"\\\\evil.test":       "/d",
		" /console":           "/d",
	} {
		if got := sso.SafeReturn(in, "/d"); got != want {
			t.Errorf("SafeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}
