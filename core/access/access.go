// Package access decides who may enter what, with which role: a person
// redeeming an invite link, signing in to an event site, or acting on a
// resource in the console. Every way in asks Decide, which weighs the whole
// rule in one place (the invitation module's switch, the resource's state,
// the account's email domain policy, the person's collaborator role, their
// place on an event and, for closed events, the groups granted access and
// the additional-users setting) and answers with a reason a page can show.
// Callers load the facts and never re-check a piece of the rule themselves.
//
// Decide only reads what it is given: it is called inside a redemption's
// transaction, on the hot path, and does no I/O.
package access

import (
	"context"
	"fmt"
	"slices"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
)

// Intent is what the subject asks to do.
type Intent int

// Intents.
const (
	// Enter is going into a resource through an invitation, or into an
	// event's site.
	Enter Intent = iota + 1
	// View is seeing a resource, its collaborators and invitations, in the
	// console or the API.
	View
	// Invite is creating a resource's invitations and resending them.
	// Removing one needs only View, so a link can be withdrawn even while
	// the module or the room's chat is off.
	Invite
	// Manage is changing or deleting a resource and its collaborators.
	Manage
	// Register is signing up on an event's site: how someone who left
	// the event comes back.
	Register
)

// Kind is what a target is.
type Kind int

// Kinds of targets.
const (
	Resource Kind = iota + 1 // a room, live session or media entry
	Event                    // an event's site
)

// Place is a person's place on an event's list, as far as entering goes.
type Place int

// Places.
const (
	NotListed    Place = iota // not on the event's list
	Listed                    // invited, registered, attended or signed in by SSO
	Unregistered              // left the event
	Blocked                   // blocked by an organizer
)

// Subject is who asks, with the facts about them that the rule needs.
type Subject struct {
	AccountID string
	// Email is the person's normalized address ("" for an API key).
	Email string
	// Admin is an account admin or an API key: they may do anything to the
	// account's resources.
	Admin bool
	// Collaborator is the person's collaborator role on the resource
	// (resource.Owner and the others), or "".
	Collaborator string
	// Place is the person's place on the event (events).
	Place Place
	// Groups are the ids of the account's groups the person is in
	// (closed events). Only those among Target.Granted change the answer,
	// so a caller may give just those (see NeedsGroups).
	Groups []string
	// Role is the role an invitation gives on entering a resource.
	Role string
	// Wants is what they ask to do.
	Wants Intent
}

// Target is what the subject asks about, with the facts about it that the
// rule needs.
type Target struct {
	Kind      Kind
	AccountID string
	// Deleted is a resource that was deleted (its links say so).
	Deleted bool
	// ModuleOff is the account's invitation module switched off.
	ModuleOff bool
	// ChatOff is a room whose chat and collaboration is off: guests may
	// neither be invited nor enter.
	ChatOff bool
	// MediaPageOff is a media entry whose platform's media page (the
	// Theming module's "mediapage") is off: guests may not be invited.
	MediaPageOff bool
	// Policy is the account's email domain policy.
	Policy Policy
	// Closed is a closed event: only members of the granted groups enter,
	// and, with AdditionalUsers, people individually on its list.
	Closed bool
	// AdditionalUsers lets organizers invite, and registration admit,
	// people outside the granted groups of a closed event.
	AdditionalUsers bool
	// Granted are the ids of the groups granted access to a closed event.
	Granted []string
}

// Decision is the answer: whether the subject may, with which role, and
// when not, why, as a refusal a page shows.
type Decision struct {
	Allowed bool
	// Role is the role the subject acts with: the invited role on entering
	// a resource, the collaborator role ("admin" for admins) in the
	// console.
	Role   string
	Reason error
}

// Why an access is refused. Each is a page of its own.
var (
	ErrResourceGone  = problem.New(problem.Gone, "resource_deleted", "the room or media this link was for has been deleted")
	ErrModuleOff     = problem.New(problem.Forbidden, "module_disabled", "the invitation module is turned off for this account; an admin can turn it on in the invitation settings")
	ErrChatOffEnter  = problem.New(problem.Forbidden, "module_disabled", "chat and collaboration is turned off for this room, so guests cannot enter; the organizer can turn it back on")
	ErrChatOffInvite = problem.New(problem.Conflict, "chat_collaboration_off", "this room has chat and collaboration turned off; turn it on to invite guests")
	ErrMediaPageOff  = problem.New(problem.Conflict, "media_page_off", "this media entry's platform has its media page turned off (Theming module, mediapage), so guests cannot be invited to it; an admin of the platform can turn it on")
	ErrDomainBlocked = problem.New(problem.Forbidden, "domain_blocked", "invitations to this email domain are not allowed by the organizer's policy")
	ErrOwnerOnly     = problem.New(problem.Forbidden, "owner_only", "only the resource's owner, a co-owner or an account admin may change it")
	ErrBlocked       = problem.New(problem.Forbidden, "attendee_blocked", "you are blocked from this event; contact the organizer")
	ErrUnregistered  = problem.New(problem.Conflict, "not_registered", "you unregistered from this event; register again on its page to take part")
	ErrNotGranted    = problem.New(problem.Forbidden, "event_closed", "this event is open only to members of the groups the organizer granted access to, and you are not in one of them; ask the organizer to add you")
	// ErrNotInGrantedGroup refuses an organizer adding someone to a closed
	// event that admits no additional users.
	ErrNotInGrantedGroup = &problem.Error{Kind: problem.Forbidden, Code: "not_in_granted_group", Field: "email",
		Message: "this closed event admits only members of the groups granted access, and additional users are turned off; this person is in none of them: grant one of their groups access, or turn Additional users on in the event's access settings"}
	// ErrUndecidable refuses what the rule cannot be applied to at all (a
	// target of no known kind): access fails closed.
	ErrUndecidable = problem.New(problem.Unavailable, "access_undecidable", "access cannot be decided right now, so nobody is let in; try again later or tell the organizer")
)

// Decide answers whether s may do what it wants to t. The error is not nil
// only when the rule cannot be applied at all (a policy that cannot be
// read): the decision is then a refusal too, so access fails closed.
func Decide(_ context.Context, s Subject, t Target) (Decision, error) {
	if s.AccountID != t.AccountID {
		// Another account's things do not exist for the subject.
		return refuse(problem.ErrNotFound), nil
	}
	switch t.Kind {
	case Resource:
		if s.Wants == Enter {
			return enterResource(s, t)
		}
		return console(s, t), nil
	case Event:
		return enterEvent(s, t)
	}
	// A target of no known kind is a caller's mistake; callers act on the
	// decision, so it must refuse.
	err := fmt.Errorf("access: unknown target kind %d", t.Kind)
	return refuse(ErrUndecidable.Because(err)), err
}

func refuse(why error) Decision { return Decision{Reason: why} }

// enterResource is an invitee going in through a link.
func enterResource(s Subject, t Target) (Decision, error) {
	switch {
	case t.Deleted:
		return refuse(ErrResourceGone), nil
	case t.ModuleOff:
		return refuse(ErrModuleOff), nil
	case t.ChatOff:
		return refuse(ErrChatOffEnter), nil
	}
	if d, err := t.Policy.decide(s.Email); err != nil || !d.Allowed {
		return d, err
	}
	return Decision{Allowed: true, Role: s.Role}, nil
}

// console is a console user or API key acting on a resource. A resource
// the subject may not see answers "not found" whatever they ask, the same
// as a missing one, so its id cannot be probed.
func console(s Subject, t Target) Decision {
	role := s.Collaborator
	if s.Admin {
		role = "admin"
	}
	if t.Deleted || role == "" {
		return refuse(problem.ErrNotFound)
	}
	switch s.Wants {
	case Manage:
		if role != "admin" && role != resource.Owner && role != resource.CoOwner {
			return refuse(ErrOwnerOnly)
		}
	case Invite:
		switch {
		case t.ModuleOff:
			return refuse(ErrModuleOff)
		case t.ChatOff:
			return refuse(ErrChatOffInvite)
		case t.MediaPageOff:
			return refuse(ErrMediaPageOff)
		}
	}
	return Decision{Allowed: true, Role: role}
}

// NeedsGroups reports whether Decide, for wants on t, weighs the
// subject's groups, so callers load them (a query) only when it does: on a
// closed event, to enter it, or to be added to it while it admits no
// additional users.
func NeedsGroups(wants Intent, t Target) bool {
	return t.Kind == Event && t.Closed && (wants == Enter || !t.AdditionalUsers)
}

// enterEvent is an attendee signing in to an event's site, registering on
// it, or an organizer adding them (Invite).
func enterEvent(s Subject, t Target) (Decision, error) {
	if s.Wants == Invite {
		return addToEvent(s, t), nil
	}
	switch {
	case s.Place == Blocked:
		return refuse(ErrBlocked), nil
	case s.Place == Unregistered && s.Wants != Register:
		return refuse(ErrUnregistered), nil
	}
	if d, err := t.Policy.decide(s.Email); err != nil || !d.Allowed {
		return d, err
	}
	if t.Closed && !granted(s.Groups, t.Granted) && !additional(s, t) {
		return refuse(ErrNotGranted), nil
	}
	return Decision{Allowed: true}, nil
}

// additional reports whether a closed event lets in someone outside its
// granted groups: only with additional users on, and then a person on the
// list, or one registering (the organizer published registration for
// additional users).
func additional(s Subject, t Target) bool {
	return t.AdditionalUsers && (s.Place == Listed || s.Wants == Register)
}

// addToEvent is an organizer inviting someone to an event, one by one or
// from a file. The domain policy is the invitation's own check (it names
// the field); here only a closed event's groups are weighed.
func addToEvent(s Subject, t Target) Decision {
	if t.Closed && !t.AdditionalUsers && !granted(s.Groups, t.Granted) {
		return refuse(ErrNotInGrantedGroup)
	}
	return Decision{Allowed: true}
}

func granted(groups, to []string) bool {
	for _, g := range groups {
		if slices.Contains(to, g) {
			return true
		}
	}
	return false
}
