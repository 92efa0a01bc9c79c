package invite

import (
	"context"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
)

// Mailer emails invitations through an outbox. core/mail implements it; this
// package knows nothing of templates or SMTP.
type Mailer interface {
	// InvitationEmailReady returns nil when the account can email
	// invitations, or a problem saying why not (no template chosen in the
	// settings, delivery not configured).
	InvitationEmailReady(ctx context.Context, set *Settings) error
	// QueueInvitation renders the email and writes it to the outbox with
	// tx, the transaction creating the invitation: the email exists exactly
	// when the invitation does. An error rolls the invitation back.
	QueueInvitation(ctx context.Context, tx *store.Tx, e *InvitationEmail) error
	// Wake tells the outbox, after the commit, that a message waits.
	Wake()
}

// InvitationEmail is what QueueInvitation is given.
type InvitationEmail struct {
	Invitation *Invitation
	Resource   *resource.Resource
	Settings   *Settings
	// Token is the link's secret; it leaves this package only here, for the
	// email's link.
	Token string
	// InvitedBy is who created the invitation.
	InvitedBy Caller
	// Resend is true when the link replaces an earlier one.
	Resend bool
}

// ErrEmailUnavailable: this gateway has no mail delivery.
var ErrEmailUnavailable = problem.New(problem.Conflict, "email_unavailable", "email delivery is not configured on this gateway; copy the link and send it yourself")

// emailReady checks, before any change, that an email can be queued.
func (s *Service) emailReady(ctx context.Context, set *Settings) error {
	if s.Mail == nil {
		return ErrEmailUnavailable
	}
	return s.Mail.InvitationEmailReady(ctx, set)
}
