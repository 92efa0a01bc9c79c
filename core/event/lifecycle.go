package event

import (
	"context"
	"errors"

	"github.com/invitegate/gateway/core/access"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/core/webhook"
)

// Refusals of the attendee lifecycle.
var (
	ErrAttendeeExists   = &problem.Error{Kind: problem.Conflict, Code: "attendee_exists", Field: "email", Message: "this person is already on the event's list"}
	ErrInviteOnly       = problem.New(problem.Forbidden, "invite_only", "registration for this event is by invitation only")
	ErrWrongLoginMethod = problem.New(problem.Conflict, "wrong_login_method", "this event does not log in by single sign-on")
	ErrStatusChanged    = problem.New(problem.Conflict, "status_changed", "the attendee's status changed meanwhile; reload and try again")
)

// InviteInput is what an organizer gives to invite one person.
type InviteInput struct {
	Email string `json:"email"`
	Profile
	// SendEmail queues the invitation email in the same transaction
	// ("Invite"); false adds the person silently ("Invite without an
	// email").
	SendEmail bool `json:"send_email"`
}

// Invite adds one person to an event as Invited: "invited by team member"
// for an invite-only event, "invited to register" when registration is open
// (they still register on the site). With SendEmail the invitation email
// exists exactly when the attendee does: both commit or neither.
func (s *Service) Invite(ctx context.Context, c Caller, eventID string, in InviteInput) (*Attendee, error) {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	var fs problem.Fields
	email, err := user.NormalizeEmail(in.Email)
	if err != nil {
		fs.Add("email", err.Error())
	} else {
		policy, err := access.LoadPolicy(ctx, s.DB, ev.AccountID)
		if err != nil {
			return nil, err
		}
		if why, err := policy.CheckInvitee(email); err != nil {
			return nil, err
		} else if why != "" {
			fs.Add("email", why)
		}
	}
	in.Profile.validate(&fs)
	if err := fs.Err(); err != nil {
		return nil, err
	}
	if err := s.mayInvite(ctx, s.DB, ev, email); err != nil {
		return nil, err
	}
	if in.SendEmail {
		if err := s.emailReady(ctx, ev.AccountID); err != nil {
			return nil, err
		}
	}
	on := TrigInvite
	if ev.Registration == RegistrationOpen {
		on = TrigInviteToRegister
	}
	to, _ := Next(none, on)
	now := s.now()
	a := &Attendee{ID: id.New(), AccountID: ev.AccountID, EventID: ev.ID, Email: SearchKey(email),
		RegistrationType: RegInvited, Status: to.Status, Detail: to.Detail, CreatedAt: now, UpdatedAt: now}
	in.Profile.apply(a)
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		u, err := user.Resolve(tx, user.Identity{AccountID: ev.AccountID, Email: email, FirstName: a.FirstName, LastName: a.LastName})
		if err != nil {
			return err
		}
		a.UserID = u.ID
		if err := tx.Create(a).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return ErrAttendeeExists
			}
			return err
		}
		if in.SendEmail {
			tpl, link, exp, err := s.invitationLink(tx, ev, a, false)
			if err != nil {
				return err
			}
			if err := s.Mail.QueueEventEmail(ctx, tx, &Email{Template: tpl, Event: ev, Attendee: a, Link: link, ExpiresAt: exp, By: c.Actor}); err != nil {
				return err
			}
		}
		if err := s.Webhooks.Emit(tx, ev.AccountID, webhook.AttendeeCreated, attendeeSubject(a), attendeePayload(a)); err != nil {
			return err
		}
		return audit.Record(tx, ev.AccountID, c.Actor, "attendee.invited", "attendee", a.ID, map[string]any{
			"event_id": ev.ID, "roles": a.Roles(), "detail": a.Detail, "emailed": in.SendEmail,
		})
	})
	if err != nil {
		return nil, err
	}
	if in.SendEmail {
		s.wake()
	}
	return a, nil
}

// GetAttendee loads an attendee of an event of the caller's account.
func (s *Service) GetAttendee(ctx context.Context, c Caller, eventID, attendeeID string) (*Attendee, *Event, error) {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, nil, err
	}
	a, err := loadAttendee(s.DB.R.WithContext(ctx), ev.ID, attendeeID)
	return a, ev, err
}

func loadAttendee(db *gorm.DB, eventID, attendeeID string) (*Attendee, error) {
	if !id.Valid(attendeeID) {
		return nil, problem.ErrNotFound
	}
	var a Attendee
	err := db.Where("event_id = ? AND id = ?", eventID, attendeeID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &a, err
}

// Authorize checks that the organizer may take act on the attendee now; the
// api calls it before actions whose work lives elsewhere (re-send email,
// generate login link, view analytics).
func (s *Service) Authorize(ctx context.Context, c Caller, eventID, attendeeID string, act Action) (*Attendee, *Event, error) {
	a, ev, err := s.GetAttendee(ctx, c, eventID, attendeeID)
	if err != nil {
		return nil, nil, err
	}
	if err := Check(a, ev, act); err != nil {
		return nil, nil, err
	}
	return a, ev, nil
}

// Update is the Edit action: names, roles and speaker details. The email is
// the person's identity and does not change here.
func (s *Service) Update(ctx context.Context, c Caller, eventID, attendeeID string, p Profile) (*Attendee, error) {
	var fs problem.Fields
	p.validate(&fs)
	if err := fs.Err(); err != nil {
		return nil, err
	}
	var out *Attendee
	err := s.organizerAction(ctx, c, eventID, attendeeID, ActionEdit, func(tx *store.Tx, a *Attendee, ev *Event) error {
		p.apply(a)
		a.UpdatedAt = s.now()
		r := tx.Model(&Attendee{}).Where("id = ? AND status = ?", a.ID, a.Status).Updates(map[string]any{
			"first_name": a.FirstName, "last_name": a.LastName, "name_key": a.NameKey, "last_key": a.LastKey,
			"speaker": a.Speaker, "moderator": a.Moderator, "organizer": a.Organizer,
			"title": a.Title, "company": a.Company, "bio": a.Bio, "image_ref": a.ImageRef, "updated_at": a.UpdatedAt,
		})
		if err := rowsOne(r); err != nil {
			return err
		}
		out = a
		return audit.Record(tx, ev.AccountID, c.Actor, "attendee.edited", "attendee", a.ID, map[string]any{"event_id": ev.ID, "roles": a.Roles()})
	})
	return out, err
}

// Remove takes a person off the event (not out of the system): the row,
// its visits and sign-ins go, and their site sessions and unused links are
// revoked in the same transaction, so access ends at once.
func (s *Service) Remove(ctx context.Context, c Caller, eventID, attendeeID string) error {
	return s.organizerAction(ctx, c, eventID, attendeeID, ActionRemove, func(tx *store.Tx, a *Attendee, ev *Event) error {
		if err := s.revokeAccess(tx, a, s.now()); err != nil {
			return err
		}
		if err := tx.Where("attendee_id = ?", a.ID).Delete(&Visit{}).Error; err != nil {
			return err
		}
		if err := tx.Where("attendee_id = ?", a.ID).Delete(&Login{}).Error; err != nil {
			return err
		}
		if err := rowsOne(tx.Where("id = ? AND status = ?", a.ID, a.Status).Delete(&Attendee{})); err != nil {
			return err
		}
		if err := s.Webhooks.Emit(tx, ev.AccountID, webhook.AttendeeRemoved, attendeeSubject(a), attendeePayload(a)); err != nil {
			return err
		}
		return audit.Record(tx, ev.AccountID, c.Actor, "attendee.removed", "attendee", a.ID, map[string]any{"event_id": ev.ID, "status": a.Status})
	})
}

// BlockFromChat stops an attendee from writing in the event's chat.
func (s *Service) BlockFromChat(ctx context.Context, c Caller, eventID, attendeeID string) (*Attendee, error) {
	var out *Attendee
	err := s.organizerAction(ctx, c, eventID, attendeeID, ActionBlockFromChat, func(tx *store.Tx, a *Attendee, ev *Event) error {
		a.BlockedFromChat, a.UpdatedAt = true, s.now()
		r := tx.Model(&Attendee{}).Where("id = ? AND status = ? AND NOT blocked_from_chat", a.ID, a.Status).
			Updates(map[string]any{"blocked_from_chat": true, "updated_at": a.UpdatedAt})
		if err := rowsOne(r); err != nil {
			return err
		}
		out = a
		return audit.Record(tx, ev.AccountID, c.Actor, "attendee.blocked_from_chat", "attendee", a.ID, map[string]any{"event_id": ev.ID})
	})
	return out, err
}

// organizerAction runs fn in a transaction after checking act against the
// attendee as read inside it.
func (s *Service) organizerAction(ctx context.Context, c Caller, eventID, attendeeID string, act Action, fn func(tx *store.Tx, a *Attendee, ev *Event) error) error {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		a, err := loadAttendee(tx.DB, ev.ID, attendeeID)
		if err != nil {
			return err
		}
		if err := Check(a, ev, act); err != nil {
			return err
		}
		return fn(tx, a, ev)
	})
}

// rowsOne turns "no row matched the conditional statement" into
// ErrStatusChanged: another request moved the attendee after it was read.
func rowsOne(r *gorm.DB) error {
	if r.Error != nil {
		return r.Error
	}
	if r.RowsAffected == 0 {
		return ErrStatusChanged
	}
	return nil
}

// Block bars an attendee from the event. It is not an organizer menu action
// (the seed's table has none); access rules and admins call it.
func (s *Service) Block(ctx context.Context, c Caller, eventID, attendeeID string) (*Attendee, error) {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	return s.move(ctx, ev, attendeeID, TrigBlock, &c.Actor, nil)
}

// move applies a trigger to an attendee in one transaction: read, Next,
// conditional UPDATE on the state read, then also (may be nil) and the audit
// entry. who nil means the attendee acts on themselves.
func (s *Service) move(ctx context.Context, ev *Event, attendeeID string, on Trigger, who *audit.Actor, also func(tx *store.Tx, a *Attendee) error) (*Attendee, error) {
	// Two tabs visiting at once both read Invited; the second UPDATE finds
	// Attended and matches nothing. Trying again from the new state is what
	// the person meant, so a lost race is retried a few times.
	for try := 0; ; try++ {
		a, err := s.moveOnce(ctx, ev, attendeeID, on, who, also)
		if err == nil || try == 4 || !errors.Is(err, ErrStatusChanged) {
			return a, err
		}
	}
}

func (s *Service) moveOnce(ctx context.Context, ev *Event, attendeeID string, on Trigger, who *audit.Actor, also func(tx *store.Tx, a *Attendee) error) (*Attendee, error) {
	var out *Attendee
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		a, err := loadAttendee(tx.DB, ev.ID, attendeeID)
		if err != nil {
			return err
		}
		if err := s.apply(tx, ev, a, on, who); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx, a); err != nil {
				return err
			}
		}
		out = a
		return nil
	})
	return out, err
}

// apply moves a (as read in tx) by on, and records it.
func (s *Service) apply(tx *store.Tx, ev *Event, a *Attendee, on Trigger, who *audit.Actor) error {
	from := a.State()
	to, err := Next(from, on)
	if err != nil {
		return err
	}
	actor := audit.Actor{Kind: audit.ActorInvitee, ID: a.UserID}
	if who != nil {
		actor = *who
	}
	if to != from {
		now := s.now()
		r := tx.Model(&Attendee{}).Where("id = ? AND status = ? AND detail = ?", a.ID, from.Status, from.Detail).
			Updates(map[string]any{"status": to.Status, "detail": to.Detail, "updated_at": now})
		if err := rowsOne(r); err != nil {
			return err
		}
		a.Status, a.Detail, a.UpdatedAt = to.Status, to.Detail, now
		if err := s.Webhooks.Emit(tx, ev.AccountID, webhook.AttendeeStatusChanged, attendeeSubject(a), attendeePayload(a,
			"old_status", from.Status, "new_status", to.Status, "old_detail", from.Detail, "new_detail", to.Detail, "trigger", string(on))); err != nil {
			return err
		}
	}
	return audit.Record(tx, ev.AccountID, actor, "attendee."+string(on), "attendee", a.ID, map[string]any{
		"event_id": ev.ID, "from": from.Detail, "to": to.Detail,
	})
}

// siteEvent loads the event an event-site request is about.
func siteEvent(ctx context.Context, db *gorm.DB, eventID string) (*Event, error) {
	if !id.Valid(eventID) {
		return nil, problem.ErrNotFound
	}
	var ev Event
	err := db.WithContext(ctx).Where("id = ?", eventID).Take(&ev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &ev, err
}

// Identity is a person arriving on the event site: the registration form or
// the identity provider's assertion.
type Identity struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// Register is a registration on the event site. An invited or unregistered
// attendee registers their existing row; a new person may register only when
// registration is open. The detail is "registered" until the email is
// confirmed, or "no confirmation required" for events that ask none.
func (s *Service) Register(ctx context.Context, eventID string, in Identity) (*Attendee, error) {
	return s.arrive(ctx, eventID, in, RegSite, func(ev *Event) (Trigger, error) {
		if !ev.ConfirmEmail {
			return TrigRegisterNoConfirmation, nil
		}
		return TrigRegister, nil
	})
}

// arrive applies a site trigger to the person with in's email, adding them
// as a new attendee when they are not on the list and registration is open.
func (s *Service) arrive(ctx context.Context, eventID string, in Identity, regType string, pick func(*Event) (Trigger, error)) (*Attendee, error) {
	ev, err := siteEvent(ctx, s.DB.R, eventID)
	if err != nil {
		return nil, err
	}
	on, err := pick(ev)
	if err != nil {
		return nil, err
	}
	var fs problem.Fields
	email, err := user.NormalizeEmail(in.Email)
	if err != nil {
		fs.Add("email", err.Error())
	}
	p := Profile{FirstName: in.FirstName, LastName: in.LastName}
	p.validate(&fs)
	if err := fs.Err(); err != nil {
		return nil, err
	}
	// Two submissions of the same form race to add the person; the loser
	// tries again and meets the row the winner made.
	for try := 0; ; try++ {
		a, err := s.arriveOnce(ctx, ev, email, p, regType, on)
		if err == nil || try == 2 || !errors.Is(err, ErrStatusChanged) {
			return a, err
		}
	}
}

func (s *Service) arriveOnce(ctx context.Context, ev *Event, email string, p Profile, regType string, on Trigger) (*Attendee, error) {
	var out *Attendee
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		u, err := user.Resolve(tx, user.Identity{AccountID: ev.AccountID, Email: email, FirstName: p.FirstName, LastName: p.LastName})
		if err != nil {
			return err
		}
		out, err = s.arriveTx(ctx, tx, ev, u, p, regType, on)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// arriveTx applies a site trigger, with tx, to the user's place on the
// event, adding them as a new attendee when they are not on the list and
// registration is open; core/access first decides whether they may enter
// at all. A race with another arrival of the same person is
// ErrStatusChanged, for the caller to try again.
func (s *Service) arriveTx(ctx context.Context, tx *store.Tx, ev *Event, u *user.User, p Profile, regType string, on Trigger) (*Attendee, error) {
	var a Attendee
	err := tx.Where("event_id = ? AND user_id = ?", ev.ID, u.ID).Take(&a).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, err
	}
	found := err == nil
	var place *Attendee
	if found {
		place = &a
	}
	// Arriving (a registration, an SSO login) is how someone who left the
	// event comes back, so it is weighed as registering.
	if err := s.decide(ctx, tx, ev, u.Email, place, access.Register); err != nil {
		return nil, err
	}
	if found {
		return &a, s.apply(tx, ev, &a, on, nil)
	}
	if ev.Registration != RegistrationOpen {
		return nil, ErrInviteOnly
	}
	to, err := Next(none, on)
	if err != nil {
		return nil, err
	}
	now := s.now()
	na := &Attendee{ID: id.New(), AccountID: ev.AccountID, EventID: ev.ID, UserID: u.ID, Email: SearchKey(u.Email),
		RegistrationType: regType, Status: to.Status, Detail: to.Detail, CreatedAt: now, UpdatedAt: now}
	p.apply(na)
	if err := tx.Create(na).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return nil, ErrStatusChanged
		}
		return nil, err
	}
	if err := s.Webhooks.Emit(tx, ev.AccountID, webhook.AttendeeCreated, attendeeSubject(na), attendeePayload(na)); err != nil {
		return nil, err
	}
	return na, audit.Record(tx, ev.AccountID, audit.Actor{Kind: audit.ActorInvitee, ID: u.ID}, "attendee."+string(on), "attendee", na.ID, map[string]any{
		"event_id": ev.ID, "from": "", "to": to.Detail,
	})
}

// ConfirmEmail records that a site registrant proved their address.
func (s *Service) ConfirmEmail(ctx context.Context, eventID, attendeeID string) (*Attendee, error) {
	return s.siteMove(ctx, eventID, attendeeID, TrigConfirmEmail)
}

// Unregister is the attendee leaving the event's list of their own accord.
func (s *Service) Unregister(ctx context.Context, eventID, attendeeID string) (*Attendee, error) {
	return s.siteMove(ctx, eventID, attendeeID, TrigUnregister)
}

func (s *Service) siteMove(ctx context.Context, eventID, attendeeID string, on Trigger) (*Attendee, error) {
	ev, err := siteEvent(ctx, s.DB.R, eventID)
	if err != nil {
		return nil, err
	}
	return s.move(ctx, ev, attendeeID, on, nil, nil)
}

// RecordVisit records an attendee arriving on the event site now: before the
// event's start it is a pre-event visit, from the start on a during-event
// visit, and the attendee becomes Attended with that detail (a during-event
// visit is never demoted by a later pre-event one).
func (s *Service) RecordVisit(ctx context.Context, eventID, attendeeID string) (*Visit, error) {
	ev, err := siteEvent(ctx, s.DB.R, eventID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	v := &Visit{ID: id.New(), AttendeeID: attendeeID, EventID: ev.ID, At: now, Kind: ev.VisitKind(now)}
	on := TrigVisitDuringEvent
	if v.Kind == VisitPreEvent {
		on = TrigVisitPreEvent
	}
	_, err = s.move(ctx, ev, attendeeID, on, nil, func(tx *store.Tx, a *Attendee) error {
		return tx.Create(v).Error
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// AcceptChatTerms records that the attendee opened the event's chat and
// accepted its terms, which makes Block from chat possible.
func (s *Service) AcceptChatTerms(ctx context.Context, eventID, attendeeID string) (*Attendee, error) {
	ev, err := siteEvent(ctx, s.DB.R, eventID)
	if err != nil {
		return nil, err
	}
	var out *Attendee
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		a, err := loadAttendee(tx.DB, ev.ID, attendeeID)
		if err != nil {
			return err
		}
		// Only someone who may be on the site now opens its chat.
		if err := s.mayEnter(ctx, tx, ev, string(a.Email), a); err != nil {
			return err
		}
		out = a
		if a.ChatTermsAcceptedAt != nil {
			return nil
		}
		now := s.now()
		a.ChatTermsAcceptedAt = &now
		if err := tx.Model(&Attendee{}).Where("id = ?", a.ID).Update("chat_terms_accepted_at", now).Error; err != nil {
			return err
		}
		return audit.Record(tx, ev.AccountID, audit.Actor{Kind: audit.ActorInvitee, ID: a.UserID}, "attendee.chat_terms_accepted", "attendee", a.ID, map[string]any{"event_id": ev.ID})
	})
	return out, err
}

// Visits returns an attendee's visits, newest first (View analytics).
func (s *Service) Visits(ctx context.Context, c Caller, eventID, attendeeID string) ([]Visit, error) {
	a, _, err := s.Authorize(ctx, c, eventID, attendeeID, ActionViewAnalytics)
	if err != nil {
		return nil, err
	}
	var out []Visit
	err = s.DB.R.WithContext(ctx).Where("attendee_id = ?", a.ID).Order("at DESC, id DESC").Limit(1000).Find(&out).Error
	return out, err
}
