package mail

import (
	"context"
	"fmt"

	"github.com/invitegate/gateway/core/store"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/user"
)

// EventEmailReady implements event.Mailer. Event emails use the built-in
// template names (invitation, registration_confirmation...), so the only
// precondition is delivery.
func (s *Service) EventEmailReady(ctx context.Context, accountID string) error {
	if !s.Enabled() {
		return ErrDeliveryOff
	}
	return nil
}

// QueueEventEmail implements event.Mailer: it renders the template e names
// in the account's email locale and queues it with tx, ref "attendee" and
// the attendee's id, so LastDeliveries gives an attendee's last email.
// Everything but the login link also carries a calendar invitation for the
// event.
func (s *Service) QueueEventEmail(ctx context.Context, tx *store.Tx, e *event.Email) error {
	if !s.Enabled() {
		return ErrDeliveryOff
	}
	ev, a := e.Event, e.Attendee
	acc, err := account.Get(ctx, tx, ev.AccountID)
	if err != nil {
		return fmt.Errorf("mail: account: %w", err)
	}
	locale := DefaultLocale
	if set, err := invite.LoadSettings(ctx, tx, ev.AccountID); err == nil && set.EmailLocale != "" {
		locale = set.EmailLocale
	}
	m := s.eventModel(ctx, tx, acc, e)
	found, cp, err := s.Catalog.Lookup(ctx, e.Template, locale)
	if err != nil {
		return err
	}
	r, err := cp.render(m)
	if err != nil {
		return brokenTemplate(found, err)
	}
	n := NewMessage{
		AccountID: ev.AccountID, Template: found.Name, Locale: found.Locale,
		ToEmail: string(a.Email), ToName: a.Name(), Rendered: *r,
		RefKind: "attendee", RefID: a.ID,
	}
	if e.Template != event.EmailLoginLink {
		in := &Invite{
			UID: CalendarUID(ev.ID, string(a.Email), s.domain()), Sequence: s.now().Unix(),
			Start: ev.StartsAt, End: ev.EndsAt, Summary: ev.Name, URL: m.Link, Stamp: s.now(),
			Details:   "Join: " + m.Link,
			Organizer: m.Organizer, Attendee: m.Invitee,
		}
		if in.Organizer.Email == "" {
			if f, err := ParseFrom(s.From); err == nil {
				in.Organizer = Person{Name: m.Organizer.Name, Email: f.Address}
			}
		}
		n.ICS = in.ICS()
	}
	_, err = Enqueue(tx, s.domain(), n, s.now())
	return err
}

// eventModel fills the template model of an event email: the event is the
// Resource (type "Event"), the attendee the Invitee, their highest event
// role the Role.
func (s *Service) eventModel(ctx context.Context, tx store.Reader, acc *account.Account, e *event.Email) *Model {
	ev, a := e.Event, e.Attendee
	org := Person{Name: acc.Name}
	if e.By.Kind == audit.ActorUser {
		if u, err := user.Get(ctx, tx, ev.AccountID, e.By.ID); err == nil {
			org = Person{Name: u.Name(), FirstName: u.FirstName, LastName: u.LastName, Email: u.Email}
			if org.Name == "" {
				org.Name = u.Email
			}
		}
	}
	start, end := ev.StartsAt, ev.EndsAt
	m := &Model{
		Invitee: Person{Name: a.Name(), FirstName: a.FirstName, LastName: a.LastName, Email: string(a.Email)},
		Resource: Resource{
			Title: ev.Name, Type: "Event", TypeID: "event", Live: true,
			StartsAt: &start, EndsAt: &end, TimeZone: ev.TimeZone,
			Schedule: Schedule(&start, &end, ev.TimeZone),
		},
		Link:      e.Link,
		ExpiresAt: e.ExpiresAt,
		Organizer: org,
		Account:   acc.Name,
	}
	m.RoleID, m.Role = eventRole(a)
	if !e.ExpiresAt.IsZero() {
		m.Expires = FormatTime(e.ExpiresAt, ev.TimeZone)
	}
	return m
}

// eventRole is the attendee's most specific event role: what an
// invitation says they are invited as.
func eventRole(a *event.Attendee) (id, name string) {
	switch {
	case a.Organizer:
		return event.RoleOrganizer, "Organizer"
	case a.Moderator:
		return event.RoleModerator, "Moderator"
	case a.Speaker:
		return event.RoleSpeaker, "Speaker"
	}
	return event.RoleAttendee, "Attendee"
}

var _ event.Mailer = (*Service)(nil)
