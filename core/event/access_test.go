package event_test

import (
	"context"
	"errors"
	"testing"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

func rows(t *testing.T, db *store.DB, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.R.Model(model).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// An SSO sign-in is one transaction: the identity, its user, the attendee,
// the session and the sign-in record all exist, or, when access refuses the
// person, none of them does.
func TestSSOSignInIsOneTransaction(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.LoginMethod = event.LoginSSO })
		set := invite.DefaultSettings(f.caller.AccountID)
		set.BlockedDomains = []string{"blocked.test"}
		if err := invite.SaveSettings(ctx, db, f.caller.AccountID, f.caller.Actor, set); err != nil {
			t.Fatal(err)
		}
		in, err := f.svc.SignInSSO(ctx, ev.ID, user.Identity{Issuer: "https://idp.test", Subject: "u1", Email: "ann@uni.edu", FirstName: "Ann"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if in.Attendee.Status != event.SSOLogin || in.Session.Method != event.LoginSSO || in.Token == "" {
			t.Fatalf("sign-in %+v, session %+v", in.Attendee, in.Session)
		}
		if rows(t, db, &user.UserIdentity{}, "subject = ?", "u1") != 1 || rows(t, db, &event.Login{}, "attendee_id = ?", in.Attendee.ID) != 1 {
			t.Fatal("the identity or the sign-in record is missing")
		}
		_, err = f.svc.SignInSSO(ctx, ev.ID, user.Identity{Issuer: "https://idp.test", Subject: "u2", Email: "eve@blocked.test"}, nil)
		if !errors.Is(err, access.ErrDomainBlocked) {
			t.Fatalf("blocked domain: %v", err)
		}
		for _, tc := range []struct {
			model any
			where string
		}{{&user.User{}, "email = 'eve@blocked.test'"}, {&user.UserIdentity{}, "subject = 'u2'"}, {&event.Attendee{}, "email = 'eve@blocked.test'"}} {
			if n := rows(t, db, tc.model, tc.where); n != 0 {
				t.Fatalf("a refused sign-in left %d rows of %T", n, tc.model)
			}
		}
	})
}

// A closed event admits the people on its list only while additional
// users are allowed (no group is granted here); a stored domain policy
// that cannot be read refuses everyone, with its cause, until it is saved
// again.
func TestEventSiteEntryIsDecidedByAccess(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, _ := mailFixture(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Closed = true; in.AdditionalUsers = ptr(false) })
		a := f.seed(t, ev, event.State{Status: event.Registered, Detail: event.DetailRegistered}, false)
		l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SignInWithLink(ctx, tokenOf(t, l.URL)); !errors.Is(err, access.ErrNotGranted) {
			t.Fatalf("closed event without additional users: %v", err)
		}
		if _, err := f.svc.UpdateEvent(ctx, f.caller, ev.ID, event.EventPatch{AdditionalUsers: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if err := db.W.Exec("INSERT INTO access_policies (account_id, blocked_domains, allowed_domains, updated_at) VALUES (?, ?, ?, ?)",
			ev.AccountID, "not a list", "[]", f.start).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SignInWithLink(ctx, tokenOf(t, l.URL)); !errors.Is(err, access.ErrPolicyUnreadable) {
			t.Fatalf("corrupt policy: %v", err)
		}
		if err := db.W.Exec("UPDATE access_policies SET blocked_domains = '[]' WHERE account_id = ?", ev.AccountID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SignInWithLink(ctx, tokenOf(t, l.URL)); err != nil {
			t.Fatalf("listed attendee of a closed event with additional users: %v", err)
		}
	})
}
