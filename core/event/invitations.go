package event

import (
	"context"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
)

// The bulk import (core/bulk) adds attendees with its own batched
// statements; these give it the invitation email Invite queues, so an
// imported person gets the same email with the same link as one invited
// from the form.

// EmailReady returns nil when the account's attendees can be emailed, or a
// problem saying why not.
func (s *Service) EmailReady(ctx context.Context, accountID string) error {
	return s.emailReady(ctx, accountID)
}

// QueueInvitation queues a's invitation email with tx, the transaction
// adding a: both commit or neither. Call EmailReady before and WakeMail
// after the commit.
func (s *Service) QueueInvitation(ctx context.Context, tx *gorm.DB, ev *Event, a *Attendee, by audit.Actor) error {
	if s.Mail == nil {
		return ErrEmailUnavailable
	}
	tpl, link, exp, err := s.invitationLink(tx, ev, a, false)
	if err != nil {
		return err
	}
	return s.Mail.QueueEventEmail(ctx, tx, &Email{Template: tpl, Event: ev, Attendee: a, Link: link, ExpiresAt: exp, By: by})
}

// WakeMail tells the outbox that messages wait.
func (s *Service) WakeMail() { s.wake() }
