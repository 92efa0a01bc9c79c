package access_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
)

func policy(blocked, allowed string) access.Policy {
	return access.ParsePolicy("acc", true, blocked, allowed)
}

// Every reason Decide gives, and the decisions that let people in.
func TestDecide(t *testing.T) {
	room := access.Target{Kind: access.Resource, AccountID: "acc"}
	with := func(t access.Target, f func(*access.Target)) access.Target { f(&t); return t }
	guest := access.Subject{AccountID: "acc", Email: "gia@guest.test", Role: "speaker", Wants: access.Enter}
	member := func(role string, wants access.Intent) access.Subject {
		return access.Subject{AccountID: "acc", Email: "m@org.test", Collaborator: role, Wants: wants}
	}
	admin := access.Subject{AccountID: "acc", Admin: true, Wants: access.Manage}
	event := access.Target{Kind: access.Event, AccountID: "acc"}
	closed := with(event, func(t *access.Target) { t.Closed, t.Granted = true, []string{"g1"} })
	attendee := func(p access.Place, wants access.Intent, groups ...string) access.Subject {
		return access.Subject{AccountID: "acc", Email: "ann@uni.edu", Place: p, Groups: groups, Wants: wants}
	}
	for _, tc := range []struct {
		name     string
		who      access.Subject
		what     access.Target
		want     error // nil: allowed
		role     string
		unusable bool // Decide's error is set: the rule could not be applied
	}{
		{name: "guest enters", who: guest, what: room, role: "speaker"},
		{name: "another account's resource", who: guest, what: with(room, func(t *access.Target) { t.AccountID = "other" }), want: problem.ErrNotFound},
		{name: "deleted resource", who: guest, what: with(room, func(t *access.Target) { t.Deleted = true }), want: access.ErrResourceGone},
		{name: "module off", who: guest, what: with(room, func(t *access.Target) { t.ModuleOff = true }), want: access.ErrModuleOff},
		{name: "room chat off", who: guest, what: with(room, func(t *access.Target) { t.ChatOff = true }), want: access.ErrChatOffEnter},
		{name: "domain blocked", who: guest, what: with(room, func(t *access.Target) { t.Policy = policy(`["guest.test"]`, `[]`) }), want: access.ErrDomainBlocked},
		{name: "domain not allowed", who: guest, what: with(room, func(t *access.Target) { t.Policy = policy(`[]`, `["*.uni.edu"]`) }), want: access.ErrDomainBlocked},
		{name: "domain allowed", who: guest, what: with(room, func(t *access.Target) { t.Policy = policy(`[]`, `["guest.test"]`) }), role: "speaker"},
		{name: "corrupt policy fails closed", who: guest, what: with(room, func(t *access.Target) { t.Policy = policy(`{not json`, `[]`) }), want: access.ErrPolicyUnreadable, unusable: true},
		{name: "member sees their resource", who: member(resource.CoEditor, access.View), what: room, role: resource.CoEditor},
		{name: "non-collaborator sees nothing", who: member("", access.View), what: room, want: problem.ErrNotFound},
		{name: "non-collaborator cannot invite: not found", who: member("", access.Invite), what: room, want: problem.ErrNotFound},
		{name: "co-publisher invites", who: member(resource.CoPublisher, access.Invite), what: room, role: resource.CoPublisher},
		{name: "invite with module off", who: member(resource.Owner, access.Invite), what: with(room, func(t *access.Target) { t.ModuleOff = true }), want: access.ErrModuleOff},
		{name: "invite to a room with chat off", who: member(resource.Owner, access.Invite), what: with(room, func(t *access.Target) { t.ChatOff = true }), want: access.ErrChatOffInvite},
		{name: "co-editor may not manage", who: member(resource.CoEditor, access.Manage), what: room, want: access.ErrOwnerOnly},
		{name: "co-owner manages", who: member(resource.CoOwner, access.Manage), what: room, role: resource.CoOwner},
		{name: "admin manages anything", who: admin, what: room, role: "admin"},
		{name: "deleted resource in the console", who: admin, what: with(room, func(t *access.Target) { t.Deleted = true }), want: problem.ErrNotFound},
		{name: "attendee enters the event", who: attendee(access.Listed, access.Enter), what: event},
		{name: "blocked attendee", who: attendee(access.Blocked, access.Enter), what: event, want: access.ErrBlocked},
		{name: "blocked attendee registering", who: attendee(access.Blocked, access.Register), what: event, want: access.ErrBlocked},
		{name: "unregistered attendee signing in", who: attendee(access.Unregistered, access.Enter), what: event, want: access.ErrUnregistered},
		{name: "unregistered attendee registering again", who: attendee(access.Unregistered, access.Register), what: event},
		{name: "event domain policy", who: attendee(access.Listed, access.Enter), what: with(event, func(t *access.Target) { t.Policy = policy(`["uni.edu"]`, `[]`) }), want: access.ErrDomainBlocked},
		{name: "closed event: granted group member", who: attendee(access.NotListed, access.Enter, "g1"), what: closed},
		{name: "closed event: ungranted group, not listed", who: attendee(access.NotListed, access.Enter, "g2"), what: closed, want: access.ErrNotGranted},
		{name: "closed event: listed, additional users on", who: attendee(access.Listed, access.Enter), what: with(closed, func(t *access.Target) { t.AdditionalUsers = true })},
		{name: "closed event: listed, additional users off", who: attendee(access.Listed, access.Enter), what: closed, want: access.ErrNotGranted},
		{name: "closed event: blocked group member", who: attendee(access.Blocked, access.Enter, "g1"), what: closed, want: access.ErrBlocked},
		{name: "closed event: registering outside the groups, additional users on", who: attendee(access.NotListed, access.Register), what: with(closed, func(t *access.Target) { t.AdditionalUsers = true })},
		{name: "closed event: registering outside the groups, additional users off", who: attendee(access.NotListed, access.Register, "g2"), what: closed, want: access.ErrNotGranted},
		{name: "closed event: group member registering, additional users off", who: attendee(access.NotListed, access.Register, "g1"), what: closed},
		{name: "closed event: not listed, additional users on, entering", who: attendee(access.NotListed, access.Enter), what: with(closed, func(t *access.Target) { t.AdditionalUsers = true }), want: access.ErrNotGranted},
		{name: "closed event: inviting outside the groups, additional users off", who: attendee(access.NotListed, access.Invite, "g2"), what: closed, want: access.ErrNotInGrantedGroup},
		{name: "closed event: inviting a group member, additional users off", who: attendee(access.NotListed, access.Invite, "g1"), what: closed},
		{name: "closed event: inviting outside the groups, additional users on", who: attendee(access.NotListed, access.Invite), what: with(closed, func(t *access.Target) { t.AdditionalUsers = true })},
		{name: "open event: inviting anyone", who: attendee(access.NotListed, access.Invite), what: event},
		{name: "unknown target kind fails closed", who: guest, what: with(room, func(t *access.Target) { t.Kind = 0 }), want: access.ErrUndecidable, unusable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := access.Decide(context.Background(), tc.who, tc.what)
			if (err != nil) != tc.unusable {
				t.Fatalf("error %v, want one: %v", err, tc.unusable)
			}
			if tc.want == nil {
				if !d.Allowed || d.Reason != nil || d.Role != tc.role {
					t.Fatalf("decision %+v, want allowed with role %q", d, tc.role)
				}
				return
			}
			if d.Allowed || !errors.Is(d.Reason, tc.want) {
				t.Fatalf("decision %+v, want refused with %v", d, tc.want)
			}
			if tc.unusable {
				if pe, _ := problem.As(d.Reason); pe == nil || pe.Cause == nil {
					t.Fatalf("a policy that cannot be read is refused without its cause for the log: %+v", d.Reason)
				}
			}
		})
	}
}

// Groups are loaded only when the answer depends on them.
func TestNeedsGroups(t *testing.T) {
	open := access.Target{Kind: access.Event}
	closed := access.Target{Kind: access.Event, Closed: true}
	more := access.Target{Kind: access.Event, Closed: true, AdditionalUsers: true}
	for _, tc := range []struct {
		name  string
		wants access.Intent
		t     access.Target
		want  bool
	}{
		{"open event, enter", access.Enter, open, false},
		{"open event, invite", access.Invite, open, false},
		{"closed, enter", access.Enter, closed, true},
		{"closed with additional users, enter", access.Enter, more, true},
		{"closed, invite", access.Invite, closed, true},
		{"closed with additional users, invite", access.Invite, more, false},
		{"closed with additional users, register", access.Register, more, false},
		{"closed, register", access.Register, closed, true},
		{"a resource", access.Enter, access.Target{Kind: access.Resource, Closed: true}, false},
	} {
		if got := access.NeedsGroups(tc.wants, tc.t); got != tc.want {
			t.Errorf("%s: NeedsGroups = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPolicyMatching(t *testing.T) {
	p := access.Policy{Blocked: []string{"Bad.com", "*.evil.org"}, Allowed: []string{"*.uni.edu", "partner.com", "bad.com"}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email string
		want  error
	}{
		{"a@cs.uni.edu", nil}, {"a@a.b.uni.edu", nil}, {"a@uni.edu", access.ErrDomainBlocked}, {"a@partner.com", nil},
		{"a@bad.com", access.ErrDomainBlocked}, {"a@x.evil.org", access.ErrDomainBlocked}, {"a@gmail.com", access.ErrDomainBlocked},
	} {
		if got := p.Check(tc.email); !errors.Is(got, tc.want) && got != tc.want {
			t.Errorf("%s: got %v want %v", tc.email, got, tc.want)
		}
	}
	bad := access.Policy{Blocked: []string{"exa mple.com", "*.*.x.com"}}
	if pe, _ := problem.As(bad.Validate()); pe == nil || len(pe.Details) != 2 || pe.Details[1].Field != "blocked_domains[1]" {
		t.Fatalf("want 2 domain errors, got %v", pe)
	}
	broken, none := access.ParsePolicy("a", true, `[1,2]`, `[]`), access.ParsePolicy("a", false, "", "")
	if !errors.Is(broken.Check("a@b.com"), access.ErrPolicyUnreadable) {
		t.Fatal("a policy that does not parse lets people through")
	}
	if none.Check("a@b.com") != nil {
		t.Fatal("an account without a policy blocks people")
	}
}

// OnResource weighs a resource's own state: a room's chat switch, its
// deletion, the invitation module.
func TestOnResource(t *testing.T) {
	now := time.Now()
	owner := access.Member{AccountID: "acc", Collaborator: resource.Owner}
	for _, tc := range []struct {
		name      string
		res       resource.Resource
		wants     access.Intent
		moduleOff bool
		want      error // nil: allowed
	}{
		{name: "room with chat on", res: resource.Resource{Type: resource.Room, ChatCollab: true}, wants: access.Invite},
		{name: "room with chat off", res: resource.Resource{Type: resource.Room}, wants: access.Invite, want: access.ErrChatOffInvite},
		{name: "room with chat off is still seen", res: resource.Resource{Type: resource.Room}, wants: access.View},
		{name: "media has no chat switch", res: resource.Resource{Type: resource.Video}, wants: access.Invite},
		{name: "module off", res: resource.Resource{Type: resource.Video}, wants: access.Invite, moduleOff: true, want: access.ErrModuleOff},
		{name: "deleted", res: resource.Resource{Type: resource.Video, DeletedAt: &now}, wants: access.View, want: problem.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.res.AccountID = "acc"
			err := access.OnResource(context.Background(), owner, &tc.res, tc.wants, tc.moduleOff)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// CheckInvitee says, for an invite form's email field, why an address may
// not be invited; only a policy that cannot be read is an error.
func TestCheckInvitee(t *testing.T) {
	p := policy(`["*.evil.org"]`, `[]`)
	if why, err := p.CheckInvitee("a@x.evil.org"); err != nil || why != "invitations to x.evil.org addresses are not allowed by this account's domain policy" {
		t.Fatalf("blocked address: %q, %v", why, err)
	}
	if why, err := p.CheckInvitee("a@good.org"); err != nil || why != "" {
		t.Fatalf("allowed address: %q, %v", why, err)
	}
	broken := policy(`{`, `[]`)
	if why, err := broken.CheckInvitee("a@good.org"); !errors.Is(err, access.ErrPolicyUnreadable) || why != "" {
		t.Fatalf("unreadable policy: %q, %v", why, err)
	}
}
