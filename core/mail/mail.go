// Package mail owns the gateway's email: the templates (embedded defaults,
// overridden by what template provider plugins supply), rendering them with
// html/template and text/template against a documented model, and the
// outbox: a message is a row written in the same transaction as the change
// that causes it, delivered over SMTP by workers that claim rows, retry with
// back-off and record each message's outcome.
//
// core/invite queues invitation emails through the small invite.Mailer
// interface that Service implements, so it never sees templates or SMTP.
package mail

import (
	"strings"
	"time"

	"github.com/invitegate/gateway/core/problem"
)

// Template names of the emails the gateway sends. Providers may supply any
// other name too; an account's invitation settings choose which one
// invitations use.
const (
	Invitation               = "invitation"
	InvitationToRegister     = "invitation_to_register"
	RegistrationConfirmation = "registration_confirmation"
	LoginLink                = "login_link"
	Resend                   = "resend"
)

// DefaultLocale is used when an account names none, and is the last
// fallback of every lookup.
const DefaultLocale = "en"

// Template is one email in one locale: a text/template subject, an
// html/template HTML body and a text/template plain body.
type Template struct {
	Name    string `json:"name"`
	Locale  string `json:"locale"`
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
	// Version changes whenever the content does.
	Version string `json:"version"`
}

// Model is what every template renders. Fields that do not apply to an
// email are empty (a media entry has no schedule; a test message has sample
// values).
type Model struct {
	// Invitee is the person the email is for.
	Invitee Person
	// Role is the invitation role as people read it ("Speaker"); RoleID is
	// its code ("speaker").
	Role   string
	RoleID string
	// Resource is the room, live session, media entry or event (an event
	// email's Type is "Event", its Role the attendee's most specific event
	// role: Organizer, Moderator, Speaker or Attendee).
	Resource Resource
	// Link is the invitee's direct link (invite link, login link...).
	Link string
	// ExpiresAt is when the link stops working; Expires is it formatted.
	// Both are empty for a link that does not expire (an event page).
	ExpiresAt time.Time
	Expires   string
	// Organizer is who sent the invitation: the console user, or the
	// account for API calls.
	Organizer Person
	// Account is the organization's name.
	Account string
}

// Person is someone named in an email.
type Person struct {
	Name      string
	FirstName string
	LastName  string
	Email     string
}

// Resource describes what the invitee is invited to.
type Resource struct {
	Title       string
	Description string
	// Type is the kind as people read it ("Webcast"); TypeID its code.
	Type   string
	TypeID string
	// Live is true for webcasts, simulive and DIY live sessions.
	Live bool
	// StartsAt and EndsAt are nil when there is no schedule; Schedule is
	// the schedule written out in the resource's time zone ("" when none).
	StartsAt *time.Time
	EndsAt   *time.Time
	TimeZone string
	Schedule string
}

// Errors of the mail package.
var (
	ErrDeliveryOff = problem.New(problem.Conflict, "email_unavailable", "email delivery is not configured on this gateway (mail.smtp in the config); copy the link and send it yourself")
	ErrNoTemplate  = problem.New(problem.Conflict, "email_template_not_set", "this account has no invitation email template; an admin can choose one in the invitation settings")
)

// localeChain is the lookup order for a locale: itself, its language, then
// the default ("fr-CA" -> fr-CA, fr, en).
func localeChain(locale string) []string {
	out := []string{}
	add := func(l string) {
		for _, x := range out {
			if x == l {
				return
			}
		}
		out = append(out, l)
	}
	if locale != "" {
		add(locale)
		if i := strings.IndexAny(locale, "-_"); i > 0 {
			add(locale[:i])
		}
	}
	add(DefaultLocale)
	return out
}
