package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// A group pushed by SCIM and granted to a closed event lets its member in;
// removing them from the group, or deactivating them, ends their access at
// their next request.
func TestSCIMPushedGroupOpensClosedEvent(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			ctx := context.Background()
			sc := scimClient{t: t, e: e, token: scimToken(t, e, e.APIKey, "Entra ID", false)}
			uid := sc.must(sc.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "ann@uni.edu",
				"name": map[string]any{"givenName": "Ann", "familyName": "Archer"}}), http.StatusCreated)["id"].(string)
			gid := sc.must(sc.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff",
				"members": []any{map[string]any{"value": uid}}}), http.StatusCreated)["id"].(string)

			f := newSiteFixture(t, e)
			ev := f.event(t, func(in *event.EventInput) { in.Slug = "pushed-summit"; in.Closed = true })
			base := "/api/v1/events/" + ev.ID + "/access"
			g := e.Must(e.Do("PUT", base+"/groups/"+gid, e.APIKey, nil), http.StatusOK).Map(t)
			if g["granted"] != true || g["provenance"] != "scim" || g["size"] != float64(1) {
				t.Fatalf("granted %v", g)
			}
			e.Must(e.Do("PUT", base+"/settings", e.APIKey, map[string]any{"additional_users": false}), http.StatusOK)
			// In the granted group, she may be invited although additional
			// users are off.
			a := e.Must(e.Do("POST", "/api/v1/events/"+ev.ID+"/attendees", e.APIKey, map[string]any{"email": "ann@uni.edu", "first_name": "Ann", "last_name": "Archer"}), http.StatusCreated).Map(t)
			link, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			ann := e.Client()
			e.Must(e.Form(ann, strings.TrimPrefix(link.URL, e.URL), nil), http.StatusSeeOther)
			sitePage(t, e.Get(ann, "/e/pushed-summit"), http.StatusOK, "Signed in as")

			// The provider removes her from the group: refused at once.
			sc.must(sc.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Remove", "path": `members[value eq "` + uid + `"]`})), http.StatusNoContent)
			sitePage(t, e.Get(ann, "/e/pushed-summit"), http.StatusForbidden, "This event is closed")
			// Added back, she enters again; deactivated, she is refused.
			sc.must(sc.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": uid}}})), http.StatusNoContent)
			sitePage(t, e.Get(ann, "/e/pushed-summit"), http.StatusOK, "Signed in as")
			sc.must(sc.do("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "Replace", "path": "active", "value": "False"})), http.StatusOK)
			sitePage(t, e.Get(ann, "/e/pushed-summit"), http.StatusForbidden, "This event is closed")
			// Reactivated, in again; the group deleted, out.
			sc.must(sc.do("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "Replace", "path": "active", "value": "True"})), http.StatusOK)
			sitePage(t, e.Get(ann, "/e/pushed-summit"), http.StatusOK, "Signed in as")
			sc.must(sc.do("DELETE", "/Groups/"+gid, nil), http.StatusNoContent)
			sitePage(t, e.Get(ann, "/e/pushed-summit"), http.StatusForbidden, "This event is closed")
		})
	}
}

// Erasing a provisioned person erases what provisioning holds of them:
// their provisioned record, its memberships and identity, and their member
// rows of the pushed groups; the group stays for its other members.
func TestSCIMErasure(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			ctx := context.Background()
			sc := scimClient{t: t, e: e, token: scimToken(t, e, e.APIKey, "Okta", false)}
			ann := sc.must(sc.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "ann@uni.edu"}), http.StatusCreated)["id"].(string)
			bob := sc.must(sc.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "bob@uni.edu"}), http.StatusCreated)["id"].(string)
			gid := sc.must(sc.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Crew",
				"members": []any{map[string]any{"value": ann}, map[string]any{"value": bob}}}), http.StatusCreated)["id"].(string)
			person, err := user.ByEmail(ctx, e.DB, e.AccountID, "ann@uni.edu")
			if err != nil {
				t.Fatal(err)
			}
			e.Must(e.Do("DELETE", "/api/v1/users/"+person.ID, e.APIKey, nil), http.StatusOK)
			for table, n := range map[string]int64{
				"scim_users":         count(t, e.DB, "scim_users", "id = ?", ann),
				"scim_group_members": count(t, e.DB, "scim_group_members", "person_id = ?", ann),
				"user_identities":    count(t, e.DB, "user_identities", "subject = ?", ann),
				"group_members":      count(t, e.DB, "group_members", "email = ?", "ann@uni.edu"),
			} {
				if n != 0 {
					t.Errorf("%s keeps %d rows of the erased person", table, n)
				}
			}
			if got := memberRows(t, e.DB, gid); len(got) != 1 || got[0] != "bob@uni.edu "+bob {
				t.Fatalf("the group's other member: %v", got)
			}
			sc.scimError(sc.do("GET", "/Users/"+ann, nil), http.StatusNotFound, "", "no provisioned user")
		})
	}
}
