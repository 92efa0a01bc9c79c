package event

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/store"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
)

// Emails the event service sends; each is the name of a template in
// core/mail (embedded defaults, overridable by template providers).
const (
	// EmailInvitation invites someone to an invite-only event, with a
	// login link (or the event page on an SSO event).
	EmailInvitation = "invitation"
	// EmailInvitationToRegister invites someone to register on the event
	// site of an event with open registration.
	EmailInvitationToRegister = "invitation_to_register"
	// EmailRegistrationConfirmation follows a registration: its link
	// confirms the address when the event asks for that, else signs in.
	EmailRegistrationConfirmation = "registration_confirmation"
	// EmailLoginLink answers the event site's sign-in form.
	EmailLoginLink = "login_link"
	// EmailResend is a re-sent invitation whose new login link replaces
	// the earlier ones.
	EmailResend = "resend"
)

// Mailer is what the event service needs from core/mail: queue one email to
// an attendee in the transaction of the change that causes it, so the email
// exists exactly when the change does. core/mail implements it; this package
// knows nothing of templates or SMTP.
type Mailer interface {
	// EventEmailReady returns nil when the account's attendees can be
	// emailed, or a problem saying why not (no delivery configured).
	EventEmailReady(ctx context.Context, accountID string) error
	// QueueEventEmail renders e and writes it to the outbox with tx. Its
	// ref id is the attendee's id. An error rolls the change back.
	QueueEventEmail(ctx context.Context, tx *store.Tx, e *Email) error
	// Wake tells the outbox, after the commit, that a message waits.
	Wake()
}

// Email is one message to an attendee, as QueueEventEmail receives it.
type Email struct {
	// Template is one of the Email* names.
	Template string
	Event    *Event
	Attendee *Attendee
	// Link is the absolute URL the email carries; its token leaves this
	// package only here and in IssuedLink.
	Link string
	// ExpiresAt is when Link stops working.
	ExpiresAt time.Time
	// By is who caused the email: an organizer, or the attendee on the
	// event site (ActorInvitee).
	By audit.Actor
}

// ErrEmailUnavailable refuses an email on a gateway that sends none.
var ErrEmailUnavailable = problem.New(problem.Conflict, "email_unavailable", "email delivery is not configured on this gateway (mail.smtp in the config); add the person without an email, or generate a login link and send it yourself")

// emailReady checks, before any change, that an email can be queued.
func (s *Service) emailReady(ctx context.Context, accountID string) error {
	if s.Mail == nil {
		return ErrEmailUnavailable
	}
	return s.Mail.EventEmailReady(ctx, accountID)
}

func (s *Service) wake() {
	if s.Mail != nil {
		s.Mail.Wake()
	}
}

// siteURL is an absolute URL of the event site (path starts with "/").
func (s *Service) siteURL(path string) string {
	return strings.TrimRight(s.BaseURL, "/") + path
}

// EventURL is the event site's address.
func (s *Service) EventURL(ev *Event) string { return s.siteURL("/e/" + ev.Slug) }

// invitationLink is what an invitation email to a carries: on an event with
// open registration, the registration page (they still register); on an
// invite-only event that logs in by emailed link, a fresh login link; on an
// SSO event, the event page, where they sign in through the identity
// provider. resend revokes the attendee's earlier unused login links first.
func (s *Service) invitationLink(tx *store.Tx, ev *Event, a *Attendee, resend bool) (template, link string, exp time.Time, err error) {
	now := s.now()
	switch {
	case ev.Registration == RegistrationOpen && a.Detail == InvitedToRegister:
		return EmailInvitationToRegister, s.EventURL(ev), ev.EndsAt, nil
	case ev.LoginMethod == LoginSSO:
		return EmailInvitation, s.EventURL(ev), ev.EndsAt, nil
	}
	if resend {
		if err := revokeLinks(tx, a.ID, LinkLogin, now); err != nil {
			return "", "", time.Time{}, err
		}
	}
	tok, l, err := issueLink(tx, ev, a, LinkLogin, s.longLinkExpiry(ev), now)
	if err != nil {
		return "", "", time.Time{}, err
	}
	template = EmailInvitation
	if resend {
		template = EmailResend
	}
	return template, s.siteURL("/l/" + tok), l.ExpiresAt, nil
}

// ResendInvitation emails an invited attendee their invitation again. On an
// invite-only event that logs in by emailed link, the email carries a new
// login link and the earlier unused ones stop working.
func (s *Service) ResendInvitation(ctx context.Context, c Caller, eventID, attendeeID string) (*Attendee, error) {
	if err := s.emailReady(ctx, c.AccountID); err != nil {
		return nil, err
	}
	var out *Attendee
	err := s.organizerAction(ctx, c, eventID, attendeeID, ActionResendInvitation, func(tx *store.Tx, a *Attendee, ev *Event) error {
		tpl, link, exp, err := s.invitationLink(tx, ev, a, true)
		if err != nil {
			return err
		}
		if err := s.Mail.QueueEventEmail(ctx, tx, &Email{Template: tpl, Event: ev, Attendee: a, Link: link, ExpiresAt: exp, By: c.Actor}); err != nil {
			return err
		}
		out = a
		return audit.Record(tx, ev.AccountID, c.Actor, "attendee.invitation_resent", "attendee", a.ID, map[string]any{"event_id": ev.ID, "template": tpl})
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return out, nil
}

// confirmationLink is what a registration confirmation carries: a confirm
// link while the address is unconfirmed (earlier unused ones are revoked),
// else a login link, or the event page on an SSO event.
func (s *Service) confirmationLink(tx *store.Tx, ev *Event, a *Attendee, loginTTL time.Time) (link string, exp time.Time, err error) {
	now := s.now()
	kind := LinkLogin
	switch {
	case a.Status == Registered && a.Detail == DetailRegistered:
		kind = LinkConfirm
		if err := revokeLinks(tx, a.ID, LinkConfirm, now); err != nil {
			return "", time.Time{}, err
		}
	case ev.LoginMethod == LoginSSO:
		// The event page, where they sign in through the identity
		// provider: it does not expire.
		return s.EventURL(ev), time.Time{}, nil
	}
	tok, l, err := issueLink(tx, ev, a, kind, loginTTL, now)
	if err != nil {
		return "", time.Time{}, err
	}
	if kind == LinkConfirm {
		return s.siteURL("/e/" + ev.Slug + "/confirm/" + tok), l.ExpiresAt, nil
	}
	return s.siteURL("/l/" + tok), l.ExpiresAt, nil
}

// ResendConfirmation emails a registered attendee their registration
// confirmation again, with a new confirm link while their address is not
// confirmed yet.
func (s *Service) ResendConfirmation(ctx context.Context, c Caller, eventID, attendeeID string) (*Attendee, error) {
	if err := s.emailReady(ctx, c.AccountID); err != nil {
		return nil, err
	}
	var out *Attendee
	err := s.organizerAction(ctx, c, eventID, attendeeID, ActionResendRegistration, func(tx *store.Tx, a *Attendee, ev *Event) error {
		link, exp, err := s.confirmationLink(tx, ev, a, s.longLinkExpiry(ev))
		if err != nil {
			return err
		}
		if err := s.Mail.QueueEventEmail(ctx, tx, &Email{Template: EmailRegistrationConfirmation, Event: ev, Attendee: a, Link: link, ExpiresAt: exp, By: c.Actor}); err != nil {
			return err
		}
		out = a
		return audit.Record(tx, ev.AccountID, c.Actor, "attendee.registration_confirmation_resent", "attendee", a.ID, map[string]any{"event_id": ev.ID})
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return out, nil
}

// IssuedLink is a login link an organizer generated to hand over
// themselves.
type IssuedLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// GenerateLoginLink makes a single-use login link for an invited or
// registered attendee of an event that logs in by emailed link. Earlier
// links keep working; each signs in once.
func (s *Service) GenerateLoginLink(ctx context.Context, c Caller, eventID, attendeeID string) (*IssuedLink, error) {
	var out *IssuedLink
	err := s.organizerAction(ctx, c, eventID, attendeeID, ActionGenerateLoginLink, func(tx *store.Tx, a *Attendee, ev *Event) error {
		tok, l, err := issueLink(tx, ev, a, LinkLogin, s.longLinkExpiry(ev), s.now())
		if err != nil {
			return err
		}
		out = &IssuedLink{URL: s.siteURL("/l/" + tok), ExpiresAt: l.ExpiresAt}
		return audit.Record(tx, ev.AccountID, c.Actor, "attendee.login_link_generated", "attendee", a.ID, map[string]any{
			"event_id": ev.ID, "link_id": l.ID, "expires_at": l.ExpiresAt,
		})
	})
	return out, err
}

// Analytics is what View analytics shows of one attendee.
type Analytics struct {
	Visits []Visit `json:"visits"`
	Logins []Login `json:"logins"`
}

// Analytics returns an attendee's visits and sign-ins, newest first.
func (s *Service) Analytics(ctx context.Context, c Caller, eventID, attendeeID string) (*Analytics, error) {
	a, _, err := s.Authorize(ctx, c, eventID, attendeeID, ActionViewAnalytics)
	if err != nil {
		return nil, err
	}
	out := &Analytics{Visits: []Visit{}, Logins: []Login{}}
	db := s.DB.R.WithContext(ctx)
	if err := db.Where("attendee_id = ?", a.ID).Order("at DESC, id DESC").Limit(1000).Find(&out.Visits).Error; err != nil {
		return nil, fmt.Errorf("event: visits: %w", err)
	}
	if err := db.Where("attendee_id = ?", a.ID).Order("at DESC, id DESC").Limit(1000).Find(&out.Logins).Error; err != nil {
		return nil, fmt.Errorf("event: logins: %w", err)
	}
	return out, nil
}
