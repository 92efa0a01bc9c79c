package event

import (
	"fmt"

	"github.com/invitegate/gateway/core/problem"
)

// Action is something an organizer does to one attendee from the All users
// list. The set is closed: these and nothing else.
type Action string

// Actions.
const (
	ActionEdit               Action = "edit"
	ActionResendInvitation   Action = "resend_invitation"
	ActionResendRegistration Action = "resend_registration_confirmation"
	ActionViewAnalytics      Action = "view_analytics"
	ActionRemove             Action = "remove"
	ActionBlockFromChat      Action = "block_from_chat"
	ActionGenerateLoginLink  Action = "generate_login_link"
)

// Actions lists every action in menu order.
var Actions = []Action{ActionEdit, ActionResendInvitation, ActionResendRegistration, ActionViewAnalytics,
	ActionRemove, ActionBlockFromChat, ActionGenerateLoginLink}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool {
	for _, x := range Actions {
		if x == a {
			return true
		}
	}
	return false
}

// Label is the action as the console names it.
func (a Action) Label() string {
	switch a {
	case ActionEdit:
		return "Edit"
	case ActionResendInvitation:
		return "Re-send invitation"
	case ActionResendRegistration:
		return "Re-send registration confirmation"
	case ActionViewAnalytics:
		return "View analytics"
	case ActionRemove:
		return "Remove"
	case ActionBlockFromChat:
		return "Block from chat"
	case ActionGenerateLoginLink:
		return "Generate login link"
	}
	return string(a)
}

// byStatus is the per-status table of the seed, unchanged.
var byStatus = map[Status][]Action{
	Attended:     {ActionEdit, ActionViewAnalytics, ActionRemove},
	SSOLogin:     {ActionEdit, ActionViewAnalytics, ActionRemove},
	Invited:      {ActionEdit, ActionResendInvitation, ActionRemove},
	Registered:   {ActionEdit, ActionResendRegistration, ActionViewAnalytics, ActionRemove},
	Unregistered: nil,
	Blocked:      {ActionEdit, ActionViewAnalytics},
}

// Allowed returns the actions an organizer may take on a in ev, in menu
// order. Two depend on more than the status: Block from chat needs an
// attended attendee who opened the chat and accepted its terms (and is not
// blocked from it already); Generate login link needs an invited or
// registered attendee of an event that logs in by emailed link.
func Allowed(a *Attendee, ev *Event) []Action {
	var out []Action
	for _, act := range Actions {
		if reason(a, ev, act) == "" {
			out = append(out, act)
		}
	}
	return out
}

// Check refuses an action Allowed does not offer, saying which and why.
func Check(a *Attendee, ev *Event, act Action) error {
	if !act.Valid() {
		return problem.Field("action", fmt.Sprintf("%q is not an attendee action", string(act)))
	}
	r := reason(a, ev, act)
	if r == "" {
		return nil
	}
	return problem.New(problem.Conflict, "action_not_allowed", r)
}

// reason is "" when act is allowed, else why not.
func reason(a *Attendee, ev *Event, act Action) string {
	switch act {
	case ActionBlockFromChat:
		switch {
		case a.Status != Attended:
			return fmt.Sprintf("%s is not allowed for an attendee whose status is %s: only attended attendees can be blocked from chat", act.Label(), a.Status.Label())
		case a.ChatTermsAcceptedAt == nil:
			return fmt.Sprintf("%s is not allowed: this attendee (status %s) has not opened the chat and accepted its terms", act.Label(), a.Status.Label())
		case a.BlockedFromChat:
			return fmt.Sprintf("%s is not allowed: this attendee (status %s) is already blocked from chat", act.Label(), a.Status.Label())
		}
		return ""
	case ActionGenerateLoginLink:
		switch {
		case a.Status != Invited && a.Status != Registered:
			return fmt.Sprintf("%s is not allowed for an attendee whose status is %s: only invited and registered attendees get login links", act.Label(), a.Status.Label())
		case ev.LoginMethod != LoginMagicLink:
			return fmt.Sprintf("%s is not allowed: this event logs in by %s, not by emailed link (status %s)", act.Label(), ev.LoginMethod, a.Status.Label())
		}
		return ""
	}
	for _, x := range byStatus[a.Status] {
		if x == act {
			return ""
		}
	}
	if !act.Valid() {
		return fmt.Sprintf("%q is not an attendee action", string(act))
	}
	return fmt.Sprintf("%s is not allowed for an attendee whose status is %s", act.Label(), a.Status.Label())
}
