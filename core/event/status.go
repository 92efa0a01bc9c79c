package event

import (
	"fmt"

	"github.com/invitegate/gateway/core/access"

	"github.com/invitegate/gateway/core/problem"
)

// Status is where an attendee stands, as the All users list shows it.
type Status string

// Statuses, exactly those of the design.
const (
	Invited      Status = "invited"
	Registered   Status = "registered"
	Attended     Status = "attended"
	SSOLogin     Status = "sso_login"
	Unregistered Status = "unregistered"
	Blocked      Status = "blocked"
)

// Statuses lists every status in display order.
var Statuses = []Status{Invited, Registered, Attended, SSOLogin, Unregistered, Blocked}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if x == s {
			return true
		}
	}
	return false
}

// Label is the status as a person reads it.
func (s Status) Label() string {
	switch s {
	case Invited:
		return "Invited"
	case Registered:
		return "Registered"
	case Attended:
		return "Attended"
	case SSOLogin:
		return "SSO login"
	case Unregistered:
		return "Unregistered"
	case Blocked:
		return "Blocked"
	}
	return string(s)
}

// Detail says how an attendee reached their status (shown on hover).
type Detail string

// Detailed statuses. Statuses without a finer distinction have a detail
// equal to their status, so every row has one.
const (
	InvitedByTeamMember    Detail = "invited_by_team_member"
	InvitedToRegister      Detail = "invited_to_register"
	DetailRegistered       Detail = "registered" // registered, email not yet confirmed
	ConfirmedEmail         Detail = "confirmed_email"
	NoConfirmationRequired Detail = "no_confirmation_required"
	PreEventVisit          Detail = "pre_event_visit"
	DuringEventVisit       Detail = "during_event_visit"
	DetailSSOLogin         Detail = "sso_login"
	DetailUnregistered     Detail = "unregistered"
	DetailBlocked          Detail = "blocked"
)

// Label is the detailed status as a person reads it (the All users list
// shows it on hover).
func (d Detail) Label() string {
	switch d {
	case InvitedByTeamMember:
		return "Invited by team member"
	case InvitedToRegister:
		return "Invited to register"
	case DetailRegistered:
		return "Registered"
	case ConfirmedEmail:
		return "Confirmed email"
	case NoConfirmationRequired:
		return "No confirmation required"
	case PreEventVisit:
		return "Pre-event visit"
	case DuringEventVisit:
		return "During-event visit"
	case DetailSSOLogin:
		return "SSO login"
	case DetailUnregistered:
		return "Unregistered"
	case DetailBlocked:
		return "Blocked"
	}
	return string(d)
}

// State is a status with its detail.
type State struct {
	Status Status `json:"status"`
	Detail Detail `json:"detail"`
}

// none is the state of someone who is not (or no longer) an attendee.
var none = State{}

func (s State) String() string {
	if s == none {
		return "not an attendee"
	}
	return fmt.Sprintf("%s (%s)", s.Status.Label(), s.Detail)
}

// Trigger is a real event that moves an attendee. Nothing else does: an
// organizer cannot set a status by hand.
type Trigger string

// Triggers.
const (
	// TrigInvite: a team member invites someone to an invite-only event; the
	// invitation itself is their place at the event.
	TrigInvite Trigger = "invite"
	// TrigInviteToRegister: a team member invites someone to an event with
	// open registration; they still register on the event site.
	TrigInviteToRegister Trigger = "invite_to_register"
	// TrigRegister: registration on the event site, which asks for email
	// confirmation.
	TrigRegister Trigger = "register"
	// TrigRegisterNoConfirmation: registration on an event that does not ask
	// for email confirmation.
	TrigRegisterNoConfirmation Trigger = "register_no_confirmation"
	TrigConfirmEmail           Trigger = "confirm_email"
	TrigVisitPreEvent          Trigger = "visit_pre_event"
	TrigVisitDuringEvent       Trigger = "visit_during_event"
	TrigSSOLogin               Trigger = "sso_login"
	TrigUnregister             Trigger = "unregister"
	TrigBlock                  Trigger = "block"
)

// Triggers lists every trigger.
var Triggers = []Trigger{TrigInvite, TrigInviteToRegister, TrigRegister, TrigRegisterNoConfirmation, TrigConfirmEmail,
	TrigVisitPreEvent, TrigVisitDuringEvent, TrigSSOLogin, TrigUnregister, TrigBlock}

// Label names the trigger in messages.
func (t Trigger) Label() string {
	switch t {
	case TrigInvite, TrigInviteToRegister:
		return "An invitation"
	case TrigRegister, TrigRegisterNoConfirmation:
		return "Registration"
	case TrigConfirmEmail:
		return "Email confirmation"
	case TrigVisitPreEvent, TrigVisitDuringEvent:
		return "A visit to the event site"
	case TrigSSOLogin:
		return "SSO login"
	case TrigUnregister:
		return "Unregistering"
	case TrigBlock:
		return "Blocking"
	}
	return string(t)
}

// transition is one row of the machine: on a trigger, an attendee in one of
// the from states (a from state with an empty Detail matches any detail of
// its status) moves to the to state. keep means the trigger is accepted but
// the state stays (a later pre-event visit does not undo a during-event one).
type transition struct {
	on   Trigger
	from []State
	to   State
	keep bool
}

func st(s Status) State { return State{Status: s} }

var (
	anyInvited    = st(Invited)
	anyRegistered = st(Registered)
	anySSO        = st(SSOLogin)
	anyAttended   = st(Attended)
	anyUnreg      = st(Unregistered)
)

// machine is the whole status machine. Triggers not listed for a state are
// refused.
var machine = []transition{
	{on: TrigInvite, from: []State{none}, to: State{Invited, InvitedByTeamMember}},
	{on: TrigInviteToRegister, from: []State{none}, to: State{Invited, InvitedToRegister}},

	{on: TrigRegister, from: []State{none, anyInvited, anyUnreg}, to: State{Registered, DetailRegistered}},
	{on: TrigRegisterNoConfirmation, from: []State{none, anyInvited, anyUnreg}, to: State{Registered, NoConfirmationRequired}},

	{on: TrigConfirmEmail, from: []State{{Registered, DetailRegistered}}, to: State{Registered, ConfirmedEmail}},

	{on: TrigVisitPreEvent, from: []State{anyInvited, anyRegistered, anySSO, {Attended, PreEventVisit}}, to: State{Attended, PreEventVisit}},
	{on: TrigVisitPreEvent, from: []State{{Attended, DuringEventVisit}}, keep: true},
	{on: TrigVisitDuringEvent, from: []State{anyInvited, anyRegistered, anySSO, anyAttended}, to: State{Attended, DuringEventVisit}},

	{on: TrigSSOLogin, from: []State{none, anyInvited, anyRegistered, anyUnreg}, to: State{SSOLogin, DetailSSOLogin}},
	{on: TrigSSOLogin, from: []State{anySSO, anyAttended}, keep: true},

	{on: TrigUnregister, from: []State{anyInvited, anyRegistered, anySSO, anyAttended}, to: State{Unregistered, DetailUnregistered}},

	{on: TrigBlock, from: []State{anyInvited, anyRegistered, anySSO, anyAttended, anyUnreg}, to: State{Blocked, DetailBlocked}},
}

func (s State) matches(pattern State) bool {
	if pattern == none {
		return s == none
	}
	return s.Status == pattern.Status && (pattern.Detail == "" || pattern.Detail == s.Detail)
}

// ErrBlocked refuses anything a blocked attendee tries on the event site.
var ErrBlocked = access.ErrBlocked

// Next returns the state a trigger moves from to, or a Conflict saying why
// it does not apply.
func Next(from State, on Trigger) (State, error) {
	for _, t := range machine {
		if t.on != on {
			continue
		}
		for _, f := range t.from {
			if from.matches(f) {
				if t.keep {
					return from, nil
				}
				return t.to, nil
			}
		}
	}
	if from.Status == Blocked && on != TrigBlock {
		return from, ErrBlocked
	}
	return from, problem.New(problem.Conflict, "transition_not_allowed",
		fmt.Sprintf("%s does not apply to an attendee who is %s", on.Label(), from))
}
