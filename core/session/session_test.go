package session_test

import (
	"context"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/token"
)

// A session signs in to its own scope only, with its whole token: a
// resource session's id with another secret, its secret alone, or its
// token offered for the console or another resource, sign in to nothing.
func TestSessionsSignInToTheirScopeOnly(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boot, err := account.EnsureFirst(ctx, db, "Acme", "admin@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		ss, err := session.New(ctx, db, session.Options{})
		if err != nil {
			t.Fatal(err)
		}
		open := func(how session.How) *session.Opened {
			var o *session.Opened
			if err := db.Tx(ctx, func(tx *store.Tx) (err error) {
				o, err = ss.Open(tx, boot.Account.ID, boot.Admin.ID, how)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return o
		}
		room := open(session.How{Method: session.MethodInviteLink, Scope: session.ScopeResource, ScopeID: "0190aaaa-0000-7000-8000-0000000000a1"})
		console := open(session.How{Method: session.MethodConsoleLink, Scope: session.ScopeConsole})
		sid, secret, _ := strings.Cut(room.Token, ".")
		other, _ := token.New()
		for _, tc := range []struct {
			name, scope, scopeID, tok string
			ok                        bool
		}{
			{"the room's session", session.ScopeResource, "0190aaaa-0000-7000-8000-0000000000a1", room.Token, true},
			{"any resource's page", session.ScopeResource, "", room.Token, true},
			{"another resource", session.ScopeResource, "0190aaaa-0000-7000-8000-0000000000a2", room.Token, false},
			{"its id with another secret", session.ScopeResource, "", sid + "." + other, false},
			{"its secret alone", session.ScopeResource, "", secret, false},
			{"the room's token for the console", session.ScopeConsole, "", room.Token, false},
			{"the room's secret for the console", session.ScopeConsole, "", secret, false},
			{"the console's session", session.ScopeConsole, "", console.Token, true},
			{"the console's token for a resource", session.ScopeResource, "", console.Token, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sess, u, err := ss.Authenticate(ctx, tc.scope, tc.scopeID, tc.tok)
				if (err == nil) != tc.ok || tc.ok && sess.UserID != boot.Admin.ID {
					t.Fatalf("signed in: %v (err %v), want %v", err == nil, err, tc.ok)
				}
				// Only a console session comes with its user, checked for
				// a console role.
				if tc.ok && (tc.scope == session.ScopeConsole) != (u != nil) {
					t.Fatalf("user %+v for a %s session", u, tc.scope)
				}
			})
		}
	})
}
