package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
)

// The admin sees what deleting a person reaches before anything goes, then
// deletes; members, other accounts and bad parameters are refused.
func TestEraseUser(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	room := e.Resource(map[string]any{"type": "room", "title": "Seminar", "chat_collaboration": true})
	e.Invite(room, "ada@example.org", "speaker")
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
			} `json:"accounts"`
		} `json:"impact"`
	}
	e.Must(e.Do("DELETE", ada+"?dry_run=true", e.APIKey, nil), http.StatusOK).JSON(t, &out)
	if !out.DryRun || out.Erased || out.Impact.Email != "ada@example.org" || len(out.Impact.Accounts) != 1 || out.Impact.Accounts[0].Invitations != 1 {
		t.Fatalf("dry run = %+v", out)
	}
	inv := e.Must(e.Do("GET", "/api/v1/resources/"+room+"/invitations", e.APIKey, nil), http.StatusOK)
	if !strings.Contains(string(inv.Body), "ada@example.org") {
		t.Fatal("the dry run removed the invitation")
	}

	e.Must(e.Do("DELETE", ada, e.APIKey, nil), http.StatusOK).JSON(t, &out)
	if out.DryRun || !out.Erased {
		t.Fatalf("erase = %+v", out)
	}
	inv = e.Must(e.Do("GET", "/api/v1/resources/"+room+"/invitations", e.APIKey, nil), http.StatusOK)
	if strings.Contains(string(inv.Body), "ada@example.org") {
		t.Errorf("the invitation to the erased person is still listed: %s", inv.Body)
	}
	if r := e.Do("DELETE", ada, e.APIKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("erasing again: %d, want 404", r.Status)
	}
	audit := e.Must(e.Do("GET", "/api/v1/audit", e.APIKey, nil), http.StatusOK)
	if !strings.Contains(string(audit.Body), "user.erased") || strings.Contains(string(audit.Body), "ada@example.org") {
		t.Errorf("audit log after erasure: %s", audit.Body)
	}
}
