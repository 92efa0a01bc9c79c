package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

// Fifty first sign-ins of one new person at once, each its own login in
// flight answered by the real IdP, posted to the real ACS together: every
// one signs in, and the account gets one user, one identity and the
// person's groups once.
func TestSAMLParallelFirstLogins(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			idp := samlIDP(t)
			e := ssoRealEnv(t, d)
			id := samlConnection(e, idp, nil, nil)
			const n = 50
			answers := make([]*samltest.Page, n)
			browsers := make([]*http.Client, n)
			for i := range answers {
				browsers[i] = e.Client()
				answers[i] = samlLogin(e, browsers[i], idp, url.Values{"email": {samlEmail}})
			}
			seen := map[string]bool{}
			for _, a := range answers {
				seen[a.Fields.Get("SAMLResponse")] = true
			}
			if len(seen) != n {
				t.Fatalf("%d distinct responses for %d logins", len(seen), n)
			}
			statuses := make([]int, n)
			locations := make([]string, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, a := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					req, _ := http.NewRequest(http.MethodPost, a.Action, strings.NewReader(a.Fields.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					resp, err := browsers[i].Do(req)
					if err != nil {
						locations[i] = err.Error()
						return
					}
					resp.Body.Close()
					statuses[i], locations[i] = resp.StatusCode, resp.Header.Get("Location")
				}()
			}
			close(start)
			wg.Wait()
			for i := range statuses {
				if statuses[i] != http.StatusSeeOther || locations[i] != "/console" {
					t.Fatalf("sign-in %d answered %d %q, want 303 to /console", i, statuses[i], locations[i])
				}
			}
			for _, tc := range []struct {
				what  string
				table string
				where string
				args  []any
				want  int64
			}{
				{"users", "users", "account_id = ? AND email = ?", []any{e.AccountID, samlEmail}, 1},
				{"identities", "user_identities", "account_id = ? AND issuer = ? AND subject = ?", []any{e.AccountID, idp.EntityID(), samlEmail}, 1},
				{"console sessions", "sessions", "method = ?", []any{session.MethodConsoleSSO}, n},
				{"login memberships", "group_members", "email = ? AND group_id IN (SELECT id FROM groups WHERE source = ?)", []any{samlEmail, group.LoginSource(id)}, int64(len(samlGroups))},
			} {
				var got int64
				if err := e.DB.R.Table(tc.table).Where(tc.where, tc.args...).Count(&got).Error; err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("%d %s, want %d", got, tc.what, tc.want)
				}
			}
		})
	}
}
