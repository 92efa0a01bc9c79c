package event

import (
	"context"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
)

// mayEnter asks core/access whether the person with this email, in place
// a (nil: not on the list), may enter ev's site now, reading the facts
// with r: the account's domain policy and, for a closed event, the
// person's groups.
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
	if ev.Closed {
		if sub.Groups, err = group.GroupsOf(ctx, r.Read(ctx), ev.AccountID, email); err != nil {
			return err
		}
	}
	d, _ := access.Decide(ctx, sub, access.Target{Kind: access.Event, AccountID: ev.AccountID, Policy: *policy,
		Closed: ev.Closed, AdditionalUsers: ev.AdditionalUsers})
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
