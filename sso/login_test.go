package sso_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/connector"
)

// A console login through a provisioning connection found by the email's
// domain makes the person a console member with their identity, the
// asserted groups and a session; it goes to the return path asked for,
// and the connection records its last success.
func TestConsoleLoginProvisions(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		c := f.connection(t, nil, "uni.edu")
		key := f.start(t, sso.StartInput{Email: "Ann@UNI.edu", ReturnPath: "/console/events"})
		res, err := f.svc.Finish(ctx, "oidc", c.ID, callback(key, person("s-1", "ann@uni.edu", "staff", "admins")), testBrowser)
		if err != nil {
			t.Fatal(err)
		}
		if res.Purpose != sso.PurposeConsole || res.Console == nil || res.Console.Token == "" || res.ReturnPath != "/console/events" {
			t.Fatalf("result %+v", res)
		}
		u, err := user.ByEmail(ctx, db, f.account, "ann@uni.edu")
		if err != nil || u.ConsoleRole != user.RoleMember || u.FirstName != "Ann" {
			t.Fatalf("user %+v %v", u, err)
		}
		if _, _, err := f.events.Sessions.Authenticate(ctx, session.ScopeConsole, "", res.Console.Token); err != nil {
			t.Fatalf("the session does not sign in to the console: %v", err)
		}
		if n := count(t, db, "user_identities", "issuer = ? AND subject = ? AND user_id = ?", "https://idp.test", "s-1", u.ID); n != 1 {
			t.Fatalf("%d identities", n)
		}
		if n := count(t, db, "group_members", "email = ? AND group_id IN (SELECT id FROM groups WHERE source = ?)", u.Email, group.LoginSource(c.ID)); n != 2 {
			t.Fatalf("%d login memberships, want 2", n)
		}
		got, _ := f.svc.Get(ctx, f.account, c.ID)
		if got.LastLoginAt == nil || got.LastFailureAt != nil {
			t.Fatalf("status after a login: %+v", got.Connection)
		}
	})
}

// The groups of a later login replace the earlier login's, and never
// touch memberships another source made; the provider's new names follow.
func TestLoginGroupsAndNamesFollowTheProvider(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		c := f.connection(t, nil, "uni.edu")
		dir := group.Group{ID: id.New(), AccountID: f.account, Source: "ldap", ExternalID: "staff", Name: "staff"}
		if err := db.W.Create(&dir).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.W.Create(&group.Member{ID: id.New(), GroupID: dir.ID, Key: "email:ann@uni.edu", Email: "ann@uni.edu"}).Error; err != nil {
			t.Fatal(err)
		}
		login := func(p url.Values) {
			t.Helper()
			key := f.start(t, sso.StartInput{ConnectionID: c.ID})
			if _, err := f.svc.Finish(ctx, "oidc", c.ID, callback(key, p), testBrowser); err != nil {
				t.Fatal(err)
			}
		}
		login(person("s-1", "ann@uni.edu", "staff", "admins"))
		p := person("s-1", "ann@uni.edu", "teachers")
		p.Set("given_name", "Annie")
		login(p)
		var names []string
		db.R.Raw("SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.email = ? AND g.source = ? ORDER BY g.name",
			"ann@uni.edu", group.LoginSource(c.ID)).Scan(&names)
		if len(names) != 1 || names[0] != "teachers" {
			t.Fatalf("login groups after the second login: %v", names)
		}
		if n := count(t, db, "group_members", "group_id = ?", dir.ID); n != 1 {
			t.Fatal("a login removed a directory membership")
		}
		u, _ := user.ByEmail(ctx, db, f.account, "ann@uni.edu")
		if u.FirstName != "Annie" {
			t.Fatalf("first name %q, want the provider's new one", u.FirstName)
		}
	})
}

// Each refusal has its code, leaves no person behind, and is recorded as
// the connection's last failure: not provisioned, no console role, domain
// blocked, the provider's error, a used or expired sign-in, an unsolicited
// answer, an unknown connection.
func TestLoginRefusals(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		strict := f.connection(t, func(in *sso.Input) { in.JIT = ptr(false); in.Name = ptr("Strict") }, "strict.edu")
		open := f.connection(t, func(in *sso.Input) { in.Name = ptr("Open") }, "open.edu")
		finish := func(c *sso.View, key string, p url.Values) error {
			_, err := f.svc.Finish(ctx, "oidc", c.ID, callback(key, p), testBrowser)
			return err
		}
		key := f.start(t, sso.StartInput{Email: "bob@strict.edu"})
		if err := finish(strict, key, person("b", "bob@strict.edu")); code(err) != "sso_not_provisioned" {
			t.Fatalf("unknown person on a strict connection: %v", err)
		}
		if n := count(t, db, "users", "email = ?", "bob@strict.edu"); n != 0 {
			t.Fatal("a refused person was created")
		}
		got, _ := f.svc.Get(ctx, f.account, strict.ID)
		if got.LastFailureAt == nil || !contains(got.LastFailure, "sso_not_provisioned") || contains(got.LastFailure, "bob") {
			t.Fatalf("last failure %q", got.LastFailure)
		}

		if err := db.Tx(ctx, func(tx *store.Tx) error {
			_, err := user.Resolve(tx, user.Identity{AccountID: f.account, Email: "carl@strict.edu"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		key = f.start(t, sso.StartInput{Email: "carl@strict.edu"})
		if err := finish(strict, key, person("c", "carl@strict.edu")); code(err) != "identity_not_linked" {
			t.Fatalf("an invitee's email without linking: %v", err)
		}
		if _, err := f.svc.Update(ctx, f.account, f.admin, strict.ID, sso.Input{LinkByEmail: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		key = f.start(t, sso.StartInput{Email: "carl@strict.edu"})
		if err := finish(strict, key, person("c", "carl@strict.edu")); code(err) != "sso_no_console_access" {
			t.Fatalf("an invitee at the console of a strict connection: %v", err)
		}

		set := invite.DefaultSettings(f.account)
		set.BlockedDomains = []string{"open.edu"}
		if err := invite.SaveSettings(ctx, db, f.account, f.admin, set); err != nil {
			t.Fatal(err)
		}
		key = f.start(t, sso.StartInput{Email: "eve@open.edu"})
		if err := finish(open, key, person("e", "eve@open.edu")); !errors.Is(err, access.ErrDomainBlocked) {
			t.Fatalf("blocked domain: %v", err)
		}
		set.BlockedDomains = nil
		if err := invite.SaveSettings(ctx, db, f.account, f.admin, set); err != nil {
			t.Fatal(err)
		}

		key = f.start(t, sso.StartInput{ConnectionID: open.ID})
		p := person("e", "eve@open.edu")
		p.Set("error", "access_denied")
		if err := finish(open, key, p); !errors.Is(err, connector.ErrProvider) {
			t.Fatalf("provider error: %v", err)
		}
		got, _ = f.svc.Get(ctx, f.account, open.ID)
		if !contains(got.LastFailure, "sso_provider_error: the provider answered access_denied") {
			t.Fatalf("last failure %q", got.LastFailure)
		}

		key = f.start(t, sso.StartInput{ConnectionID: open.ID})
		if err := finish(open, key, person("e", "eve@open.edu")); err != nil {
			t.Fatal(err)
		}
		if err := finish(open, key, person("e", "eve@open.edu")); code(err) != "sso_request_unknown" {
			t.Fatalf("a used sign-in: %v", err)
		}
		key = f.start(t, sso.StartInput{ConnectionID: open.ID})
		f.advance(11 * time.Minute)
		if err := finish(open, key, person("e", "eve@open.edu")); code(err) != "sso_expired" {
			t.Fatalf("an expired sign-in: %v", err)
		}
		if err := finish(open, "", person("e", "eve@open.edu")); code(err) != "sso_unsolicited" {
			t.Fatalf("an unsolicited answer: %v", err)
		}
		key = f.start(t, sso.StartInput{ConnectionID: open.ID})
		if err := finish(strict, key, person("e", "eve@open.edu")); code(err) != "sso_request_unknown" {
			t.Fatalf("another connection's sign-in: %v", err)
		}
		if _, err := f.svc.Finish(ctx, "saml", open.ID, callback(key, person("e", "eve@open.edu")), testBrowser); code(err) != "sso_unknown_connection" {
			t.Fatalf("the connection under another type's route: %v", err)
		}
		if _, err := f.svc.Start(ctx, sso.StartInput{Email: "x@nowhere.test"}); code(err) != "sso_no_connection" {
			t.Fatalf("no connection for the domain: %v", err)
		}
		p = person("e", "")
		key = f.start(t, sso.StartInput{ConnectionID: open.ID})
		if err := finish(open, key, p); code(err) != "sso_no_email" {
			t.Fatalf("no email: %v", err)
		}
	})
}

// An event login signs the person in to the event's site (status "SSO
// login") and goes back to the event page; an event that does not sign in
// by SSO is refused at the start.
func TestEventLogin(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		c := f.connection(t, nil, "uni.edu")
		caller := event.Caller{AccountID: f.account, Actor: f.admin}
		start := f.now.Add(48 * time.Hour)
		ev, err := f.events.CreateEvent(ctx, caller, event.EventInput{Name: "Summit", StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC", LoginMethod: event.LoginSSO})
		if err != nil {
			t.Fatal(err)
		}
		key := f.start(t, sso.StartInput{Email: "ann@uni.edu", Purpose: sso.PurposeEvent, EventID: ev.ID, ReturnPath: "//evil.test"})
		res, err := f.svc.Finish(ctx, "oidc", c.ID, callback(key, person("s-1", "ann@uni.edu", "staff")), testBrowser)
		if err != nil {
			t.Fatal(err)
		}
		if res.Event == nil || res.Event.Attendee.Status != event.SSOLogin || res.ReturnPath != "/e/"+ev.Slug {
			t.Fatalf("event login %+v", res)
		}
		// A sign-in the event refuses (invitation only, and the person is
		// not invited) records nothing of the login: neither the person
		// nor their groups.
		closed, err := f.events.CreateEvent(ctx, caller, event.EventInput{Name: "Board", StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC",
			LoginMethod: event.LoginSSO, Registration: event.RegistrationInviteOnly})
		if err != nil {
			t.Fatal(err)
		}
		key = f.start(t, sso.StartInput{Email: "bob@uni.edu", Purpose: sso.PurposeEvent, EventID: closed.ID})
		if _, err := f.svc.Finish(ctx, "oidc", c.ID, callback(key, person("s-2", "bob@uni.edu", "board")), testBrowser); err == nil {
			t.Fatal("an uninvited person signed in to an invitation-only event")
		}
		if n := count(t, db, "group_members", "email = ?", "bob@uni.edu"); n != 0 {
			t.Fatalf("a refused event sign-in recorded %d group memberships", n)
		}
		if n := count(t, db, "users", "email = ?", "bob@uni.edu"); n != 0 {
			t.Fatal("a refused event sign-in created its person")
		}
		magic, err := f.events.CreateEvent(ctx, caller, event.EventInput{Name: "Open day", StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Start(ctx, sso.StartInput{Email: "ann@uni.edu", Purpose: sso.PurposeEvent, EventID: magic.ID}); code(err) != "sso_event_not_sso" {
			t.Fatalf("an event without SSO: %v", err)
		}
		if _, err := f.svc.Start(ctx, sso.StartInput{Email: "ann@uni.edu", Purpose: "party"}); code(err) != "invalid" {
			t.Fatalf("a bad purpose: %v", err)
		}
	})
}

// Fifty first logins of one new person at once make one user and one
// identity, and every one of them signs in.
func TestParallelFirstLogins(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		c := f.connection(t, nil, "uni.edu")
		const n = 50
		keys := make([]string, n)
		for i := range keys {
			keys[i] = f.start(t, sso.StartInput{ConnectionID: c.ID})
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.Finish(ctx, "oidc", c.ID, callback(keys[i], person("new-1", "new@uni.edu", "staff")), testBrowser)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("login %d: %v", i, err)
			}
		}
		if u := count(t, db, "users", "email = ?", "new@uni.edu"); u != 1 {
			t.Fatalf("%d users", u)
		}
		if i := count(t, db, "user_identities", "subject = ?", "new-1"); i != 1 {
			t.Fatalf("%d identities", i)
		}
		if s := count(t, db, "sessions", "method = ?", session.MethodConsoleSSO); s != n {
			t.Fatalf("%d sessions, want %d", s, n)
		}
	})
}

// An answer no login of ours asked for, accepted by a connector that
// allows it (IdP-initiated SAML), signs in to the console; its RelayState
// is the IdP's, not a login key: a path of this gateway is where the
// person lands, anything else lands on the console.
func TestUnsolicitedLoginLandsOnItsRelayStatePath(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		c := f.connection(t, nil, "uni.edu")
		var sawRequest bool
		f.b.Finish = func(_ context.Context, req *connector.Request, r *http.Request) (*connector.Assertion, error) {
			sawRequest = req != nil
			return &connector.Assertion{Issuer: "https://idp.test", Subject: "s-9", EmailVerified: true,
				Attributes: map[string][]string{"email": {"ida@uni.edu"}}, Expires: f.clock().Add(time.Minute)}, nil
		}
		defer func() { f.b.Finish = nil }()
		for _, tc := range []struct{ relay, want string }{
			{"/console/settings", "/console/settings"},
			{"https://portal.uni.edu/apps", "/console"},
			{"//evil.test/x", "/console"},
			{"", "/console"},
		} {
			res, err := f.svc.Finish(ctx, "oidc", c.ID, callback(tc.relay, url.Values{}), testBrowser)
			if err != nil || sawRequest || res.Purpose != sso.PurposeConsole || res.ReturnPath != tc.want {
				t.Fatalf("relay %q: %+v %v (a request: %v), want a console sign-in landing on %s", tc.relay, res, err, sawRequest, tc.want)
			}
		}
	})
}
