package file_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/groupsource/file"
)

func configure(t *testing.T, name, content string, extra string) (*file.Source, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s := file.New()
	raw, _ := json.Marshal(map[string]any{"path": p})
	if extra != "" {
		raw = []byte(strings.Replace(string(raw), "}", ","+extra+"}", 1))
	}
	return s, s.Configure(context.Background(), 1, raw)
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name, file, content string
		groups              []groupsource.Group
		members             []groupsource.Member
	}{
		{"json", "g.json", `{"groups": [{"id": "a", "name": "A", "members": [{"id": "1", "email": "x@y.org", "name": "X"}]}, {"id": "b", "name": "B"}]}`,
			[]groupsource.Group{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}},
			[]groupsource.Member{{GroupID: "a", ID: "1", Email: "x@y.org", Name: "X"}}},
		{"csv", "g.csv", "group_id,group_name,member_id,member_email,member_name\na,A,1,x@y.org,X\nb,B,,,\na,A,,z@y.org,\"Zed, Jr\"\n",
			[]groupsource.Group{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}},
			[]groupsource.Member{{GroupID: "a", ID: "1", Email: "x@y.org", Name: "X"}, {GroupID: "a", Email: "z@y.org", Name: "Zed, Jr"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := configure(t, tc.file, tc.content, "")
			if err != nil {
				t.Fatal(err)
			}
			gs, err := s.ListGroups(context.Background())
			if err != nil || len(gs) != len(tc.groups) {
				t.Fatalf("groups = %+v, %v", gs, err)
			}
			for i := range gs {
				if gs[i] != tc.groups[i] {
					t.Fatalf("group %d = %+v, want %+v", i, gs[i], tc.groups[i])
				}
			}
			var ms []groupsource.Member
			if err := s.ListMembers(context.Background(), nil, func(m groupsource.Member) error { ms = append(ms, m); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(ms) != len(tc.members) {
				t.Fatalf("members = %+v", ms)
			}
			for i := range ms {
				if ms[i] != tc.members[i] {
					t.Fatalf("member %d = %+v, want %+v", i, ms[i], tc.members[i])
				}
			}
			var none []groupsource.Member
			s.ListMembers(context.Background(), []string{"b"}, func(m groupsource.Member) error { none = append(none, m); return nil })
			if len(none) != 0 {
				t.Fatalf("members of b = %+v", none)
			}
		})
	}
}

func TestConfigProblems(t *testing.T) {
	tests := []struct{ name, file, content, extra, want string }{
		{"bad header", "g.csv", "group,name\n", "", "the CSV header must be"},
		{"bad json", "g.json", "{", "", "is not a groups JSON file"},
		{"group without id", "g.json", `{"groups": [{"name": "x"}]}`, "", "groups[0] has no id"},
		{"unknown format", "g.txt", "", "", "format: must be json or csv"},
		{"unknown field", "g.json", "{}", `"colour": "red"`, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configure(t, tc.file, tc.content, tc.extra)
			var ce plugins.ConfigErrors
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want config problems saying %q", err, tc.want)
			}
		})
	}
	s := file.New()
	if err := s.Health(context.Background()); !errors.Is(err, plugins.ErrUnavailable) {
		t.Fatalf("unconfigured Health = %v", err)
	}
}
