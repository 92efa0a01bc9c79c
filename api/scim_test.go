package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/provision"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// scimClient provisions the way an identity provider does: SCIM JSON
// with a provisioning token.
type scimClient struct {
	t     testing.TB
	e     *apitest.Env
	token string
}

func (s scimClient) do(method, path string, body any) *apitest.Response {
	s.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.e.URL+"/scim/v2"+path, rd)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	return s.e.Send(s.e.Client(), req)
}

// must checks the status and that a SCIM body came with it.
func (s scimClient) must(r *apitest.Response, status int) map[string]any {
	s.t.Helper()
	if r.Status != status {
		s.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if status == http.StatusNoContent {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		s.t.Fatalf("content type %q: %s", ct, r.Body)
	}
	return r.Map(s.t)
}

// scimError checks a SCIM error: its status, type and that its detail
// names what is at fault.
func (s scimClient) scimError(r *apitest.Response, status int, scimType, names string) {
	s.t.Helper()
	m := s.must(r, status)
	schemas, _ := m["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || m["status"] != strconv.Itoa(status) {
		s.t.Fatalf("not a SCIM error of %d: %s", status, r.Body)
	}
	if m["scimType"] != nil && m["scimType"] != scimType || scimType != "" && m["scimType"] != scimType {
		s.t.Fatalf("scimType %v, want %q: %s", m["scimType"], scimType, r.Body)
	}
	if detail, _ := m["detail"].(string); !strings.Contains(detail, names) {
		s.t.Fatalf("detail does not name %q: %s", names, r.Body)
	}
}

func scimToken(t *testing.T, e *apitest.Env, apiKey, name string, link bool) string {
	t.Helper()
	m := e.Must(e.Do("POST", "/api/v1/scim/tokens", apiKey, map[string]any{"name": name, "link_by_email": link}), http.StatusCreated).Map(t)
	tok, _ := m["token"].(string)
	if !strings.HasPrefix(tok, provision.TokenPrefix) || m["base_url"] != e.URL+"/scim/v2" {
		t.Fatalf("token created: %v", m)
	}
	return tok
}

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func patchOp(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

// memberRows are the group's members as access reads them, "email key".
func memberRows(t *testing.T, db *store.DB, groupID string) []string {
	t.Helper()
	ms, err := group.Members(context.Background(), db.R, groupID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Email+" "+m.ExternalID)
	}
	return out
}

func count(t *testing.T, db *store.DB, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.R.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Entra ID's provisioning, step by step as it runs: look the user up,
// create them, look the group up, create it, add the member, remove them,
// deactivate the user, delete the group; with the SCIM bodies and the rows
// after each step.
func TestSCIMProvisioningAsEntraID(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			ctx := context.Background()
			faculty := e.DirectoryGroup("Faculty", "ann@uni.edu")
			tok := scimToken(t, e, e.APIKey, "Entra ID", false)
			sc := scimClient{t: t, e: e, token: tok}

			// 1. Is the user there? No.
			m := sc.must(sc.do("GET", `/Users?filter=`+url.QueryEscape(`userName eq "Ann@uni.edu"`), nil), http.StatusOK)
			if m["totalResults"] != float64(0) || len(m["Resources"].([]any)) != 0 {
				t.Fatalf("lookup before create: %v", m)
			}

			// 2. Create the user.
			r := sc.do("POST", "/Users", map[string]any{
				"schemas": []string{userSchema, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}, "externalId": "ann-ext",
				"userName": "Ann@uni.edu", "active": true, "displayName": "Ann Archer",
				"name":   map[string]any{"givenName": "Ann", "familyName": "Archer"},
				"emails": []any{map[string]any{"value": "Ann@uni.edu", "type": "work", "primary": true}},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "Physics"},
			})
			u := sc.must(r, http.StatusCreated)
			uid, _ := u["id"].(string)
			if u["userName"] != "Ann@uni.edu" || u["active"] != true || u["externalId"] != "ann-ext" ||
				u["name"].(map[string]any)["givenName"] != "Ann" || u["emails"].([]any)[0].(map[string]any)["value"] != "ann@uni.edu" ||
				r.Header.Get("Location") != e.URL+"/scim/v2/Users/"+uid {
				t.Fatalf("created user: %s (Location %q)", r.Body, r.Header.Get("Location"))
			}
			person, err := user.ByEmail(ctx, e.DB, e.AccountID, "ann@uni.edu")
			if err != nil || person.FirstName != "Ann" || person.LastName != "Archer" {
				t.Fatalf("user row: %+v %v", person, err)
			}
			if n := count(t, e.DB, "user_identities", "account_id = ? AND issuer = ? AND subject = ? AND user_id = ?", e.AccountID, provision.Issuer, uid, person.ID); n != 1 {
				t.Fatalf("identities of the provisioned user: %d", n)
			}
			m = sc.must(sc.do("GET", `/Users?filter=`+url.QueryEscape(`userName eq "ann@UNI.edu"`), nil), http.StatusOK)
			if m["totalResults"] != float64(1) || m["Resources"].([]any)[0].(map[string]any)["id"] != uid {
				t.Fatalf("lookup after create: %v", m)
			}
			// The same userName again is a conflict.
			sc.scimError(sc.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "ann@uni.edu"}), http.StatusConflict, "uniqueness", "userName")

			// 3. Is the group there? No.
			m = sc.must(sc.do("GET", `/Groups?excludedAttributes=members&filter=`+url.QueryEscape(`displayName eq "Staff"`), nil), http.StatusOK)
			if m["totalResults"] != float64(0) {
				t.Fatalf("group lookup before create: %v", m)
			}

			// 4. Create the group.
			g := sc.must(sc.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff", "externalId": "grp-1", "members": []any{}}), http.StatusCreated)
			gid, _ := g["id"].(string)
			if g["displayName"] != "Staff" || g["externalId"] != "grp-1" || len(g["members"].([]any)) != 0 {
				t.Fatalf("created group: %v", g)
			}
			l := e.Must(e.Do("GET", "/api/v1/groups?provenance=scim", e.APIKey, nil), http.StatusOK).Map(t)
			items := l["items"].([]any)
			if l["total"] != float64(1) || items[0].(map[string]any)["id"] != gid || items[0].(map[string]any)["source"] != group.SourcePushed || items[0].(map[string]any)["size"] != float64(0) {
				t.Fatalf("pushed group in /groups: %v", l)
			}
			m = sc.must(sc.do("GET", `/Groups?excludedAttributes=members&filter=`+url.QueryEscape(`displayName eq "Staff"`), nil), http.StatusOK)
			if m["totalResults"] != float64(1) || m["Resources"].([]any)[0].(map[string]any)["members"] != nil {
				t.Fatalf("group lookup after create: %v", m)
			}

			// 5. Add the member.
			sc.must(sc.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": uid}}})), http.StatusNoContent)
			if got := memberRows(t, e.DB, gid); len(got) != 1 || got[0] != "ann@uni.edu "+uid {
				t.Fatalf("members after add: %v", got)
			}
			g = sc.must(sc.do("GET", "/Groups/"+gid, nil), http.StatusOK)
			if ms := g["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["value"] != uid {
				t.Fatalf("group after add: %v", g)
			}
			l = e.Must(e.Do("GET", "/api/v1/groups?provenance=scim", e.APIKey, nil), http.StatusOK).Map(t)
			if l["items"].([]any)[0].(map[string]any)["size"] != float64(1) {
				t.Fatalf("pushed group's size: %v", l)
			}

			// 6. Remove the member.
			sc.must(sc.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Remove", "path": `members[value eq "` + uid + `"]`})), http.StatusNoContent)
			if got := memberRows(t, e.DB, gid); len(got) != 0 {
				t.Fatalf("members after remove: %v", got)
			}
			if n := count(t, e.DB, "scim_group_members", "group_id = ?", gid); n != 0 {
				t.Fatalf("pushed memberships after remove: %d", n)
			}
			// The directory's membership of her is not the push's to remove.
			if got := memberRows(t, e.DB, faculty); len(got) != 1 || !strings.HasPrefix(got[0], "ann@uni.edu") {
				t.Fatalf("another source's members: %v", got)
			}

			// She is added again, and 7. deactivated (as Entra ID sends it,
			// a string): her membership stops counting and is kept.
			sc.must(sc.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": uid}}})), http.StatusNoContent)
			u = sc.must(sc.do("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "Replace", "path": "active", "value": "False"})), http.StatusOK)
			if u["active"] != false || u["userName"] != "Ann@uni.edu" {
				t.Fatalf("deactivated: %v", u)
			}
			if got := memberRows(t, e.DB, gid); len(got) != 0 {
				t.Fatalf("members of a deactivated person: %v", got)
			}
			if n := count(t, e.DB, "scim_group_members", "group_id = ? AND person_id = ?", gid, uid); n != 1 {
				t.Fatalf("pushed membership of a deactivated person: %d", n)
			}
			if got := memberRows(t, e.DB, faculty); len(got) != 1 {
				t.Fatalf("another source's members after deactivation: %v", got)
			}
			g = sc.must(sc.do("GET", "/Groups/"+gid, nil), http.StatusOK)
			if ms := g["members"].([]any); len(ms) != 1 {
				t.Fatalf("group of a deactivated member, as the provider reads it: %v", g)
			}
			// Reactivated (no path, the value an object): back in the group.
			sc.must(sc.do("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "replace", "value": map[string]any{"active": true, "name.familyName": "Archer-Bell"}})), http.StatusOK)
			if got := memberRows(t, e.DB, gid); len(got) != 1 {
				t.Fatalf("members after reactivation: %v", got)
			}
			if p, _ := user.ByEmail(ctx, e.DB, e.AccountID, "ann@uni.edu"); p.LastName != "Archer-Bell" {
				t.Fatalf("renamed: %+v", p)
			}
			// Entra ID's profile updates: the enterprise extension (accepted,
			// not kept), the same work address, a given name and displayName.
			u = sc.must(sc.do("PATCH", "/Users/"+uid, patchOp(
				map[string]any{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Physics"},
				map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "ann@uni.edu"},
				map[string]any{"op": "Replace", "path": "name.givenName", "value": "Annie"},
				map[string]any{"op": "Replace", "path": "displayName", "value": "Annie Archer-Bell"},
			)), http.StatusOK)
			if u["displayName"] != "Annie Archer-Bell" || u["name"].(map[string]any)["givenName"] != "Annie" || u["active"] != true || u["externalId"] != "ann-ext" {
				t.Fatalf("after a profile update: %v", u)
			}
			if got := memberRows(t, e.DB, gid); len(got) != 1 {
				t.Fatalf("members after a profile update: %v", got)
			}
			if ms, _ := group.Members(ctx, e.DB.R, gid, 0, 0); len(ms) != 1 || ms[0].Name != "Annie Archer-Bell" {
				t.Fatalf("member's name after a profile update: %+v", ms)
			}
			sc.must(sc.do("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "Replace", "path": "active", "value": false})), http.StatusOK)

			// 8. Delete the group: its rows go, the directory's stay.
			sc.must(sc.do("DELETE", "/Groups/"+gid, nil), http.StatusNoContent)
			if n := count(t, e.DB, "groups", "id = ?", gid); n != 0 {
				t.Fatalf("deleted group's row: %d", n)
			}
			if n := count(t, e.DB, "scim_group_members", "group_id = ?", gid); n != 0 {
				t.Fatalf("deleted group's pushed memberships: %d", n)
			}
			if got := memberRows(t, e.DB, gid); len(got) != 0 {
				t.Fatalf("deleted group's members: %v", got)
			}
			if got := memberRows(t, e.DB, faculty); len(got) != 1 {
				t.Fatalf("another source's members after the delete: %v", got)
			}
			sc.scimError(sc.do("GET", "/Groups/"+gid, nil), http.StatusNotFound, "", "no provisioned group")

			// Each change is in the audit log, by the token.
			a := e.Must(e.Do("GET", "/api/v1/audit?limit=100", e.APIKey, nil), http.StatusOK)
			for _, action := range []string{"scim.user_created", "scim.group_created", "scim.group_updated", "scim.user_deactivated", "scim.user_reactivated", "scim.group_deleted", "scim.token_created"} {
				if !strings.Contains(string(a.Body), `"action":"`+action+`"`) {
					t.Fatalf("audit lacks %s: %s", action, a.Body)
				}
			}
			if strings.Contains(string(a.Body), tok) || strings.Contains(e.Logs.String(), tok) {
				t.Fatal("the token appears in the audit log or the logs")
			}

			// Deleting the user: the identity goes, the person stays.
			sc.must(sc.do("DELETE", "/Users/"+uid, nil), http.StatusNoContent)
			if n := count(t, e.DB, "user_identities", "issuer = ? AND subject = ?", provision.Issuer, uid); n != 0 {
				t.Fatalf("identity after delete: %d", n)
			}
			if _, err := user.ByEmail(ctx, e.DB, e.AccountID, "ann@uni.edu"); err != nil {
				t.Fatalf("the person after deprovisioning: %v", err)
			}
			sc.scimError(sc.do("GET", "/Users/"+uid, nil), http.StatusNotFound, "", "no provisioned user")
		})
	}
}

// Refusals: bad input names the attribute, a wrong or revoked token is
// 401, and another account's token sees nothing of this account.
func TestSCIMRefusals(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			tok := scimToken(t, e, e.APIKey, "Okta", false)
			sc := scimClient{t: t, e: e, token: tok}
			u := sc.must(sc.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "bo@uni.edu"}), http.StatusCreated)
			uid := u["id"].(string)
			g := sc.must(sc.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Crew", "members": []any{map[string]any{"value": uid}}}), http.StatusCreated)
			gid := g["id"].(string)

			for _, tc := range []struct {
				name, method, path string
				body               any
				status             int
				scimType, names    string
			}{
				{"no userName", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "active": true}, 400, "invalidValue", "userName"},
				{"userName not an email", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "bob"}, 400, "invalidValue", "userName"},
				{"bad email", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "c@uni.edu", "emails": []any{map[string]any{"value": "nope"}}}, 400, "invalidValue", "emails"},
				{"active not a boolean", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "d@uni.edu", "active": "maybe"}, 400, "invalidValue", "active"},
				{"name not an object", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "d@uni.edu", "name": "Dee"}, 400, "invalidValue", "name"},
				{"no schemas", "POST", "/Users", map[string]any{"userName": "d@uni.edu"}, 400, "invalidSyntax", "schemas"},
				{"no displayName", "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}}, 400, "invalidValue", "displayName"},
				{"unknown member", "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "X", "members": []any{map[string]any{"value": "0190d3a4-7b1c-7c3e-9f00-000000000001"}}}, 400, "invalidValue", "members"},
				{"member without value", "PATCH", "/Groups/" + gid, patchOp(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"display": "x"}}}), 400, "invalidValue", "members"},
				{"unknown path", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": "shoeSize", "value": "9"}), 400, "invalidPath", "shoeSize"},
				{"bad op", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "move", "path": "active", "value": true}), 400, "invalidValue", "op"},
				{"active a word", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": "active", "value": "sometimes"}), 400, "invalidValue", "active"},
				{"email change", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": `emails[type eq "work"].value`, "value": "new@uni.edu"}), 400, "mutability", "emails"},
				{"unsupported filter", "GET", "/Users?filter=" + url.QueryEscape(`userName co "bo"`), nil, 400, "invalidFilter", "userName"},
				{"text with NUL", "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "a\x00b"}, 400, "invalidValue", "displayName"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c := scimClient{t: t, e: e, token: tok}
					c.scimError(c.do(tc.method, tc.path, tc.body), tc.status, tc.scimType, tc.names)
				})
			}

			// No token, a wrong one, an API key, a revoked one: 401.
			for name, bad := range map[string]string{"none": "", "wrong": provision.TokenPrefix + strings.Repeat("A", 43), "api key": e.APIKey} {
				t.Run("token "+name, func(t *testing.T) {
					s2 := scimClient{t: t, e: e, token: bad}
					r := s2.do("GET", "/Users", nil)
					s2.scimError(r, http.StatusUnauthorized, "", "token")
					if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
					}
				})
			}
			tokens := e.Must(e.Do("GET", "/api/v1/scim/tokens", e.APIKey, nil), http.StatusOK)
			if strings.Contains(string(tokens.Body), tok) || strings.Contains(string(tokens.Body), "hash") {
				t.Fatalf("token list shows the secret: %s", tokens.Body)
			}
			other := scimToken(t, e, e.APIKey, "revoked soon", false)
			var list struct {
				Items []provision.Token `json:"items"`
			}
			e.Must(e.Do("GET", "/api/v1/scim/tokens", e.APIKey, nil), http.StatusOK).JSON(t, &list)
			if len(list.Items) != 2 || list.Items[0].Name != "revoked soon" {
				t.Fatalf("tokens: %+v", list.Items)
			}
			sc2 := scimClient{t: t, e: e, token: other}
			sc2.must(sc2.do("GET", "/Users", nil), http.StatusOK)
			e.Must(e.Do("DELETE", "/api/v1/scim/tokens/"+list.Items[0].ID, e.APIKey, nil), http.StatusNoContent)
			sc2.scimError(sc2.do("GET", "/Users", nil), http.StatusUnauthorized, "", "revoked")
			if r := e.Do("POST", "/api/v1/scim/tokens", e.APIKey, map[string]any{"name": " "}); r.Status != http.StatusBadRequest || r.ErrorField() != "name" {
				t.Fatalf("token without a name: %d %s", r.Status, r.Body)
			}
			_, member := e.ConsoleUser("mo@org.test", "member")
			if r := e.Call(member, "POST", "/api/v1/scim/tokens", "", map[string]any{"name": "mine"}); r.Status != http.StatusForbidden {
				t.Fatalf("a console member makes a token: %d %s", r.Status, r.Body)
			}

			// Another account's token sees and changes nothing here.
			_, otherKey := e.SecondAccount()
			sc3 := scimClient{t: t, e: e, token: scimToken(t, e, otherKey, "theirs", false)}
			if m := sc3.must(sc3.do("GET", "/Users", nil), http.StatusOK); m["totalResults"] != float64(0) {
				t.Fatalf("another account lists users: %v", m)
			}
			if m := sc3.must(sc3.do("GET", "/Groups", nil), http.StatusOK); m["totalResults"] != float64(0) {
				t.Fatalf("another account lists groups: %v", m)
			}
			sc3.scimError(sc3.do("GET", "/Users/"+uid, nil), http.StatusNotFound, "", "no provisioned user")
			sc3.scimError(sc3.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "remove", "path": "members"})), http.StatusNotFound, "", "no provisioned group")
			sc3.scimError(sc3.do("DELETE", "/Users/"+uid, nil), http.StatusNotFound, "", "no provisioned user")
			if got := memberRows(t, e.DB, gid); len(got) != 1 {
				t.Fatalf("members after another account's attempts: %v", got)
			}
			// Their own push of the same person makes their own user.
			sc3.must(sc3.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "bo@uni.edu"}), http.StatusCreated)
			if n := count(t, e.DB, "users", "email = ?", "bo@uni.edu"); n != 2 {
				t.Fatalf("users of bo@uni.edu across accounts: %d", n)
			}
			// A person the account already has (an admin) is linked only
			// by a token that links by email.
			sc.scimError(sc.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "admin@org.test"}), http.StatusConflict, "uniqueness", "emails")
			linker := scimClient{t: t, e: e, token: scimToken(t, e, e.APIKey, "Entra ID, linking", true)}
			linked := linker.must(linker.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "admin@org.test"}), http.StatusCreated)
			if n := count(t, e.DB, "user_identities", "issuer = ? AND subject = ? AND user_id = ?", provision.Issuer, linked["id"], e.Admin.ID); n != 1 {
				t.Fatalf("linked identity of the admin: %d", n)
			}
			if n := count(t, e.DB, "users", "account_id = ? AND email = ?", e.AccountID, "admin@org.test"); n != 1 {
				t.Fatalf("users of admin@org.test: %d", n)
			}
			// The library's own endpoints.
			spc := sc.must(sc.do("GET", "/ServiceProviderConfig", nil), http.StatusOK)
			if spc["patch"].(map[string]any)["supported"] != true || spc["filter"].(map[string]any)["supported"] != true ||
				spc["authenticationSchemes"].([]any)[0].(map[string]any)["type"] != "oauthbearertoken" {
				t.Fatalf("service provider config: %v", spc)
			}
			rt := sc.do("GET", "/ResourceTypes", nil)
			if sc.must(rt, http.StatusOK)["totalResults"] != float64(2) || !strings.Contains(string(rt.Body), `"endpoint":"/Users"`) || !strings.Contains(string(rt.Body), `"endpoint":"/Groups"`) {
				t.Fatalf("resource types: %s", rt.Body)
			}
			ss := sc.do("GET", "/Schemas", nil)
			if sc.must(ss, http.StatusOK); !strings.Contains(string(ss.Body), userSchema) || !strings.Contains(string(ss.Body), groupSchema) {
				t.Fatalf("schemas: %s", ss.Body)
			}
		})
	}
}

// Okta replaces a group whole (PUT): its name and exactly its members;
// a member in both lists keeps their row.
func TestSCIMReplaceGroup(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Dialect: d})
			ctx := context.Background()
			sc := scimClient{t: t, e: e, token: scimToken(t, e, e.APIKey, "Okta", false)}
			ids := map[string]string{}
			for _, n := range []string{"a", "b", "c"} {
				ids[n] = sc.must(sc.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": n + "@uni.edu"}), http.StatusCreated)["id"].(string)
			}
			members := func(ns ...string) []any {
				var out []any
				for _, n := range ns {
					out = append(out, map[string]any{"value": ids[n]})
				}
				return out
			}
			gid := sc.must(sc.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Crew", "members": members("a", "b")}), http.StatusCreated)["id"].(string)
			rowOf := func(email string) string {
				t.Helper()
				ms, err := group.Members(ctx, e.DB.R, gid, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ms {
					if m.Email == email {
						return m.ID
					}
				}
				return ""
			}
			bRow := rowOf("b@uni.edu")
			g := sc.must(sc.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{groupSchema}, "id": gid, "displayName": "Crew 2", "members": members("b", "c")}), http.StatusOK)
			if g["displayName"] != "Crew 2" || len(g["members"].([]any)) != 2 {
				t.Fatalf("replaced group: %v", g)
			}
			if got := memberRows(t, e.DB, gid); len(got) != 2 || got[0] != "b@uni.edu "+ids["b"] || got[1] != "c@uni.edu "+ids["c"] {
				t.Fatalf("members after PUT: %v", got)
			}
			if rowOf("b@uni.edu") != bRow {
				t.Fatal("a member in both lists got a new row")
			}
			if n := count(t, e.DB, "scim_group_members", "group_id = ?", gid); n != 2 {
				t.Fatalf("pushed memberships after PUT: %d", n)
			}
		})
	}
}
