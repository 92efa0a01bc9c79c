package ldap_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/groupsource/ldap"
)

// bigGroup has more members than slapd's size limit lets one search return.
const bigGroup = 1200

func user(i int) string { return fmt.Sprintf("uid=u%04d,ou=people,%s", i, suffix) }
func mail(i int) string { return fmt.Sprintf("u%04d@example.org", i) }

// directoryLDIF is the test directory: bigGroup people, the reader, a guest
// outside ou=people, and groups of each kind:
//
//	staff    groupOfNames        u1, U2 (written in upper case), u3, and the group "all"
//	editors  groupOfUniqueNames  u4, u5 (with an optional UID), the guest
//	unix     posixGroup          memberUid u6, u7 and "ghost" (nobody)
//	all      groupOfNames        staff, editors, u8 (nested: staff and all contain each other)
//	big      groupOfNames        u1 .. u1200
func directoryLDIF() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", suffix)
	for _, ou := range []string{"people", "groups", "others"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, suffix, ou)
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: %s\n\n", readerDN, readerPW)
	for i := 1; i <= bigGroup; i++ {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: u%04d\ncn: User %04d\nsn: %04d\nmail: %s\n", user(i), i, i, i, mail(i))
		if i%2 == 0 {
			fmt.Fprintf(&b, "displayName: Person %04d\n", i)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "dn: uid=guest,ou=others,%[1]s\nobjectClass: inetOrgPerson\nuid: guest\ncn: Guest\nsn: Guest\nmail: guest@example.net\n\n", suffix)
	g := "ou=groups," + suffix
	fmt.Fprintf(&b, "dn: cn=staff,%s\nobjectClass: groupOfNames\ncn: staff\nmember: %s\nmember: %s\nmember: %s\nmember: cn=all,%s\n\n",
		g, user(1), strings.ToUpper(user(2)), user(3), g)
	fmt.Fprintf(&b, "dn: cn=editors,%s\nobjectClass: groupOfUniqueNames\ncn: editors\nuniqueMember: %s\nuniqueMember: %s#'0101'B\nuniqueMember: uid=guest,ou=others,%s\n\n",
		g, user(4), user(5), suffix)
	fmt.Fprintf(&b, "dn: cn=unix,%s\nobjectClass: posixGroup\ncn: unix\ngidNumber: 5000\nmemberUid: u0006\nmemberUid: u0007\nmemberUid: ghost\n\n", g)
	fmt.Fprintf(&b, "dn: cn=all,%s\nobjectClass: groupOfNames\ncn: all\nmember: cn=staff,%s\nmember: cn=editors,%s\nmember: %s\n\n", g, g, g, user(8))
	fmt.Fprintf(&b, "dn: cn=big,%s\nobjectClass: groupOfNames\ncn: big\n", g)
	for i := 1; i <= bigGroup; i++ {
		fmt.Fprintf(&b, "member: %s\n", user(i))
	}
	return b.String()
}

func newSource(t *testing.T, cfg map[string]any) *ldap.Source {
	t.Helper()
	s := ldap.New(nil)
	raw, _ := json.Marshal(cfg)
	if err := s.Configure(context.Background(), 1, raw); err != nil {
		t.Fatalf("Configure(%s): %v", raw, err)
	}
	return s
}

func readerConfig(d *slapd, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"url": d.URL, "bind_dn": readerDN, "bind_password": readerPW,
		"base_dn": suffix, "user_base_dn": "ou=people," + suffix, "page_size": 200,
	}
	maps.Copy(cfg, extra)
	return cfg
}

// membership is a listing as group name -> set of "id email name".
type membership map[string]map[string]bool

func list(t *testing.T, s *ldap.Source) (map[string]string, membership) {
	t.Helper()
	ctx := context.Background()
	groups, err := s.ListGroups(ctx)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	names := map[string]string{} // id -> name
	for _, g := range groups {
		if _, dup := names[g.ID]; dup {
			t.Fatalf("group id %s listed twice", g.ID)
		}
		names[g.ID] = g.Name
	}
	m := membership{}
	err = s.ListMembers(ctx, nil, func(mb groupsource.Member) error {
		name, ok := names[mb.GroupID]
		if !ok {
			return fmt.Errorf("member %+v of a group ListGroups did not list", mb)
		}
		if m[name] == nil {
			m[name] = map[string]bool{}
		}
		k := mb.ID + " " + mb.Email + " " + mb.Name
		if m[name][k] {
			return fmt.Errorf("member %q emitted twice in %s", k, name)
		}
		m[name][k] = true
		return nil
	})
	if err != nil {
		t.Fatalf("ListMembers: %v", err)
	}
	return names, m
}

// emails is a group's members' emails, sorted.
func (m membership) emails(group string) []string {
	var out []string
	for k := range m[group] {
		out = append(out, strings.Fields(k)[1])
	}
	slices.Sort(out)
	return out
}

func mails(is ...int) []string {
	var out []string
	for _, i := range is {
		out = append(out, mail(i))
	}
	slices.Sort(out)
	return out
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestDirectory(t *testing.T) {
	d := startSlapd(t)
	d.add(t, directoryLDIF())

	// The directory holds more people than it gives the reader in one
	// search: only paging lists them.
	conn, err := goldap.DialURL(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Bind(readerDN, readerPW); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Search(goldap.NewSearchRequest("ou=people,"+suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"mail"}, nil))
	conn.Close()
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("an unpaged search of %d people = %v, want the size limit exceeded", bigGroup, err)
	}

	s := newSource(t, readerConfig(d, map[string]any{"nested_groups": true}))
	names, first := list(t, s)
	byName := map[string]string{}
	for id, n := range names {
		if !uuidRE.MatchString(id) {
			t.Errorf("group %s has id %q, want its entryUUID", n, id)
		}
		byName[n] = id
	}
	if got := slices.Sorted(maps.Keys(byName)); !slices.Equal(got, []string{"all", "big", "editors", "staff", "unix"}) {
		t.Fatalf("groups = %v", got)
	}
	nested := mails(1, 2, 3, 4, 5, 8)
	nested = append(nested, "guest@example.net")
	slices.Sort(nested)
	withGuest := append(mails(4, 5), "guest@example.net")
	slices.Sort(withGuest)
	for g, want := range map[string][]string{
		"staff":   nested, // u1-u3, and through "all": editors and u8
		"all":     nested,
		"editors": withGuest,
		"unix":    mails(6, 7),
	} {
		if got := first.emails(g); !slices.Equal(got, want) {
			t.Errorf("%s members = %v, want %v", g, got, want)
		}
	}
	if n := len(first["big"]); n != bigGroup {
		t.Fatalf("big has %d members, want %d (paged past the size limit of %d)", n, bigGroup, sizeLimit)
	}
	ids := map[string]bool{}
	for k := range first["big"] {
		f := strings.Fields(k)
		if !uuidRE.MatchString(f[0]) || ids[f[0]] {
			t.Fatalf("big member %q: want a distinct entryUUID as id", k)
		}
		ids[f[0]] = true
	}
	// The name is displayName, else cn.
	if !hasMember(first["editors"], mail(4), "Person 0004") || !hasMember(first["editors"], mail(5), "User 0005") {
		t.Fatalf("editors = %v, want u4 named by displayName and u5 by cn", first["editors"])
	}

	// Without nesting, a member group contributes nobody.
	flat := newSource(t, readerConfig(d, nil))
	_, m := list(t, flat)
	if got := m.emails("staff"); !slices.Equal(got, mails(1, 2, 3)) {
		t.Errorf("staff without nesting = %v", got)
	}
	if got := m.emails("all"); !slices.Equal(got, mails(8)) {
		t.Errorf("all without nesting = %v", got)
	}

	// One group asked for: only its members.
	var only []string
	err = flat.ListMembers(context.Background(), []string{byName["unix"]}, func(mb groupsource.Member) error {
		only = append(only, mb.Email)
		return nil
	})
	if slices.Sort(only); err != nil || !slices.Equal(only, mails(6, 7)) {
		t.Fatalf("ListMembers(unix) = %v, %v", only, err)
	}

	// The directory changes: a member leaves staff, one joins unix, big
	// loses one, editors is renamed (its id stays), u1's address changes.
	d.modify(t, fmt.Sprintf(`dn: cn=staff,ou=groups,%[1]s
changetype: modify
delete: member
member: %[2]s

dn: cn=unix,ou=groups,%[1]s
changetype: modify
add: memberUid
memberUid: u0010

dn: cn=big,ou=groups,%[1]s
changetype: modify
delete: member
member: %[3]s

dn: cn=editors,ou=groups,%[1]s
changetype: modrdn
newrdn: cn=writers
deleteoldrdn: 1

dn: %[4]s
changetype: modify
replace: mail
mail: ann@example.org
`, suffix, user(2), user(bigGroup), user(1)))

	names2, second := list(t, flat)
	renamed := byName["editors"]
	if names2[renamed] != "writers" || len(names2) != len(names) {
		t.Fatalf("after the rename: groups %v, want editors' id %s named writers", names2, renamed)
	}
	// Exactly the change: compare (group id, member) pairs before and after.
	before, after := pairs(names, m), pairs(names2, second)
	added, removed := diff(before, after)
	u1Before := fmt.Sprintf("%s %s User 0001", idOf(t, first, mail(1)), mail(1))
	u1After := fmt.Sprintf("%s ann@example.org User 0001", idOf(t, first, mail(1)))
	wantAdded := []string{
		byName["big"] + " " + u1After,
		byName["staff"] + " " + u1After,
		byName["unix"] + " " + memberKey(t, first["big"], mail(10)),
	}
	wantRemoved := []string{
		byName["big"] + " " + u1Before,
		byName["big"] + " " + memberKey(t, first["big"], mail(bigGroup)),
		byName["staff"] + " " + u1Before,
		byName["staff"] + " " + memberKey(t, first["big"], mail(2)),
	}
	slices.Sort(wantAdded)
	slices.Sort(wantRemoved)
	if !slices.Equal(added, wantAdded) || !slices.Equal(removed, wantRemoved) {
		t.Fatalf("second listing:\n added   %q\n want    %q\n removed %q\n want    %q", added, wantAdded, removed, wantRemoved)
	}
}

func hasMember(set map[string]bool, email, name string) bool {
	for k := range set {
		if strings.Contains(k, " "+email+" ") && strings.HasSuffix(k, " "+name) {
			return true
		}
	}
	return false
}

func memberKey(t *testing.T, set map[string]bool, email string) string {
	t.Helper()
	for k := range set {
		if strings.Fields(k)[1] == email {
			return k
		}
	}
	t.Fatalf("no member %s", email)
	return ""
}

func idOf(t *testing.T, m membership, email string) string {
	return strings.Fields(memberKey(t, m["big"], email))[0]
}

func pairs(names map[string]string, m membership) []string {
	byName := map[string]string{}
	for id, n := range names {
		byName[n] = id
	}
	var out []string
	for g, set := range m {
		for k := range set {
			out = append(out, byName[g]+" "+k)
		}
	}
	slices.Sort(out)
	return out
}

func diff(before, after []string) (added, removed []string) {
	for _, a := range after {
		if _, found := slices.BinarySearch(before, a); !found {
			added = append(added, a)
		}
	}
	for _, b := range before {
		if _, found := slices.BinarySearch(after, b); !found {
			removed = append(removed, b)
		}
	}
	return added, removed
}

// Failures name what failed and are errors, never an empty listing.
func TestDirectoryErrors(t *testing.T) {
	d := startSlapd(t)
	d.add(t, directoryLDIF())
	ctx := context.Background()

	tests := []struct {
		name  string
		cfg   map[string]any
		wants []string
	}{
		{"wrong password", readerConfig(d, map[string]any{"bind_password": "wrong"}), []string{"refused the bind as \"" + readerDN + "\"", "wrong DN or password"}},
		{"base DN missing", readerConfig(d, map[string]any{"base_dn": "dc=nowhere,dc=org", "user_base_dn": ""}), []string{`base DN "dc=nowhere,dc=org" does not exist`}},
		{"untrusted certificate", readerConfig(d, map[string]any{"url": d.LDAPS}), []string{"TLS", "not signed by a trusted CA", "ca_file"}},
		{"StartTLS untrusted", readerConfig(d, map[string]any{"start_tls": true}), []string{"StartTLS", "not signed by a trusted CA"}},
		{"nobody listening", readerConfig(d, map[string]any{"url": fmt.Sprintf("ldap://127.0.0.1:%d", freePort(t))}), []string{"cannot connect to the directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSource(t, tc.cfg)
			_, err := s.ListGroups(ctx)
			for _, w := range tc.wants {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("ListGroups err = %v, want it to say %q", err, w)
				}
			}
			emitted := 0
			err = s.ListMembers(ctx, nil, func(groupsource.Member) error { emitted++; return nil })
			if err == nil || emitted != 0 {
				t.Fatalf("ListMembers = %v after %d members, want an error and none", err, emitted)
			}
		})
	}
	t.Run("unreachable is unavailable", func(t *testing.T) {
		s := newSource(t, readerConfig(d, map[string]any{"url": fmt.Sprintf("ldap://127.0.0.1:%d", freePort(t))}))
		if _, err := s.ListGroups(ctx); !errors.Is(err, plugins.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

// TLS with the CA file: LDAPS and StartTLS, and an anonymous bind.
func TestDirectoryTLS(t *testing.T) {
	d := startSlapd(t)
	d.add(t, directoryLDIF())
	for name, extra := range map[string]map[string]any{
		"ldaps":              {"url": d.LDAPS, "ca_file": d.CAFile},
		"starttls":           {"start_tls": true, "ca_file": d.CAFile},
		"anonymous starttls": {"start_tls": true, "ca_file": d.CAFile, "bind_dn": "", "bind_password": ""},
	} {
		t.Run(name, func(t *testing.T) {
			names, m := list(t, newSource(t, readerConfig(d, extra)))
			if len(names) != 5 || len(m["big"]) != bigGroup {
				t.Fatalf("groups %v, big has %d members", names, len(m["big"]))
			}
		})
	}
}

func TestConfigProblems(t *testing.T) {
	s := ldap.New(nil)
	err := s.Configure(context.Background(), 1, json.RawMessage(`{"url": "http://x", "base_dn": "not a dn", "bind_dn": "cn=a", "group_filter": "(cn=", "flavor": "novell", "ca_file": "/nonexistent", "page_size": 20000}`))
	var ce plugins.ConfigErrors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want ConfigErrors", err)
	}
	fields := map[string]bool{}
	for _, p := range ce {
		fields[p.Field] = true
	}
	for _, f := range []string{"url", "base_dn", "bind_password", "group_filter", "flavor", "ca_file", "page_size"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %v", f, ce)
		}
	}
	if err := s.Configure(context.Background(), 1, json.RawMessage(`{"url": "ldap://x", "base_dn": "dc=x", "colour": 1}`)); !errors.As(err, &ce) {
		t.Fatalf("unknown key: err = %v, want ConfigErrors", err)
	}
	if err := s.Health(context.Background()); !errors.Is(err, plugins.ErrUnavailable) {
		t.Fatalf("Health before a good config = %v, want ErrUnavailable", err)
	}
}
