package ldap

import (
	"context"
	"fmt"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/invitegate/gateway/plugins/groupsource"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		desc    string
		want    valueRange
		ok, err bool
	}{
		{"member;range=0-1499", valueRange{"member", 0, 1499, false}, true, false},
		{"member;range=1500-*", valueRange{"member", 1500, -1, true}, true, false},
		{"Member;Range=0-*", valueRange{"Member", 0, -1, true}, true, false},
		{"member;binary;range=10-20", valueRange{"member", 10, 20, false}, true, false},
		{"member", valueRange{}, false, false},
		{"member;lang-en", valueRange{}, false, false},
		{"member;range=a-5", valueRange{}, true, true},
		{"member;range=9-5", valueRange{}, true, true},
		{"member;range=5", valueRange{}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok, err := parseRange(tc.desc)
			if ok != tc.ok || (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("parseRange(%q) = %+v, %v, %v; want %+v, %v, error %v", tc.desc, got, ok, err, tc.want, tc.ok, tc.err)
			}
		})
	}
}

// fakeAD answers searches the way Active Directory does: at most maxVals
// values of member per entry, as "member;range=lo-hi", the last range
// ending in "*". answer, when set, replaces its reply to a range request.
type fakeAD struct {
	maxVals  int
	groups   []*goldap.Entry
	users    []*goldap.Entry
	requests []string
	answer   func(dn string, from int) []*goldap.EntryAttribute
}

func (f *fakeAD) Search(req *goldap.SearchRequest) (*goldap.SearchResult, error) {
	f.requests = append(f.requests, fmt.Sprintf("%s %v", req.BaseDN, req.Attributes))
	if req.Scope == goldap.ScopeBaseObject {
		for _, e := range append(f.groups, f.users...) {
			if e.DN != req.BaseDN {
				continue
			}
			r, ok, err := parseRange(req.Attributes[0])
			if err != nil || !ok {
				return nil, fmt.Errorf("fake: unexpected base search for %v", req.Attributes)
			}
			if f.answer != nil {
				return &goldap.SearchResult{Entries: []*goldap.Entry{{DN: e.DN, Attributes: f.answer(e.DN, r.low)}}}, nil
			}
			return &goldap.SearchResult{Entries: []*goldap.Entry{{DN: e.DN, Attributes: []*goldap.EntryAttribute{f.slice(e, r.low)}}}}, nil
		}
		return nil, goldap.NewError(goldap.LDAPResultNoSuchObject, fmt.Errorf("no %s", req.BaseDN))
	}
	src := f.users
	if strings.Contains(req.Filter, "objectClass=group") {
		src = f.groups
	}
	var out []*goldap.Entry
	for _, e := range src {
		c := &goldap.Entry{DN: e.DN}
		for _, a := range e.Attributes {
			if strings.EqualFold(a.Name, "member") {
				c.Attributes = append(c.Attributes, f.slice(e, 0))
			} else {
				c.Attributes = append(c.Attributes, a)
			}
		}
		out = append(out, c)
	}
	return &goldap.SearchResult{Entries: out}, nil
}

// slice is e's member values from index from, as AD sends them.
func (f *fakeAD) slice(e *goldap.Entry, from int) *goldap.EntryAttribute {
	all := e.GetAttributeValues("member")
	if len(all) <= f.maxVals && from == 0 {
		return &goldap.EntryAttribute{Name: "member", Values: all}
	}
	end := min(from+f.maxVals, len(all))
	hi := fmt.Sprint(end - 1)
	if end == len(all) {
		hi = "*"
	}
	return &goldap.EntryAttribute{Name: fmt.Sprintf("member;range=%d-%s", from, hi), Values: all[from:end]}
}

// guid is an objectGUID as AD stores it (first three fields little-endian)
// and its string form.
func guid(n int) ([]byte, string) {
	b := []byte{0x0b, 0xc1, 0x7a, 0xf4, 0xcc, 0x58, 0x72, 0x43, 0xa5, 0x67, 0x0e, 0x02, 0xb2, 0xc3, byte(n >> 8), byte(n)}
	return b, fmt.Sprintf("f47ac10b-58cc-4372-a567-0e02b2c3%04x", n)
}

func adEntry(dn string, id []byte, attrs map[string][]string) *goldap.Entry {
	e := goldap.NewEntry(dn, attrs)
	e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", Values: []string{string(id)}, ByteValues: [][]byte{id}})
	return e
}

func adConfig(t *testing.T) *Config {
	t.Helper()
	c := &Config{URL: "ldaps://dc.example.org", Flavor: FlavorActiveDirectory, BaseDN: "DC=example,DC=org", BindDN: "CN=svc,DC=example,DC=org", BindPassword: "x"}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	return c
}

// A group of 3,200 members arrives in three ranges (0-1499, 1500-2999,
// 3000-*), each asked for by its start, and lists whole, with objectGUIDs as
// ids.
func TestRangedMembers(t *testing.T) {
	const n = 3200
	f := &fakeAD{maxVals: 1500}
	var members []string
	for i := range n {
		dn := fmt.Sprintf("CN=User %d,OU=People,DC=example,DC=org", i)
		id, _ := guid(i)
		f.users = append(f.users, adEntry(dn, id, map[string][]string{"mail": {fmt.Sprintf("u%d@example.org", i)}, "cn": {fmt.Sprintf("User %d", i)}}))
		members = append(members, dn)
	}
	gid, gidString := guid(0xffff)
	f.groups = []*goldap.Entry{adEntry("CN=All,OU=Groups,DC=example,DC=org", gid, map[string][]string{"cn": {"All"}, "member": members})}

	l := &listing{cfg: adConfig(t), d: f}
	if err := l.read(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []groupsource.Member
	if err := l.emit(context.Background(), l.groups[0], func(m groupsource.Member) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d members, want %d", len(got), n)
	}
	for i, m := range got {
		_, id := guid(i)
		if m.GroupID != gidString || m.ID != id || m.Email != fmt.Sprintf("u%d@example.org", i) || m.Name != fmt.Sprintf("User %d", i) {
			t.Fatalf("member %d = %+v, want group %s, id %s", i, m, gidString, id)
		}
	}
	var ranges []string
	for _, r := range f.requests {
		if strings.Contains(r, "range=") {
			ranges = append(ranges, r)
		}
	}
	want := []string{
		"CN=All,OU=Groups,DC=example,DC=org [member;range=1500-*]",
		"CN=All,OU=Groups,DC=example,DC=org [member;range=3000-*]",
	}
	if strings.Join(ranges, "\n") != strings.Join(want, "\n") {
		t.Fatalf("range requests:\n%s\nwant\n%s", strings.Join(ranges, "\n"), strings.Join(want, "\n"))
	}
}

// A directory whose ranges do not advance, or that stops sending them, is
// an error rather than a loop or a short member list.
func TestRangedMembersMisbehaving(t *testing.T) {
	tests := []struct {
		name   string
		answer func(dn string, from int) []*goldap.EntryAttribute
		want   string
	}{
		{"same range again", func(string, int) []*goldap.EntryAttribute {
			return []*goldap.EntryAttribute{{Name: "member;range=0-1", Values: []string{"a", "b"}}}
		}, "asked the directory for member;range=2-*, it answered member;range=0-1"},
		{"no range", func(string, int) []*goldap.EntryAttribute { return nil }, "answered no range of member"},
		{"bad range", func(string, int) []*goldap.EntryAttribute {
			return []*goldap.EntryAttribute{{Name: "member;range=2-x"}}
		}, `range end "x" is not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAD{maxVals: 2, answer: tc.answer}
			e := goldap.NewEntry("CN=G,DC=example,DC=org", map[string][]string{"member": {"a", "b", "c", "d", "e"}})
			f.groups = []*goldap.Entry{e}
			first := &goldap.Entry{DN: e.DN, Attributes: []*goldap.EntryAttribute{f.slice(e, 0)}}
			vals, err := attrValues(context.Background(), f, first, "member")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("attrValues = %v, %v; want an error saying %q", vals, err, tc.want)
			}
		})
	}
}

func TestStripUIDAndNormDN(t *testing.T) {
	if got := stripUID("uid=a,dc=x#'0101'B"); got != "uid=a,dc=x" {
		t.Errorf("stripUID = %q", got)
	}
	if got := stripUID(`cn=a\#'1'B`); got != `cn=a\#'1'B` {
		t.Errorf("stripUID of an escaped # = %q", got)
	}
	if normDN("UID=Ann, OU=People,DC=Example,DC=org") != normDN("uid=ann,ou=people,dc=example,dc=org") {
		t.Error("normDN differs by case or spaces")
	}
	if normDN(`cn=a\,b,dc=x`) == normDN("cn=a,b,dc=x") {
		t.Error("normDN confuses an escaped comma with an RDN boundary")
	}
}
