package event_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

// Every detailed status, with "" for someone not on the list.
var details = []event.Detail{"",
	event.InvitedByTeamMember, event.InvitedToRegister,
	event.DetailRegistered, event.ConfirmedEmail, event.NoConfirmationRequired,
	event.PreEventVisit, event.DuringEventVisit,
	event.DetailSSOLogin, event.DetailUnregistered, event.DetailBlocked,
}

func stateOf(d event.Detail) event.State {
	switch d {
	case event.InvitedByTeamMember, event.InvitedToRegister:
		return event.State{Status: event.Invited, Detail: d}
	case event.DetailRegistered, event.ConfirmedEmail, event.NoConfirmationRequired:
		return event.State{Status: event.Registered, Detail: d}
	case event.PreEventVisit, event.DuringEventVisit:
		return event.State{Status: event.Attended, Detail: d}
	case event.DetailSSOLogin:
		return event.State{Status: event.SSOLogin, Detail: d}
	case event.DetailUnregistered:
		return event.State{Status: event.Unregistered, Detail: d}
	case event.DetailBlocked:
		return event.State{Status: event.Blocked, Detail: d}
	}
	return event.State{}
}

// expected transitions, written out from the design rather than derived from
// the machine: for each trigger, start detail -> end detail, or "!code" for a
// refusal. A start missing from a trigger's map is refused as
// transition_not_allowed, except a blocked attendee (attendee_blocked) and
// someone not on the list (not_found).
var expected = map[event.Trigger]map[event.Detail]string{
	event.TrigInvite:           {"": "invited_by_team_member", "*": "!attendee_exists"},
	event.TrigInviteToRegister: {"": "invited_to_register", "*": "!attendee_exists"},
	event.TrigRegister: {"": "registered", event.InvitedByTeamMember: "registered", event.InvitedToRegister: "registered",
		event.DetailUnregistered: "registered"},
	event.TrigRegisterNoConfirmation: {"": "no_confirmation_required", event.InvitedByTeamMember: "no_confirmation_required",
		event.InvitedToRegister: "no_confirmation_required", event.DetailUnregistered: "no_confirmation_required"},
	event.TrigConfirmEmail: {event.DetailRegistered: "confirmed_email"},
	event.TrigVisitPreEvent: {event.InvitedByTeamMember: "pre_event_visit", event.InvitedToRegister: "pre_event_visit",
		event.DetailRegistered: "pre_event_visit", event.ConfirmedEmail: "pre_event_visit", event.NoConfirmationRequired: "pre_event_visit",
		event.PreEventVisit: "pre_event_visit", event.DuringEventVisit: "during_event_visit", event.DetailSSOLogin: "pre_event_visit"},
	event.TrigVisitDuringEvent: {event.InvitedByTeamMember: "during_event_visit", event.InvitedToRegister: "during_event_visit",
		event.DetailRegistered: "during_event_visit", event.ConfirmedEmail: "during_event_visit", event.NoConfirmationRequired: "during_event_visit",
		event.PreEventVisit: "during_event_visit", event.DuringEventVisit: "during_event_visit", event.DetailSSOLogin: "during_event_visit"},
	event.TrigSSOLogin: {"": "sso_login", event.InvitedByTeamMember: "sso_login", event.InvitedToRegister: "sso_login",
		event.DetailRegistered: "sso_login", event.ConfirmedEmail: "sso_login", event.NoConfirmationRequired: "sso_login",
		event.DetailUnregistered: "sso_login", event.DetailSSOLogin: "sso_login",
		event.PreEventVisit: "pre_event_visit", event.DuringEventVisit: "during_event_visit"},
	event.TrigUnregister: {event.InvitedByTeamMember: "unregistered", event.InvitedToRegister: "unregistered",
		event.DetailRegistered: "unregistered", event.ConfirmedEmail: "unregistered", event.NoConfirmationRequired: "unregistered",
		event.PreEventVisit: "unregistered", event.DuringEventVisit: "unregistered", event.DetailSSOLogin: "unregistered"},
	event.TrigBlock: {event.InvitedByTeamMember: "blocked", event.InvitedToRegister: "blocked",
		event.DetailRegistered: "blocked", event.ConfirmedEmail: "blocked", event.NoConfirmationRequired: "blocked",
		event.PreEventVisit: "blocked", event.DuringEventVisit: "blocked", event.DetailSSOLogin: "blocked",
		event.DetailUnregistered: "blocked", event.DetailBlocked: "!transition_not_allowed"},
}

func want(on event.Trigger, from event.Detail) string {
	m := expected[on]
	if w, ok := m[from]; ok {
		return w
	}
	if w, ok := m["*"]; ok && from != "" {
		return w
	}
	switch from {
	case "":
		return "!not_found"
	case event.DetailBlocked:
		return "!attendee_blocked"
	}
	return "!transition_not_allowed"
}

// The pure machine agrees with the table for every trigger and state.
func TestNext(t *testing.T) {
	for _, on := range event.Triggers {
		for _, d := range details {
			w := want(on, d)
			if w == "!not_found" || w == "!attendee_exists" {
				continue // the service's refusals, not the machine's
			}
			got, err := event.Next(stateOf(d), on)
			res := string(got.Detail)
			if err != nil {
				res = "!" + code(err)
			}
			if res != w {
				t.Errorf("%s from %q: got %s, want %s", on, d, res, w)
			}
		}
	}
}

// Every trigger from every state through the service, on both databases:
// the status moves as the table says, refusals change nothing, and each
// accepted trigger leaves one audit entry (and a visit, for visits).
func TestTransitions(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		open := f.event(t, nil)
		inviteOnly := f.event(t, func(in *event.EventInput) { in.Registration = event.RegistrationInviteOnly })
		noConfirm := f.event(t, func(in *event.EventInput) { in.ConfirmEmail = ptr(false) })
		sso := f.event(t, func(in *event.EventInput) { in.LoginMethod = event.LoginSSO })
		before, during := f.start.Add(-time.Hour), f.start.Add(time.Hour)

		for _, on := range event.Triggers {
			for _, d := range details {
				t.Run(fmt.Sprintf("%s/from_%s", on, d), func(t *testing.T) {
					ev := open
					switch on {
					case event.TrigInvite:
						ev = inviteOnly
					case event.TrigRegisterNoConfirmation:
						ev = noConfirm
					case event.TrigSSOLogin:
						ev = sso
					}
					*f.clock = before
					if on == event.TrigVisitDuringEvent {
						*f.clock = during
					}
					var a *event.Attendee
					attendeeID, email := id.New(), fmt.Sprintf("new%d@x.test", f.seq.Add(1))
					if d != "" {
						a = f.seed(t, ev, stateOf(d), false)
						attendeeID, email = a.ID, string(a.Email)
					}
					var got *event.Attendee
					var err error
					var visits int64
					switch on {
					case event.TrigInvite, event.TrigInviteToRegister:
						got, err = f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: email, Profile: event.Profile{FirstName: "N", LastName: "M"}})
					case event.TrigRegister, event.TrigRegisterNoConfirmation:
						got, err = f.svc.Register(ctx, ev.ID, event.Identity{Email: email, FirstName: "N", LastName: "M"})
					case event.TrigConfirmEmail:
						got, err = f.svc.ConfirmEmail(ctx, ev.ID, attendeeID)
					case event.TrigVisitPreEvent, event.TrigVisitDuringEvent:
						var v *event.Visit
						v, err = f.svc.RecordVisit(ctx, ev.ID, attendeeID)
						if err == nil {
							got, _, err = f.svc.GetAttendee(ctx, f.caller, ev.ID, attendeeID)
							wantKind := event.VisitPreEvent
							if on == event.TrigVisitDuringEvent {
								wantKind = event.VisitDuringEvent
							}
							if v.Kind != wantKind {
								t.Fatalf("visit kind %s, want %s", v.Kind, wantKind)
							}
						}
						db.R.Model(&event.Visit{}).Where("attendee_id = ?", attendeeID).Count(&visits)
					case event.TrigSSOLogin:
						var in *event.SignIn
						if in, err = f.svc.SignInSSO(ctx, ev.ID, user.Identity{Issuer: "https://idp.test", Subject: email, Email: email, FirstName: "N", LastName: "M", LinkByEmail: true}, nil); err == nil {
							got = in.Attendee
						}
					case event.TrigUnregister:
						got, err = f.svc.Unregister(ctx, ev.ID, attendeeID)
					case event.TrigBlock:
						got, err = f.svc.Block(ctx, f.caller, ev.ID, attendeeID)
					}
					w := want(on, d)
					if w[0] == '!' {
						if code(err) != w[1:] {
							t.Fatalf("want refusal %s, got %v", w[1:], err)
						}
						if visits != 0 {
							t.Fatalf("a refused visit was recorded")
						}
						if a != nil {
							now, _, err := f.svc.GetAttendee(ctx, f.caller, ev.ID, a.ID)
							if err != nil || now.State() != a.State() {
								t.Fatalf("a refusal changed the attendee: %+v %v", now, err)
							}
						}
						return
					}
					if err != nil {
						t.Fatalf("want %s, got %v", w, err)
					}
					if string(got.Detail) != w || got.State() != stateOf(got.Detail) {
						t.Fatalf("got %s, want %s", got.State(), w)
					}
					stored, _, err := f.svc.GetAttendee(ctx, f.caller, ev.ID, got.ID)
					if err != nil || stored.State() != got.State() {
						t.Fatalf("stored %+v, %v", stored, err)
					}
					if (on == event.TrigVisitPreEvent || on == event.TrigVisitDuringEvent) && visits != 1 {
						t.Fatalf("visits recorded: %d", visits)
					}
					// The trigger's entry; an SSO login also signs in.
					var n int64
					db.R.Model(&audit.Entry{}).Where("target_id = ? AND action LIKE 'attendee.%' AND action <> 'attendee.signed_in'", got.ID).Count(&n)
					if n != 1 {
						t.Fatalf("audit entries: %d", n)
					}
				})
			}
		}

		t.Run("registration of strangers to an invite-only event", func(t *testing.T) {
			_, err := f.svc.Register(ctx, inviteOnly.ID, event.Identity{Email: "stranger@x.test", FirstName: "S", LastName: "T"})
			if code(err) != "invite_only" {
				t.Fatalf("want invite_only, got %v", err)
			}
		})
		t.Run("sso login on a magic-link event", func(t *testing.T) {
			_, err := f.svc.SignInSSO(ctx, open.ID, user.Identity{Issuer: "https://idp.test", Subject: "s", Email: "s@x.test"}, nil)
			if code(err) != "wrong_login_method" {
				t.Fatalf("want wrong_login_method, got %v", err)
			}
		})
	})
}

// The seed's per-status table, written out.
var seedTable = map[event.Status][]event.Action{
	event.Attended:     {event.ActionEdit, event.ActionViewAnalytics, event.ActionRemove},
	event.SSOLogin:     {event.ActionEdit, event.ActionViewAnalytics, event.ActionRemove},
	event.Invited:      {event.ActionEdit, event.ActionResendInvitation, event.ActionRemove},
	event.Registered:   {event.ActionEdit, event.ActionResendRegistration, event.ActionViewAnalytics, event.ActionRemove},
	event.Unregistered: {},
	event.Blocked:      {event.ActionEdit, event.ActionViewAnalytics},
}

func wantAllowed(s event.Status, login string, chatTerms bool, act event.Action) bool {
	switch act {
	case event.ActionBlockFromChat:
		return s == event.Attended && chatTerms
	case event.ActionGenerateLoginLink:
		return (s == event.Invited || s == event.Registered) && login == event.LoginMagicLink
	}
	for _, x := range seedTable[s] {
		if x == act {
			return true
		}
	}
	return false
}

// Every action in every status, on magic-link and SSO events, with and
// without accepted chat terms: the service does what Allowed offers and
// refuses the rest with action_not_allowed, naming the action and status.
func TestActions(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		events := map[string]*event.Event{
			event.LoginMagicLink: f.event(t, nil),
			event.LoginSSO:       f.event(t, func(in *event.EventInput) { in.LoginMethod = event.LoginSSO }),
		}
		for _, login := range []string{event.LoginMagicLink, event.LoginSSO} {
			ev := events[login]
			for _, d := range details[1:] {
				for _, chat := range []bool{false, true} {
					s := stateOf(d)
					name := fmt.Sprintf("%s/%s/chat_%v", login, d, chat)
					t.Run(name, func(t *testing.T) {
						a := f.seed(t, ev, s, chat)
						var offered []event.Action
						for _, act := range event.Actions {
							if wantAllowed(s.Status, login, chat, act) {
								offered = append(offered, act)
							}
						}
						if got := event.Allowed(a, ev); !reflect.DeepEqual(got, offered) {
							t.Fatalf("Allowed = %v, want %v", got, offered)
						}
						for _, act := range event.Actions {
							a := f.seed(t, ev, s, chat)
							var err error
							switch act {
							case event.ActionEdit:
								_, err = f.svc.Update(ctx, f.caller, ev.ID, a.ID, event.Profile{FirstName: "E", LastName: "D", Speaker: true, Bio: "b"})
							case event.ActionRemove:
								err = f.svc.Remove(ctx, f.caller, ev.ID, a.ID)
							case event.ActionBlockFromChat:
								_, err = f.svc.BlockFromChat(ctx, f.caller, ev.ID, a.ID)
							case event.ActionViewAnalytics:
								_, err = f.svc.Visits(ctx, f.caller, ev.ID, a.ID)
							default:
								_, _, err = f.svc.Authorize(ctx, f.caller, ev.ID, a.ID, act)
							}
							if wantAllowed(s.Status, login, chat, act) {
								if err != nil {
									t.Fatalf("%s refused: %v", act, err)
								}
								checkDone(t, f, ev, a, act)
								continue
							}
							p, _ := problem.As(err)
							if p == nil || p.Code != "action_not_allowed" || p.Kind != problem.Conflict {
								t.Fatalf("%s: want action_not_allowed conflict, got %v", act, err)
							}
							if !strings.Contains(p.Message, act.Label()) || !strings.Contains(p.Message, s.Status.Label()) {
								t.Fatalf("%s: message does not name action and status: %q", act, p.Message)
							}
						}
					})
				}
			}
		}
	})
}

// checkDone verifies the effect of an allowed action.
func checkDone(t *testing.T, f *fixture, ev *event.Event, a *event.Attendee, act event.Action) {
	t.Helper()
	ctx := context.Background()
	got, _, err := f.svc.GetAttendee(ctx, f.caller, ev.ID, a.ID)
	switch act {
	case event.ActionRemove:
		if code(err) != "not_found" {
			t.Fatalf("removed attendee still there: %v", err)
		}
		return
	case event.ActionEdit:
		if err != nil || got.Name() != "E D" || !got.Speaker || got.Bio != "b" || got.State() != a.State() {
			t.Fatalf("edit: %+v %v", got, err)
		}
	case event.ActionBlockFromChat:
		if err != nil || !got.BlockedFromChat {
			t.Fatalf("block from chat: %+v %v", got, err)
		}
		if _, err := f.svc.BlockFromChat(ctx, f.caller, ev.ID, a.ID); code(err) != "action_not_allowed" {
			t.Fatalf("blocking twice: %v", err)
		}
	}
}

func TestChatTerms(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, nil)
		a, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: "c@x.test", Profile: event.Profile{FirstName: "C", LastName: "T"}})
		if err != nil {
			t.Fatal(err)
		}
		*f.clock = f.start.Add(time.Minute)
		if _, err := f.svc.RecordVisit(ctx, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.BlockFromChat(ctx, f.caller, ev.ID, a.ID); code(err) != "action_not_allowed" {
			t.Fatalf("blocked from chat before opening it: %v", err)
		}
		if _, err := f.svc.AcceptChatTerms(ctx, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.BlockFromChat(ctx, f.caller, ev.ID, a.ID)
		if err != nil || !got.BlockedFromChat || got.Status != event.Attended {
			t.Fatalf("%+v %v", got, err)
		}
		vs, err := f.svc.Visits(ctx, f.caller, ev.ID, a.ID)
		if err != nil || len(vs) != 1 || vs[0].Kind != event.VisitDuringEvent {
			t.Fatalf("visits %+v %v", vs, err)
		}
		if _, err := f.svc.Block(ctx, f.caller, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AcceptChatTerms(ctx, ev.ID, a.ID); code(err) != "attendee_blocked" {
			t.Fatalf("blocked attendee opened chat: %v", err)
		}
	})
}

// Concurrent visits from several tabs all count; the status moves once.
func TestConcurrentVisits(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, nil)
		a := f.seed(t, ev, event.State{Status: event.Invited, Detail: event.InvitedToRegister}, false)
		*f.clock = f.start.Add(time.Minute)
		const n = 20
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() {
				_, err := f.svc.RecordVisit(ctx, ev.ID, a.ID)
				errs <- err
			}()
		}
		for i := 0; i < n; i++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got, _, err := f.svc.GetAttendee(ctx, f.caller, ev.ID, a.ID)
		if err != nil || got.Detail != event.DuringEventVisit {
			t.Fatalf("%+v %v", got, err)
		}
		var visits, entries int64
		db.R.Model(&event.Visit{}).Where("attendee_id = ?", a.ID).Count(&visits)
		db.R.Model(&audit.Entry{}).Where("target_id = ?", a.ID).Count(&entries)
		if visits != n || entries != n {
			t.Fatalf("visits %d, audit entries %d, want %d", visits, entries, n)
		}
	})
}

// Another account reaches neither the event nor its attendees, and an
// unknown action is bad input, not a state conflict.
func TestOtherAccountAndUnknownAction(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, nil)
		a := f.seed(t, ev, event.State{Status: event.Registered, Detail: event.ConfirmedEmail}, false)
		other := event.Caller{AccountID: id.New(), Actor: audit.Actor{Kind: audit.ActorAPIKey, ID: "x"}}
		if _, err := f.svc.Update(ctx, other, ev.ID, a.ID, event.Profile{FirstName: "X", LastName: "Y"}); code(err) != "not_found" {
			t.Fatalf("edit from another account: %v", err)
		}
		if err := f.svc.Remove(ctx, other, ev.ID, a.ID); code(err) != "not_found" {
			t.Fatalf("remove from another account: %v", err)
		}
		if _, err := f.svc.Block(ctx, other, ev.ID, a.ID); code(err) != "not_found" {
			t.Fatalf("block from another account: %v", err)
		}
		if _, err := f.svc.Invite(ctx, other, ev.ID, event.InviteInput{Email: "o@x.test", Profile: event.Profile{FirstName: "O", LastName: "X"}}); code(err) != "not_found" {
			t.Fatalf("invite from another account: %v", err)
		}
		_, _, err := f.svc.Authorize(ctx, f.caller, ev.ID, a.ID, event.Action("delete_forever"))
		if p, _ := problem.As(err); p == nil || p.Kind != problem.Invalid || p.Field != "action" {
			t.Fatalf("unknown action: %v", err)
		}
	})
}

// The same registration submitted ten times at once adds the person once;
// the other submissions are told they are registered already.
func TestConcurrentRegistration(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, nil)
		const n = 10
		codes := make(chan string, n)
		for i := 0; i < n; i++ {
			go func() {
				_, err := f.svc.Register(ctx, ev.ID, event.Identity{Email: "twice@x.test", FirstName: "T", LastName: "W"})
				codes <- code(err)
			}()
		}
		got := map[string]int{}
		for i := 0; i < n; i++ {
			got[<-codes]++
		}
		if got[""] != 1 || got["transition_not_allowed"] != n-1 {
			t.Fatalf("outcomes %v", got)
		}
		var rows int64
		db.R.Model(&event.Attendee{}).Where("event_id = ?", ev.ID).Count(&rows)
		if rows != 1 {
			t.Fatalf("%d attendee rows", rows)
		}
	})
}

// Someone who left the event does not open its chat until they register
// again.
func TestUnregisteredMayNotOpenChat(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, nil)
		a, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: "u@x.test", Profile: event.Profile{FirstName: "U", LastName: "R"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SiteUnregister(ctx, ev, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AcceptChatTerms(ctx, ev.ID, a.ID); code(err) != "not_registered" {
			t.Fatalf("an unregistered attendee opened the chat: %v", err)
		}
		var n int64
		if err := db.R.Raw("SELECT COUNT(*) FROM attendees WHERE id = ? AND chat_terms_accepted_at IS NOT NULL", a.ID).Scan(&n).Error; err != nil || n != 0 {
			t.Fatalf("chat terms accepted: %d rows (%v)", n, err)
		}
	})
}
