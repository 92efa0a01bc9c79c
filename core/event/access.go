package event

import (
	"context"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// mayEnter asks core/access whether the person with this email, in place
// a (nil: not on the list), may enter ev's site now, reading the facts
// with r: the account's domain policy and, for a closed event, the
// person's granted groups. It runs on every request of a signed-in
// attendee, so a grant revoked or a membership a sync removed ends their
// access at their next request.
func (s *Service) mayEnter(ctx context.Context, r store.Reader, ev *Event, email string, a *Attendee) error {
	return s.decide(ctx, r, ev, email, a, access.Enter)
}

// decide is mayEnter for what the person wants: to enter, or to register.
func (s *Service) decide(ctx context.Context, r store.Reader, ev *Event, email string, a *Attendee, wants access.Intent) error {
	policy, err := access.LoadPolicy(ctx, r, ev.AccountID)
	if err != nil {
		return err
	}
	sub := access.Subject{AccountID: ev.AccountID, Email: email, Place: placeOf(a), Wants: wants}
	t := access.Target{Kind: access.Event, AccountID: ev.AccountID, Policy: *policy, Closed: ev.Closed, AdditionalUsers: ev.AdditionalUsers}
	if access.NeedsGroups(wants, t) {
		// The person's groups that the event grants are all the rule
		// weighs of either list.
		if sub.Groups, err = grantedGroupsOf(ctx, r.Read(ctx), ev, email); err != nil {
			return err
		}
		t.Granted = sub.Groups
	}
	d, _ := access.Decide(ctx, sub, t)
	if !d.Allowed {
		return d.Reason
	}
	return nil
}

// placeOf is an attendee's place on the list, as access weighs it.
func placeOf(a *Attendee) access.Place {
	switch {
	case a == nil:
		return access.NotListed
	case a.Status == Blocked:
		return access.Blocked
	case a.Status == Unregistered:
		return access.Unregistered
	}
	return access.Listed
}

// mayInvite asks core/access whether an organizer may add the person with
// this email to ev: a closed event without additional users takes only
// members of its granted groups. The domain policy is the invitation's own
// check (CheckInvitee), so it is not loaded here, and an open event costs
// no query.
func (s *Service) mayInvite(ctx context.Context, r store.Reader, ev *Event, email string) error {
	sub := access.Subject{AccountID: ev.AccountID, Email: email, Wants: access.Invite}
	t := inviteTarget(ev)
	if access.NeedsGroups(access.Invite, t) {
		var err error
		if sub.Groups, err = grantedGroupsOf(ctx, r.Read(ctx), ev, email); err != nil {
			return err
		}
		t.Granted = sub.Groups
	}
	if d, _ := access.Decide(ctx, sub, t); !d.Allowed {
		return d.Reason
	}
	return nil
}

// inviteTarget is ev as adding people to it weighs it.
func inviteTarget(ev *Event) access.Target {
	return access.Target{Kind: access.Event, AccountID: ev.AccountID, Closed: ev.Closed, AdditionalUsers: ev.AdditionalUsers}
}

// InviteRefusals decides, for a bulk import's batch, which of the emails
// (normalized) an organizer may not add to ev, and why, reading the
// members of ev's granted groups among them in a few queries (none when
// the event's rule does not weigh groups).
func (s *Service) InviteRefusals(ctx context.Context, r store.Reader, ev *Event, emails []string) (map[string]error, error) {
	t := inviteTarget(ev)
	if !access.NeedsGroups(access.Invite, t) || len(emails) == 0 {
		return nil, nil
	}
	in, err := grantedMembers(ctx, r.Read(ctx), ev, emails)
	if err != nil {
		return nil, err
	}
	out := map[string]error{}
	for _, e := range emails {
		sub := access.Subject{AccountID: ev.AccountID, Email: e, Groups: in[user.FoldEmail(e)], Wants: access.Invite}
		t.Granted = sub.Groups
		if d, _ := access.Decide(ctx, sub, t); !d.Allowed {
			out[e] = d.Reason
		}
	}
	return out, nil
}
