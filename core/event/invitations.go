package event

import (
	"context"

	"github.com/invitegate/gateway/core/store"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/token"
)

// The bulk import (core/bulk) adds attendees a batch at a time (batch.go);
// these give it the invitation emails Invite queues, so an imported person
// gets the same email with the same kind of link as one invited from the
// form.

// BatchMailer is a Mailer that can also queue many emails to attendees of
// one event at once, looking up what they share a single time, and work
// them out ahead of the transaction that queues them. Mailers without it
// are called once per email, in that transaction.
type BatchMailer interface {
	// PrepareEventEmails works out the emails es, reading with db.
	PrepareEventEmails(ctx context.Context, db store.Reader, es []*Email) (PreparedEmails, error)
}

// PreparedEmails are emails a BatchMailer prepared: Insert queues, with
// tx, those to the attendees keep accepts (all when keep is nil).
type PreparedEmails interface {
	Insert(ctx context.Context, tx *store.Tx, keep func(attendeeID string) bool) error
}

// EmailReady returns nil when the account's attendees can be emailed, or a
// problem saying why not.
func (s *Service) EmailReady(ctx context.Context, accountID string) error {
	return s.emailReady(ctx, accountID)
}

// QueueInvitations queues the invitation email of each of as, new
// attendees of ev, with tx, the transaction adding them: all commit or
// none. It is PrepareInvitations then Write, both with tx.
func (s *Service) QueueInvitations(ctx context.Context, tx *store.Tx, ev *Event, as []*Attendee, by audit.Actor) error {
	inv, err := s.PrepareInvitations(ctx, tx, ev, as, by)
	if err != nil {
		return err
	}
	return inv.Write(ctx, tx, nil)
}

// Invitations are the invitation emails of attendees about to be added,
// and the login links they carry, worked out before the transaction that
// adds them: a bulk import prepares a batch's while the batch before is
// written, and writes those of the attendees that turn out to be new.
type Invitations struct {
	s        *Service
	links    []Link
	emails   []*Email       // for a mailer without BatchMailer
	prepared PreparedEmails // for a BatchMailer
}

// PrepareInvitations works out the invitation email of each of as,
// attendees of ev, reading with db. Each gets what Invite's email carries
// (see invitationLink); the login links of an invite-only event are made
// here and stored by Write. Call EmailReady before, and WakeMail after the
// commit of Write's transaction.
func (s *Service) PrepareInvitations(ctx context.Context, db store.Reader, ev *Event, as []*Attendee, by audit.Actor) (*Invitations, error) {
	if s.Mail == nil {
		return nil, ErrEmailUnavailable
	}
	inv := &Invitations{s: s}
	if len(as) == 0 {
		return inv, nil
	}
	now := s.now()
	es := make([]*Email, len(as))
	for i, a := range as {
		e := &Email{Template: EmailInvitation, Event: ev, Attendee: a, By: by}
		switch {
		case ev.Registration == RegistrationOpen && a.Detail == InvitedToRegister:
			e.Template, e.Link, e.ExpiresAt = EmailInvitationToRegister, s.EventURL(ev), ev.EndsAt
		case ev.LoginMethod == LoginSSO:
			e.Link, e.ExpiresAt = s.EventURL(ev), ev.EndsAt
		default:
			plain, hash := token.New()
			l := Link{ID: id.New(), AccountID: ev.AccountID, EventID: ev.ID, AttendeeID: a.ID, Kind: LinkLogin,
				TokenHash: hash, CreatedAt: now, ExpiresAt: s.longLinkExpiry(ev).UTC()}
			inv.links = append(inv.links, l)
			e.Link, e.ExpiresAt = s.siteURL("/l/"+plain), l.ExpiresAt
		}
		es[i] = e
	}
	bm, ok := s.Mail.(BatchMailer)
	if !ok {
		inv.emails = es
		return inv, nil
	}
	var err error
	inv.prepared, err = bm.PrepareEventEmails(ctx, db, es)
	return inv, err
}

// Write stores, with tx, the login links and queues the emails of the
// attendees keep accepts (all when keep is nil).
func (inv *Invitations) Write(ctx context.Context, tx *store.Tx, keep func(attendeeID string) bool) error {
	links := inv.links
	if keep != nil {
		links = nil
		for _, l := range inv.links {
			if keep(l.AttendeeID) {
				links = append(links, l)
			}
		}
	}
	if len(links) > 0 {
		if err := tx.CreateInBatches(links, 500).Error; err != nil {
			return err
		}
	}
	if inv.prepared != nil {
		return inv.prepared.Insert(ctx, tx, keep)
	}
	for _, e := range inv.emails {
		if keep != nil && !keep(e.Attendee.ID) {
			continue
		}
		if err := inv.s.Mail.QueueEventEmail(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// WakeMail tells the outbox that messages wait.
func (s *Service) WakeMail() { s.wake() }
