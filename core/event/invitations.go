package event

import (
	"context"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/token"
)

// The bulk import (core/bulk) adds attendees with its own batched
// statements; these give it the invitation emails Invite queues, so an
// imported person gets the same email with the same kind of link as one
// invited from the form.

// BatchMailer is a Mailer that can also queue many emails to attendees of
// one event at once, looking up what they share a single time. Mailers
// without it are called once per email.
type BatchMailer interface {
	QueueEventEmails(ctx context.Context, tx *gorm.DB, es []*Email) error
}

// EmailReady returns nil when the account's attendees can be emailed, or a
// problem saying why not.
func (s *Service) EmailReady(ctx context.Context, accountID string) error {
	return s.emailReady(ctx, accountID)
}

// QueueInvitations queues the invitation email of each of as, new
// attendees of ev, with tx, the transaction adding them: all commit or
// none. Each gets what Invite's email carries (see invitationLink); the
// login links of an invite-only event are stored in one multi-row INSERT.
// Call EmailReady before and WakeMail after the commit.
func (s *Service) QueueInvitations(ctx context.Context, tx *gorm.DB, ev *Event, as []*Attendee, by audit.Actor) error {
	if s.Mail == nil {
		return ErrEmailUnavailable
	}
	if len(as) == 0 {
		return nil
	}
	now := s.now()
	es := make([]*Email, len(as))
	var links []Link
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
			links = append(links, l)
			e.Link, e.ExpiresAt = s.siteURL("/l/"+plain), l.ExpiresAt
		}
		es[i] = e
	}
	if len(links) > 0 {
		if err := tx.CreateInBatches(links, 500).Error; err != nil {
			return err
		}
	}
	if bm, ok := s.Mail.(BatchMailer); ok {
		return bm.QueueEventEmails(ctx, tx, es)
	}
	for _, e := range es {
		if err := s.Mail.QueueEventEmail(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// WakeMail tells the outbox that messages wait.
func (s *Service) WakeMail() { s.wake() }
