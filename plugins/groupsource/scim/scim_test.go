package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/groupsource/scim"
)

const users = 250

func newSource(t *testing.T, cfg map[string]any) *scim.Source {
	t.Helper()
	s := scim.New(nil)
	raw, _ := json.Marshal(cfg)
	if err := s.Configure(context.Background(), 1, raw); err != nil {
		t.Fatalf("Configure(%s): %v", raw, err)
	}
	return s
}

// person is how user i is provisioned, and the email and name the source
// must give for them.
func person(i int) (user map[string]any, email, name string) {
	user = map[string]any{"userName": fmt.Sprintf("u%03d", i)}
	switch i % 5 {
	case 0: // a work address and a primary one: the primary
		user["emails"] = []map[string]any{{"value": fmt.Sprintf("work%03d@example.org", i), "type": "work"}, {"value": fmt.Sprintf("p%03d@example.org", i), "primary": true}}
		email = fmt.Sprintf("p%03d@example.org", i)
	case 1: // no emails, an email as userName
		user["userName"] = fmt.Sprintf("u%03d@example.org", i)
		email = user["userName"].(string)
	case 2: // two, none primary: the first
		user["emails"] = []map[string]any{{"value": fmt.Sprintf("first%03d@example.org", i)}, {"value": fmt.Sprintf("second%03d@example.org", i)}}
		email = fmt.Sprintf("first%03d@example.org", i)
	default:
		user["emails"] = []map[string]any{{"value": fmt.Sprintf("u%03d@example.org", i), "primary": true}}
		email = fmt.Sprintf("u%03d@example.org", i)
	}
	if i == users-1 { // no address at all: the member has its id only
		user["userName"] = "no-address"
		delete(user, "emails")
		email = ""
	}
	if i%2 == 0 {
		name = fmt.Sprintf("Person %03d", i)
		user["displayName"] = name
	} else {
		user["name"] = map[string]any{"givenName": "Given", "familyName": fmt.Sprintf("F%03d", i)}
		name = fmt.Sprintf("Given F%03d", i)
	}
	return user, email, name
}

// listing is a source's answer as "group id|group name" -> set of
// "member id|email|name".
func listing(t *testing.T, s *scim.Source) map[string]map[string]bool {
	t.Helper()
	ctx := context.Background()
	groups, err := s.ListGroups(ctx)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	names := map[string]string{}
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	out := map[string]map[string]bool{}
	for id, n := range names {
		out[id+"|"+n] = map[string]bool{}
	}
	err = s.ListMembers(ctx, nil, func(m groupsource.Member) error {
		set, ok := out[m.GroupID+"|"+names[m.GroupID]]
		if !ok {
			return fmt.Errorf("member of unlisted group %s", m.GroupID)
		}
		k := m.ID + "|" + m.Email + "|" + m.Name
		if set[k] {
			return fmt.Errorf("%s emitted twice", k)
		}
		set[k] = true
		return nil
	})
	if err != nil {
		t.Fatalf("ListMembers: %v", err)
	}
	return out
}

// seeded is what seed provisioned.
type seeded struct {
	ids                     []string          // user i's SCIM id
	want                    map[string]string // user id -> "id|email|name" the source must emit
	even                    []string          // the ids of the even users
	everyone, evenID, staff string            // group ids
}

// seed provisions users people and three groups through the server's SCIM
// API: Everyone (all), Even (every second) and Staff (the first ten, and
// Even as a member group).
func seed(t *testing.T, srv *scimServer) *seeded {
	t.Helper()
	s := &seeded{ids: make([]string, users), want: map[string]string{}}
	for i := range users {
		u, email, name := person(i)
		s.ids[i] = srv.createUser(t, u)
		s.want[s.ids[i]] = s.ids[i] + "|" + email + "|" + name
	}
	for i := 0; i < users; i += 2 {
		s.even = append(s.even, s.ids[i])
	}
	s.everyone = srv.createGroup(t, "Everyone", s.ids)
	s.evenID = srv.createGroup(t, "Even", s.even)
	s.staff = srv.createGroup(t, "Staff", s.ids[:10])
	// A member that is a group is not a person: not expanded, not emitted.
	srv.patch(t, "/Groups/"+s.staff, map[string]any{"op": "add", "path": "members", "value": []map[string]string{{"value": s.evenID, "type": "Group"}}})
	return s
}

// change: Staff loses user 1 and gains user 200, user 2 gets a new
// address, Everyone is renamed "All people".
func change(t *testing.T, srv *scimServer, s *seeded) {
	t.Helper()
	srv.patch(t, "/Groups/"+s.staff,
		map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", s.ids[1])},
		map[string]any{"op": "add", "path": "members", "value": []map[string]string{{"value": s.ids[200], "type": "User"}}})
	srv.patch(t, "/Users/"+s.ids[2], map[string]any{"op": "replace", "path": "emails", "value": []map[string]any{{"value": "new002@example.org", "primary": true}}})
	srv.patch(t, "/Groups/"+s.everyone, map[string]any{"op": "replace", "path": "displayName", "value": "All people"})
}

func TestSCIMServer(t *testing.T) {
	srv := startSCIM(t)
	sd := seed(t, srv)
	ids, want, even, everyone, evenID, staff := sd.ids, sd.want, sd.even, sd.everyone, sd.evenID, sd.staff

	expect := func(idxs []string) map[string]bool {
		m := map[string]bool{}
		for _, id := range idxs {
			m[want[id]] = true
		}
		return m
	}
	s := newSource(t, map[string]any{"url": srv.URL, "token": srv.Token, "page_size": 100})
	first := listing(t, s)
	wantFirst := map[string]map[string]bool{
		everyone + "|Everyone": expect(ids),
		evenID + "|Even":       expect(even),
		staff + "|Staff":       expect(ids[:10]),
	}
	if !maps.EqualFunc(first, wantFirst, maps.Equal) {
		t.Fatalf("first listing differs:\n%s", describe(first, wantFirst))
	}

	// Groups paged too: two per page.
	if got := listing(t, newSource(t, map[string]any{"url": srv.URL, "token": srv.Token, "page_size": 2})); !maps.EqualFunc(got, wantFirst, maps.Equal) {
		t.Fatalf("listing two at a time differs:\n%s", describe(got, wantFirst))
	}

	// The server changes, and Even is deleted.
	change(t, srv, sd)
	srv.do(t, http.MethodDelete, "/Groups/"+evenID, nil, nil)

	second := listing(t, s)
	u2Before, u2After := want[ids[2]], ids[2]+"|new002@example.org|Person 002"
	wantSecond := map[string]map[string]bool{
		everyone + "|All people": expect(ids),
		staff + "|Staff":         expect(append(slices.Concat(ids[:1], ids[2:10]), ids[200])),
	}
	for _, g := range wantSecond {
		if g[u2Before] {
			delete(g, u2Before)
			g[u2After] = true
		}
	}
	if !maps.EqualFunc(second, wantSecond, maps.Equal) {
		t.Fatalf("second listing differs:\n%s", describe(second, wantSecond))
	}

	// One group asked for: only its members.
	var only []string
	err := s.ListMembers(context.Background(), []string{staff}, func(m groupsource.Member) error {
		if m.GroupID != staff {
			return fmt.Errorf("member of %s", m.GroupID)
		}
		only = append(only, m.ID)
		return nil
	})
	if err != nil || len(only) != 10 {
		t.Fatalf("ListMembers(Staff) = %d members, %v", len(only), err)
	}

	// A wrong token: a clear error, and no members.
	bad := newSource(t, map[string]any{"url": srv.URL, "token": "wrong"})
	if _, err := bad.ListGroups(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "refused the bearer token (HTTP 401)") || !strings.Contains(err.Error(), "Bearer token not accepted") {
		t.Fatalf("ListGroups with a wrong token: %v", err)
	}
	emitted := 0
	if err := bad.ListMembers(context.Background(), nil, func(groupsource.Member) error { emitted++; return nil }); err == nil || emitted != 0 {
		t.Fatalf("ListMembers with a wrong token = %v after %d members", err, emitted)
	}
}

// describe lists what one listing has that the other lacks.
func describe(got, want map[string]map[string]bool) string {
	var b strings.Builder
	for _, g := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[g]; !ok {
			fmt.Fprintf(&b, "missing group %s\n", g)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(got)) {
		w, ok := want[g]
		if !ok {
			fmt.Fprintf(&b, "unexpected group %s (%d members)\n", g, len(got[g]))
			continue
		}
		for k := range got[g] {
			if !w[k] {
				fmt.Fprintf(&b, "%s: unexpected member %s\n", g, k)
			}
		}
		for k := range w {
			if !got[g][k] {
				fmt.Fprintf(&b, "%s: missing member %s\n", g, k)
			}
		}
	}
	return b.String()
}

// Servers that misbehave get errors that say how, never a short listing.
func TestSCIMServerErrors(t *testing.T) {
	page := func(start, total int, ids ...string) string {
		var rs []string
		for _, id := range ids {
			rs = append(rs, fmt.Sprintf(`{"id": %q, "displayName": "G %s"}`, id, id))
		}
		return fmt.Sprintf(`{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": %d, "startIndex": %d, "itemsPerPage": %d, "Resources": [%s]}`,
			total, start, len(ids), strings.Join(rs, ","))
	}
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request, calls int)
		want   string
		is     error
	}{
		{"bad JSON", func(w http.ResponseWriter, r *http.Request, _ int) { fmt.Fprint(w, `{"Resources": [`) }, "is not SCIM JSON", nil},
		{"empty page before the total", func(w http.ResponseWriter, r *http.Request, calls int) {
			if calls == 1 {
				fmt.Fprint(w, page(1, 5, "a", "b"))
			} else {
				fmt.Fprint(w, page(3, 5))
			}
		}, "paging does not advance: Groups at startIndex 3 sent no resources, but totalResults is 5", nil},
		{"startIndex ignored", func(w http.ResponseWriter, r *http.Request, _ int) { fmt.Fprint(w, page(1, 5, "a", "b")) },
			"asked Groups for startIndex 3, it answered startIndex 1", nil},
		{"same resources again", func(w http.ResponseWriter, r *http.Request, calls int) {
			fmt.Fprint(w, strings.Replace(page(1, 5, "a", "b"), `"startIndex": 1,`, "", 1))
		}, "sent a again", nil},
		{"server error", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "503", "detail": "maintenance"}`)
		}, "the SCIM server failed (HTTP 503)", plugins.ErrUnavailable},
		{"wrong URL", func(w http.ResponseWriter, r *http.Request, _ int) { http.NotFound(w, r) }, "not found (HTTP 404; is url the SCIM base", nil},
		{"forbidden", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"detail": "token lacks Groups.Read"}`)
		}, "refused the bearer token (HTTP 403) for GET", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" {
					t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
				}
				tc.handle(w, r, int(calls.Add(1)))
			}))
			defer ts.Close()
			s := newSource(t, map[string]any{"url": ts.URL + "/scim/v2/", "token": "tok", "page_size": 2})
			_, err := s.ListGroups(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("ListGroups err = %v, want it to say %q", err, tc.want)
			}
			if err := s.ListMembers(context.Background(), nil, func(groupsource.Member) error { return nil }); err == nil {
				t.Fatal("ListMembers returned nil from a failing server")
			}
		})
	}
}

func TestConfigProblems(t *testing.T) {
	s := scim.New(nil)
	err := s.Configure(context.Background(), 1, json.RawMessage(`{"url": "ftp://x", "page_size": 5000, "timeout_seconds": -1}`))
	var ce plugins.ConfigErrors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want ConfigErrors", err)
	}
	fields := map[string]bool{}
	for _, p := range ce {
		fields[p.Field] = true
	}
	for _, f := range []string{"url", "token", "page_size", "timeout_seconds"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %v", f, ce)
		}
	}
	if err := s.Health(context.Background()); !errors.Is(err, plugins.ErrUnavailable) {
		t.Fatalf("Health before a good config = %v, want ErrUnavailable", err)
	}
}

// Paging follows startIndex and count to totalResults, also when the server
// sends fewer than asked.
func TestPaging(t *testing.T) {
	var asked []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		asked = append(asked, r.URL.Path+"?"+q.Get("startIndex")+","+q.Get("count"))
		var start int
		fmt.Sscan(q.Get("startIndex"), &start)
		var rs []string
		for i := start; i < start+2 && i <= 5; i++ { // two per page, though three were asked for
			rs = append(rs, fmt.Sprintf(`{"id": "g%d", "displayName": "Group %d"}`, i, i))
		}
		fmt.Fprintf(w, `{"totalResults": 5, "startIndex": %d, "Resources": [%s]}`, start, strings.Join(rs, ","))
	}))
	defer ts.Close()
	s := newSource(t, map[string]any{"url": ts.URL + "/scim/v2", "token": "tok", "page_size": 3})
	groups, err := s.ListGroups(context.Background())
	if err != nil || len(groups) != 5 || groups[4] != (groupsource.Group{ID: "g5", Name: "Group 5"}) {
		t.Fatalf("ListGroups = %+v, %v", groups, err)
	}
	if want := []string{"/scim/v2/Groups?1,3", "/scim/v2/Groups?3,3", "/scim/v2/Groups?5,3"}; !slices.Equal(asked, want) {
		t.Fatalf("requests = %v, want %v", asked, want)
	}
}
