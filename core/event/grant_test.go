package event_test

import (
	"context"
	"errors"
	"testing"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

// directory syncs one group of a source with the emails as members and
// returns its id.
func directory(t *testing.T, db *store.DB, accountID, name string, emails ...string) string {
	t.Helper()
	ctx := context.Background()
	_, err := group.Apply(ctx, db, accountID, name, []group.SourceGroup{{ExternalID: name, Name: name}}, func(emit func(group.SourceMember) error) error {
		for _, e := range emails {
			if err := emit(group.SourceMember{GroupExternalID: name, Email: e}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := group.Search(ctx, db.R, accountID, group.Query{Source: name}, 1, 1)
	if err != nil || len(p.Rows) != 1 {
		t.Fatalf("group %s: %v %v", name, p, err)
	}
	return p.Rows[0].ID
}

// Grant and Revoke, the Event access tab's list with its filters, search,
// pages and banner count, and their audit entries.
func TestGrants(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Closed = true })
		staff := directory(t, db, ev.AccountID, "Staff", "ann@uni.edu", "bob@uni.edu")
		students := directory(t, db, ev.AccountID, "Students", "cy@uni.edu")
		directory(t, db, ev.AccountID, "Alumni")
		a, err := f.svc.Grant(ctx, f.caller, ev.ID, staff)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Granted || a.Name != "Staff" || a.Size != 2 || a.GrantedAt == nil || a.GrantedBy != "k" || a.Provenance != group.ProvenanceSync {
			t.Fatalf("granted %+v", a)
		}
		if _, err := f.svc.Grant(ctx, f.caller, ev.ID, staff); err != nil {
			t.Fatalf("granting again: %v", err)
		}
		if _, err := f.svc.Grant(ctx, f.caller, ev.ID, students); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Grant(ctx, f.caller, ev.ID, "7d0c4f5e-0000-4000-8000-000000000000"); !errors.Is(err, group.ErrNotFound) {
			t.Fatalf("unknown group: %v", err)
		}
		other := f.event(t, nil)
		list := func(ev *event.Event, q event.GrantQuery) (names []string, total, granted int64) {
			t.Helper()
			p, err := f.svc.Grants(ctx, f.caller, ev.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range p.Items {
				g := "-"
				if it.Granted {
					g = "+"
				}
				names = append(names, g+it.Name)
			}
			return names, p.Total, p.Granted
		}
		if n, total, granted := list(ev, event.GrantQuery{}); total != 3 || granted != 2 || len(n) != 3 || n[0] != "-Alumni" || n[1] != "+Staff" || n[2] != "+Students" {
			t.Fatalf("all = %v (%d, %d granted)", n, total, granted)
		}
		if n, total, _ := list(ev, event.GrantQuery{Filter: event.GrantsGranted, PerPage: 1, Page: 2}); total != 2 || len(n) != 1 || n[0] != "+Students" {
			t.Fatalf("granted, page 2 of 1 = %v (%d)", n, total)
		}
		if n, total, _ := list(ev, event.GrantQuery{Filter: event.GrantsNotGranted}); total != 1 || n[0] != "-Alumni" {
			t.Fatalf("not granted = %v (%d)", n, total)
		}
		if n, total, _ := list(ev, event.GrantQuery{Search: "stu"}); total != 1 || n[0] != "+Students" {
			t.Fatalf("search = %v (%d)", n, total)
		}
		if n, _, granted := list(other, event.GrantQuery{}); granted != 0 || n[1] != "-Staff" {
			t.Fatalf("another event = %v (%d granted)", n, granted)
		}
		if _, err := f.svc.Grants(ctx, f.caller, ev.ID, event.GrantQuery{Filter: "some"}); code(err) != "invalid" {
			t.Fatalf("bad filter: %v", err)
		}
		if err := f.svc.Revoke(ctx, f.caller, ev.ID, students); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Revoke(ctx, f.caller, ev.ID, students); err != nil {
			t.Fatalf("revoking again: %v", err)
		}
		if g, err := f.svc.GroupAccessOf(ctx, f.caller, ev.ID, students); err != nil || g.Granted || g.GrantedAt != nil {
			t.Fatalf("after revoke: %+v %v", g, err)
		}
		if _, total, granted := list(ev, event.GrantQuery{Filter: event.GrantsGranted}); total != 1 || granted != 1 {
			t.Fatalf("granted after revoke: %d, %d", total, granted)
		}
		entries, _ := audit.List(ctx, db, ev.AccountID, 50)
		counts := map[string]int{}
		for _, e := range entries {
			counts[e.Action]++
		}
		if counts["event.access_granted"] != 2 || counts["event.access_revoked"] != 1 {
			t.Fatalf("audit = %v: want one entry per grant and revoke that changed something", counts)
		}
	})
}

// Entering a closed event: a granted group's member enters, others do not;
// revoking the grant, or the member leaving the group at the next sync,
// ends their session at its next request; a person on the list enters only
// with additional users on.
func TestClosedEventEntry(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, _ := mailFixture(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Closed = true; in.AdditionalUsers = ptr(false) })
		a := f.seed(t, ev, event.State{Status: event.Registered, Detail: event.DetailRegistered}, false)
		email := string(a.Email)
		staff := directory(t, db, ev.AccountID, "Staff", email, "other@uni.edu")
		signIn := func() (*event.SignIn, error) {
			l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return f.svc.SignInWithLink(ctx, tokenOf(t, l.URL))
		}
		if _, err := signIn(); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("before the grant: %v", err)
		}
		if _, err := f.svc.Grant(ctx, f.caller, ev.ID, staff); err != nil {
			t.Fatal(err)
		}
		in, err := signIn()
		if err != nil {
			t.Fatalf("a granted group's member: %v", err)
		}
		if _, _, err := f.svc.Authenticate(ctx, ev, in.Token); err != nil {
			t.Fatalf("next request: %v", err)
		}
		if err := f.svc.Revoke(ctx, f.caller, ev.ID, staff); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Authenticate(ctx, ev, in.Token); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("after the grant was revoked: %v", err)
		}
		// With additional users on, being on the list is enough.
		if _, err := f.svc.UpdateEvent(ctx, f.caller, ev.ID, event.EventPatch{AdditionalUsers: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		ev, _ = event.GetEvent(ctx, db, ev.AccountID, ev.ID)
		if _, _, err := f.svc.Authenticate(ctx, ev, in.Token); err != nil {
			t.Fatalf("listed, additional users on: %v", err)
		}
		if _, err := f.svc.UpdateEvent(ctx, f.caller, ev.ID, event.EventPatch{AdditionalUsers: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		ev, _ = event.GetEvent(ctx, db, ev.AccountID, ev.ID)
		if _, err := f.svc.Grant(ctx, f.caller, ev.ID, staff); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Authenticate(ctx, ev, in.Token); err != nil {
			t.Fatalf("granted again: %v", err)
		}
		// The next sync no longer lists them.
		directory(t, db, ev.AccountID, "Staff", "other@uni.edu")
		if _, _, err := f.svc.Authenticate(ctx, ev, in.Token); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("after leaving the group: %v", err)
		}
	})
}

// Additional users off: inviting and registering someone outside the
// granted groups is refused, saying why; a member is invited. On: anyone.
func TestAdditionalUsers(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, _ := mailFixture(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Closed = true; in.AdditionalUsers = ptr(false) })
		staff := directory(t, db, ev.AccountID, "Staff", "ann@uni.edu", "reg@uni.edu")
		if _, err := f.svc.Grant(ctx, f.caller, ev.ID, staff); err != nil {
			t.Fatal(err)
		}
		invite := func(email string) error {
			_, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: email, Profile: event.Profile{FirstName: "A", LastName: "B"}})
			return err
		}
		err := invite("eve@else.org")
		if !errors.Is(err, access.ErrNotInGrantedGroup) || code(err) != "not_in_granted_group" {
			t.Fatalf("outsider invited: %v", err)
		}
		if rows(t, db, &event.Attendee{}, "email = ?", "eve@else.org") != 0 {
			t.Fatal("the refused invitation left an attendee")
		}
		if err := invite("Ann@uni.edu"); err != nil {
			t.Fatalf("member invited: %v", err)
		}
		if _, err := f.svc.Register(ctx, ev.ID, event.Identity{Email: "mallory@else.org", FirstName: "M", LastName: "X"}); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("outsider registered: %v", err)
		}
		if _, err := f.svc.SiteRegister(ctx, ev, event.Identity{Email: "mallory@else.org", FirstName: "M", LastName: "X"}); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("outsider registered on the site: %v", err)
		}
		if _, err := f.svc.Register(ctx, ev.ID, event.Identity{Email: "reg@uni.edu", FirstName: "R", LastName: "G"}); err != nil {
			t.Fatalf("member registered: %v", err)
		}
		refused, err := f.svc.InviteRefusals(ctx, db, ev, []string{"ann@uni.edu", "eve@else.org", "reg@uni.edu"})
		if err != nil || len(refused) != 1 || !errors.Is(refused["eve@else.org"], access.ErrNotInGrantedGroup) {
			t.Fatalf("refusals of a batch = %v, %v", refused, err)
		}

		if _, err := f.svc.UpdateEvent(ctx, f.caller, ev.ID, event.EventPatch{AdditionalUsers: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		ev, _ = event.GetEvent(ctx, db, ev.AccountID, ev.ID)
		if err := invite("eve@else.org"); err != nil {
			t.Fatalf("outsider with additional users on: %v", err)
		}
		if _, err := f.svc.Register(ctx, ev.ID, event.Identity{Email: "mallory@else.org", FirstName: "M", LastName: "X"}); err != nil {
			t.Fatalf("outsider registering with additional users on: %v", err)
		}
		if refused, err := f.svc.InviteRefusals(ctx, db, ev, []string{"zed@else.org"}); err != nil || len(refused) != 0 {
			t.Fatalf("refusals with additional users on = %v, %v", refused, err)
		}
	})
}

// An SSO sign-in to a closed event without additional users: the groups
// the identity provider asserts at that login count at once.
func TestSSOSignInToClosedEvent(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, func(in *event.EventInput) {
			in.LoginMethod, in.Closed, in.AdditionalUsers = event.LoginSSO, true, ptr(false)
		})
		asserted := func(groups ...string) func(tx *store.Tx) error {
			return func(tx *store.Tx) error {
				return group.RecordLogin(tx, ev.AccountID, "conn-1", "ann@uni.edu", "Ann", groups)
			}
		}
		id := user.Identity{Issuer: "https://idp.test", Subject: "ann", Email: "ann@uni.edu", FirstName: "Ann"}
		if _, err := f.svc.SignInSSO(ctx, ev.ID, id, asserted("Faculty")); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("no group granted yet: %v", err)
		}
		p, err := group.Search(ctx, db.R, ev.AccountID, group.Query{Provenance: group.ProvenanceLogin}, 1, 10)
		if err != nil || len(p.Rows) != 0 {
			t.Fatalf("a refused sign-in kept its groups: %+v %v", p, err)
		}
		// The group appears once a login that commits asserts it (here one
		// recorded directly); then it can be granted.
		if err := db.Tx(ctx, asserted("Faculty")); err != nil {
			t.Fatal(err)
		}
		p, _ = group.Search(ctx, db.R, ev.AccountID, group.Query{Provenance: group.ProvenanceLogin}, 1, 10)
		if _, err := f.svc.Grant(ctx, f.caller, ev.ID, p.Rows[0].ID); err != nil {
			t.Fatal(err)
		}
		in, err := f.svc.SignInSSO(ctx, ev.ID, id, asserted("Faculty"))
		if err != nil || in.Attendee.Status != event.SSOLogin {
			t.Fatalf("granted group asserted: %+v %v", in, err)
		}
		// The next login no longer asserts it: refused.
		if _, err := f.svc.SignInSSO(ctx, ev.ID, id, asserted()); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("group no longer asserted: %v", err)
		}
	})
}
