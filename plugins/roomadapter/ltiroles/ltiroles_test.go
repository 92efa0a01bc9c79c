package ltiroles_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter/ltiroles"
)

const (
	lis         = "http://purl.imsglobal.org/vocab/lis/v2/"
	instructor  = lis + "membership#Instructor"
	ta          = lis + "membership/Instructor#TeachingAssistant"
	learner     = lis + "membership#Learner"
	contentDev  = lis + "membership#ContentDeveloper"
	instAdmin   = lis + "institution/person#Administrator"
	sysAdmin    = lis + "system/person#Administrator"
	instStudent = lis + "institution/person#Student"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{instructor, "membership#Instructor", true},
		{ta, "membership/Instructor#TeachingAssistant", true},
		{instAdmin, "institution#Administrator", true},
		{sysAdmin, "system#Administrator", true},
		{"http://purl.imsglobal.org/vocab/lti/system/person#TestUser", "system#TestUser", true},
		{"Instructor", "membership#Instructor", true},
		{"Learner", "membership#Learner", true},
		{"urn:lti:role:ims/lis/Instructor", "membership#Instructor", true},
		{"urn:lti:role:ims/lis/Instructor/TeachingAssistant", "membership/Instructor#TeachingAssistant", true},
		{"urn:lti:instrole:ims/lis/Administrator", "institution#Administrator", true},
		{"urn:lti:sysrole:ims/lis/SysAdmin", "system#SysAdmin", true},
		{lis + "membership/Instructor#", "", false},
		{"https://example.org/roles#Boss", "", false},
		{"", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, ok := ltiroles.Parse(tc.in)
			if ok != tc.ok || (ok && r.Key() != tc.want) {
				t.Fatalf("Parse(%q) = %q, %v; want %q, %v", tc.in, r.Key(), ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMap(t *testing.T) {
	sakai := map[string]string{"sakai:maintain": "owner", "sakai:access": "viewer", "sakai:Teaching Assistant": "co-editor"}
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		roles     []string
		platform  string
		want      string
	}{
		{"instructor owns", nil, []string{instructor}, "", "owner"},
		{"short name", nil, []string{"Instructor"}, "", "owner"},
		{"LTI 1.1 urn", nil, []string{"urn:lti:role:ims/lis/Instructor"}, "", "owner"},
		{"a teaching assistant sent as an instructor too co-edits", nil, []string{instructor, ta}, "", "co-editor"},
		{"a teaching assistant alone co-edits", nil, []string{ta}, "", "co-editor"},
		{"an unknown sub-role counts as its principal", nil, []string{lis + "membership/Instructor#Lecturer"}, "", "owner"},
		{"content developer co-publishes", nil, []string{contentDev}, "", "co-publisher"},
		{"institution admin co-owns", nil, []string{learner, instAdmin}, "", "co-owner"},
		{"system admin co-owns", nil, []string{sysAdmin}, "", "co-owner"},
		{"the highest wins", nil, []string{instAdmin, instructor}, "", "owner"},
		{"learner views", nil, []string{learner, instStudent}, "", ""},
		{"no roles", nil, nil, "", ""},
		{"unknown views", nil, []string{"https://example.org/roles#Boss"}, "", ""},
		{"a platform's role decides in the context", sakai, []string{instructor}, "sakai:Teaching Assistant", "co-editor"},
		{"maintain owns", sakai, []string{learner}, "sakai:maintain", "owner"},
		{"access views", sakai, []string{instructor}, "sakai:access", ""},
		{"an admin of the system still co-owns with access", sakai, []string{sysAdmin}, "sakai:access", "co-owner"},
		{"an unknown platform role leaves it to the LTI roles", sakai, []string{instructor}, "sakai:Grader", "owner"},
		{"the config changes the mapping", map[string]string{"membership#Instructor": "co-editor"}, []string{instructor}, "", "co-editor"},
		{"the config maps a platform's own role URI", map[string]string{"https://example.org/roles#Boss": "co-owner"}, []string{"https://example.org/roles#Boss"}, "", "co-owner"},
		{"the config makes an admin a viewer", map[string]string{"system#Administrator": "viewer"}, []string{sysAdmin}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ltiroles.NewMapper(tc.overrides, nil)
			if got := m.Map(tc.roles, tc.platform); got != tc.want {
				t.Fatalf("Map(%q, %q) = %q, want %q", tc.roles, tc.platform, got, tc.want)
			}
		})
	}
}

// An unknown role is logged on its first launch only.
func TestUnknownRoleLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	m := ltiroles.NewMapper(nil, slog.New(slog.NewTextHandler(&buf, nil)))
	for range 3 {
		m.Map([]string{"https://example.org/roles#Boss", learner}, "")
	}
	m.Map([]string{lis + "membership#Auditor"}, "")
	out := buf.String()
	if n := strings.Count(out, "unknown LTI role"); n != 2 || strings.Count(out, "roles#Boss") != 2 || !strings.Contains(out, "membership#Auditor") || strings.Contains(out, "Learner") {
		t.Fatalf("%d lines:\n%s", n, out)
	}
}

func TestCheckRoles(t *testing.T) {
	var p plugins.ConfigErrors
	ltiroles.CheckRoles(&p, "roles", map[string]string{"membership#Instructor": "boss", "sakai:maintain": "owner", " ": "viewer"})
	if len(p) != 2 || p[0].Field != "roles" || p[1].Field != "roles.membership#Instructor" || !strings.Contains(p[1].Message, `not "boss"`) {
		t.Fatalf("problems %+v", p)
	}
}
