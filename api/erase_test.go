package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
)

// The admin sees what deleting a person reaches before anything goes, then
// deletes; members, other accounts and bad parameters are refused.
func TestEraseUser(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { testEraseUser(t, d) })
	}
}

func testEraseUser(t *testing.T, dialect string) {
	e := apitest.New(t, apitest.Options{Dialect: dialect})
	room := e.Resource(map[string]any{"type": "room", "title": "Seminar", "chat_collaboration": true})
	e.Invite(room, "ada@example.org", "speaker")
	students := e.DirectoryGroup("Seminar students", "ada@example.org", "bob@example.org")
	var found struct {
		Users []struct{ ID, Email string } `json:"users"`
	}
	e.Must(e.Do("GET", "/api/v1/users?q=ada@example.org", e.APIKey, nil), http.StatusOK).JSON(t, &found)
	if len(found.Users) != 1 {
		t.Fatalf("users = %+v", found.Users)
	}
	ada := "/api/v1/users/" + found.Users[0].ID

	member, memberClient := e.ConsoleUser("member@org.test", "member")
	_ = member
	req, _ := http.NewRequest("DELETE", e.URL+ada+"?dry_run=true", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if r := e.Send(memberClient, req); r.Status != http.StatusForbidden {
		t.Errorf("member erasing: %d %s, want 403", r.Status, r.Body)
	}
	_, otherKey := e.SecondAccount()
	if r := e.Do("DELETE", ada, otherKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("other account erasing: %d %s, want 404", r.Status, r.Body)
	}
	if r := e.Do("DELETE", ada+"?dry_run=maybe", e.APIKey, nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "dry_run") {
		t.Errorf("bad dry_run: %d %s, want 400 naming dry_run", r.Status, r.Body)
	}

	var out struct {
		DryRun bool `json:"dry_run"`
		Erased bool `json:"erased"`
		Impact struct {
			Email    string `json:"email"`
			Accounts []struct {
				AccountName string `json:"account_name"`
				Invitations int    `json:"invitations"`
				Groups      int    `json:"groups"`
			} `json:"accounts"`
		} `json:"impact"`
	}
	e.Must(e.Do("DELETE", ada+"?dry_run=true", e.APIKey, nil), http.StatusOK).JSON(t, &out)
	if !out.DryRun || out.Erased || out.Impact.Email != "ada@example.org" || len(out.Impact.Accounts) != 1 ||
		out.Impact.Accounts[0].Invitations != 1 || out.Impact.Accounts[0].Groups != 1 {
		t.Fatalf("dry run = %+v", out)
	}
	inv := e.Must(e.Do("GET", "/api/v1/resources/"+room+"/invitations", e.APIKey, nil), http.StatusOK)
	if !strings.Contains(string(inv.Body), "ada@example.org") {
		t.Fatal("the dry run removed the invitation")
	}
	if got := memberEmails(t, e, students); got != "ada@example.org bob@example.org" {
		t.Fatalf("the dry run changed the group: %s", got)
	}

	e.Must(e.Do("DELETE", ada, e.APIKey, nil), http.StatusOK).JSON(t, &out)
	if out.DryRun || !out.Erased {
		t.Fatalf("erase = %+v", out)
	}
	inv = e.Must(e.Do("GET", "/api/v1/resources/"+room+"/invitations", e.APIKey, nil), http.StatusOK)
	if strings.Contains(string(inv.Body), "ada@example.org") {
		t.Errorf("the invitation to the erased person is still listed: %s", inv.Body)
	}
	if got := memberEmails(t, e, students); got != "bob@example.org" {
		t.Errorf("group members after erasing Ada: %s, want Bob only", got)
	}
	if r := e.Do("DELETE", ada, e.APIKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("erasing again: %d, want 404", r.Status)
	}
	audit := e.Must(e.Do("GET", "/api/v1/audit", e.APIKey, nil), http.StatusOK)
	if !strings.Contains(string(audit.Body), "user.erased") || strings.Contains(string(audit.Body), "ada@example.org") {
		t.Errorf("audit log after erasure: %s", audit.Body)
	}
}

// memberEmails lists a group's members, as the database holds them.
func memberEmails(t *testing.T, e *apitest.Env, groupID string) string {
	t.Helper()
	ms, err := group.Members(context.Background(), e.DB.R, groupID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Email)
	}
	return strings.Join(out, " ")
}
