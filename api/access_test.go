package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/store"
)

// Manual groups through the API: an admin makes one and changes its
// members by email; the list searches and filters; members of the
// console may look but not change.
func TestGroupsAPI(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			e.DirectoryGroup("Staff", "ann@uni.edu", "bob@uni.edu")
			g := e.Must(e.Do("POST", "/api/v1/groups", e.APIKey, map[string]any{"name": "Guest speakers"}), http.StatusCreated).Map(t)
			if g["provenance"] != "manual" || g["name"] != "Guest speakers" {
				t.Fatalf("created %v", g)
			}
			gid := g["id"].(string)
			r := e.Do("POST", "/api/v1/groups", e.APIKey, map[string]any{"name": "guest speakers"})
			if r.Status != http.StatusConflict || r.ErrorCode() != "group_name_taken" || r.ErrorField() != "name" {
				t.Fatalf("same name: %d %s", r.Status, r.Body)
			}
			if r := e.Do("POST", "/api/v1/groups", e.APIKey, map[string]any{"name": ""}); r.Status != http.StatusBadRequest || r.ErrorField() != "name" {
				t.Fatalf("no name: %d %s", r.Status, r.Body)
			}
			members := "/api/v1/groups/" + gid + "/members"
			e.Must(e.Do("POST", members, e.APIKey, map[string]any{"email": "Gia@Guest.test"}), http.StatusCreated)
			if r := e.Do("POST", members, e.APIKey, map[string]any{"email": "gia@guest.test"}); r.Status != http.StatusConflict || r.ErrorCode() != "group_member_exists" {
				t.Fatalf("twice: %d %s", r.Status, r.Body)
			}
			if r := e.Do("POST", members, e.APIKey, map[string]any{"email": "nope"}); r.Status != http.StatusBadRequest || r.ErrorField() != "email" {
				t.Fatalf("bad email: %d %s", r.Status, r.Body)
			}
			e.Must(e.Do("POST", members, e.APIKey, map[string]any{"email": "hal@guest.test"}), http.StatusCreated)
			e.Must(e.Do("DELETE", members, e.APIKey, map[string]any{"email": "hal@guest.test"}), http.StatusNoContent)
			if r := e.Do("DELETE", members, e.APIKey, map[string]any{"email": "hal@guest.test"}); r.Status != http.StatusNotFound || r.ErrorCode() != "group_member_not_found" {
				t.Fatalf("removing twice: %d %s", r.Status, r.Body)
			}

			list := func(key, q string) (names []string, total float64) {
				t.Helper()
				m := e.Must(e.Do("GET", "/api/v1/groups"+q, key, nil), http.StatusOK).Map(t)
				for _, it := range m["items"].([]any) {
					row := it.(map[string]any)
					names = append(names, fmt.Sprintf("%s:%v:%s", row["name"], row["size"], row["provenance"]))
				}
				return names, m["total"].(float64)
			}
			if got, n := list(e.APIKey, ""); n != 2 || strings.Join(got, ",") != "Guest speakers:1:manual,Staff:2:sync" {
				t.Fatalf("all: %v (%v)", got, n)
			}
			if got, n := list(e.APIKey, "?provenance=sync"); n != 1 || got[0] != "Staff:2:sync" {
				t.Fatalf("sync: %v", got)
			}
			if got, n := list(e.APIKey, "?search=gue&per_page=1&page=1"); n != 1 || got[0] != "Guest speakers:1:manual" {
				t.Fatalf("search: %v", got)
			}
			if r := e.Do("GET", "/api/v1/groups?provenance=ldap", e.APIKey, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "provenance" {
				t.Fatalf("bad provenance: %d %s", r.Status, r.Body)
			}

			// A console member sees the groups but changes none.
			_, member := e.ConsoleUser("mia@org.test", "member")
			if r := e.Call(member, "GET", "/api/v1/groups", "", nil); r.Status != http.StatusOK {
				t.Fatalf("member lists groups: %d %s", r.Status, r.Body)
			}
			if r := e.Call(member, "POST", members, "", map[string]any{"email": "x@guest.test"}); r.Status != http.StatusForbidden || r.ErrorCode() != "admin_only" {
				t.Fatalf("member adds a member: %d %s", r.Status, r.Body)
			}
			// Another account's admin sees none of them.
			_, other := e.SecondAccount()
			if got, n := list(other, ""); n != 0 || len(got) != 0 {
				t.Fatalf("another account sees %v", got)
			}
			if r := e.Do("POST", members, other, map[string]any{"email": "x@guest.test"}); r.Status != http.StatusNotFound {
				t.Fatalf("another account's admin adds a member: %d %s", r.Status, r.Body)
			}
		})
	}
}

// A closed event's access through the API and the event site's pages: a
// granted group's member signs in and the site lets them in on each
// request until the grant is removed or they leave the group; additional
// users off refuses inviting and registering others, saying why.
func TestClosedEventAccessAPI(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			ctx := context.Background()
			f := newSiteFixture(t, e)
			ev := f.event(t, func(in *event.EventInput) { in.Slug = "closed-summit"; in.Closed = true })
			base := "/api/v1/events/" + ev.ID + "/access"
			staff := e.DirectoryGroup("Staff", "ann@uni.edu", "bob@uni.edu")
			e.DirectoryGroup("Alumni", "old@uni.edu")
			manual := e.Must(e.Do("POST", "/api/v1/groups", e.APIKey, map[string]any{"name": "Guests"}), http.StatusCreated).Map(t)["id"].(string)

			s := e.Must(e.Do("GET", base+"/settings", e.APIKey, nil), http.StatusOK).Map(t)
			if s["closed"] != true || s["additional_users"] != true {
				t.Fatalf("settings %v", s)
			}
			g := e.Must(e.Do("PUT", base+"/groups/"+staff, e.APIKey, nil), http.StatusOK).Map(t)
			if g["granted"] != true || g["size"].(float64) != 2 || g["name"] != "Staff" {
				t.Fatalf("granted %v", g)
			}
			e.Must(e.Do("PUT", base+"/groups/"+manual, e.APIKey, nil), http.StatusOK)
			l := e.Must(e.Do("GET", base+"/groups?filter=granted", e.APIKey, nil), http.StatusOK).Map(t)
			if l["total"].(float64) != 2 || l["granted_total"].(float64) != 2 {
				t.Fatalf("granted list %v", l)
			}
			l = e.Must(e.Do("GET", base+"/groups?filter=not_granted&search=al", e.APIKey, nil), http.StatusOK).Map(t)
			if l["total"].(float64) != 1 || l["items"].([]any)[0].(map[string]any)["name"] != "Alumni" {
				t.Fatalf("not granted %v", l)
			}
			if r := e.Do("GET", base+"/groups?filter=maybe", e.APIKey, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "filter" {
				t.Fatalf("bad filter: %d %s", r.Status, r.Body)
			}
			if r := e.Do("GET", base+"/groups?page=3", e.APIKey, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "page" {
				t.Fatalf("page past the end: %d %s", r.Status, r.Body)
			}
			if r := e.Do("PUT", base+"/groups/0190d3a4-7b1c-7c3e-9f00-000000000001", e.APIKey, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "group_not_found" {
				t.Fatalf("unknown group: %d %s", r.Status, r.Body)
			}
			_, other := e.SecondAccount()
			if r := e.Do("PUT", base+"/groups/"+staff, other, nil); r.Status != http.StatusNotFound {
				t.Fatalf("another account grants: %d %s", r.Status, r.Body)
			}

			// Additional users off: an outsider is refused, a member is not.
			s = e.Must(e.Do("PUT", base+"/settings", e.APIKey, map[string]any{"additional_users": false}), http.StatusOK).Map(t)
			if s["additional_users"] != false || s["closed"] != true {
				t.Fatalf("settings after PUT %v", s)
			}
			r := e.Do("POST", "/api/v1/events/"+ev.ID+"/attendees", e.APIKey, map[string]any{"email": "eve@else.org", "first_name": "Eve", "last_name": "E"})
			if r.Status != http.StatusForbidden || r.ErrorCode() != "not_in_granted_group" || r.ErrorField() != "email" || !strings.Contains(string(r.Body), "additional users are turned off") {
				t.Fatalf("outsider invited: %d %s", r.Status, r.Body)
			}
			a := e.Must(e.Do("POST", "/api/v1/events/"+ev.ID+"/attendees", e.APIKey, map[string]any{"email": "ann@uni.edu", "first_name": "Ann", "last_name": "A"}), http.StatusCreated).Map(t)
			sitePage(t, e.Form(e.Client(), "/e/closed-summit/register", url.Values{"email": {"mallory@else.org"}, "first_name": {"M"}, "last_name": {"X"}}),
				http.StatusForbidden, "This event is closed", "not in one of them")

			// Ann signs in with a link and the site lets her in.
			l2, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			ann := e.Client()
			e.Must(e.Form(ann, strings.TrimPrefix(l2.URL, e.URL), nil), http.StatusSeeOther)
			sitePage(t, e.Get(ann, "/e/closed-summit"), http.StatusOK, "Signed in as")
			// The grant goes: her next request is refused, with the reason.
			e.Must(e.Do("DELETE", base+"/groups/"+staff, e.APIKey, nil), http.StatusNoContent)
			sitePage(t, e.Get(ann, "/e/closed-summit"), http.StatusForbidden, "This event is closed", "granted access to")
			// Through the manual group she is in again, until removed from it.
			members := "/api/v1/groups/" + manual + "/members"
			e.Must(e.Do("POST", members, e.APIKey, map[string]any{"email": "ann@uni.edu"}), http.StatusCreated)
			sitePage(t, e.Get(ann, "/e/closed-summit"), http.StatusOK, "Signed in as")
			e.Must(e.Do("DELETE", members, e.APIKey, map[string]any{"email": "ann@uni.edu"}), http.StatusNoContent)
			sitePage(t, e.Get(ann, "/e/closed-summit"), http.StatusForbidden, "This event is closed")
			// Staff granted again; the next directory sync no longer lists her.
			e.Must(e.Do("PUT", base+"/groups/"+staff, e.APIKey, nil), http.StatusOK)
			sitePage(t, e.Get(ann, "/e/closed-summit"), http.StatusOK, "Signed in as")
			e.DirectoryGroup("Staff", "bob@uni.edu")
			sitePage(t, e.Get(ann, "/e/closed-summit"), http.StatusForbidden, "This event is closed")
			// On the list with additional users on, she enters again.
			e.Must(e.Do("PUT", base+"/settings", e.APIKey, map[string]any{"additional_users": true}), http.StatusOK)
			sitePage(t, e.Get(ann, "/e/closed-summit"), http.StatusOK, "Signed in as")
			e.Must(e.Do("POST", "/api/v1/events/"+ev.ID+"/attendees", e.APIKey, map[string]any{"email": "eve@else.org", "first_name": "Eve", "last_name": "E"}), http.StatusCreated)

			// An open event: the grants do not matter.
			e.Must(e.Do("PUT", base+"/settings", e.APIKey, map[string]any{"closed": false, "additional_users": false}), http.StatusOK)
			e.Must(e.Do("POST", "/api/v1/events/"+ev.ID+"/attendees", e.APIKey, map[string]any{"email": "zed@else.org", "first_name": "Zed", "last_name": "Z"}), http.StatusCreated)
		})
	}
}

// The console's Groups pages: an admin sees the groups, the form for a new
// manual group, and a manual group's members with Remove; a directory's
// group shows its members without them.
func TestConsoleGroupsPages(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	staff := e.DirectoryGroup("Staff", "ann@uni.edu")
	g := e.Must(e.Do("POST", "/api/v1/groups", e.APIKey, map[string]any{"name": "Guests"}), http.StatusCreated).Map(t)["id"].(string)
	e.Must(e.Do("POST", "/api/v1/groups/"+g+"/members", e.APIKey, map[string]any{"email": "gia@guest.test"}), http.StatusCreated)
	admin := e.SignIn(e.Admin)
	sitePage(t, e.Get(admin, "/console/groups"), http.StatusOK, "2 Groups", `href="/console/groups/`+g+`">Guests`, `id="new-group-form"`)
	sitePage(t, e.Get(admin, "/console/groups?provenance=manual"), http.StatusOK, "1 Group", "Guests")
	b := sitePage(t, e.Get(admin, "/console/groups/"+g), http.StatusOK, "gia@guest.test", `data-method="DELETE"`, `id="add-member-form"`)
	if !strings.Contains(b, "manual") {
		t.Fatal("the manual group's page does not say its provenance")
	}
	if b := sitePage(t, e.Get(admin, "/console/groups/"+staff), http.StatusOK, "ann@uni.edu", "cannot be changed here"); strings.Contains(b, `id="add-member-form"`) {
		t.Fatal("a directory group offers to add members")
	}
	_, member := e.ConsoleUser("mia@org.test", "member")
	if b := sitePage(t, e.Get(member, "/console/groups"), http.StatusOK, "Guests"); strings.Contains(b, `id="new-group-form"`) {
		t.Fatal("a console member is offered the new group form")
	}
	sitePage(t, e.Get(admin, "/console/groups/0190d3a4-7b1c-7c3e-9f00-000000000001"), http.StatusNotFound)
}
