package mail

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// Service renders and queues the gateway's emails; it is the invite.Mailer
// the invitation service uses.
type Service struct {
	DB      *store.DB
	Catalog *Catalog
	// BaseURL is the gateway's public URL; links are built from it.
	BaseURL string
	// From is the sender ("Name <addr>"); its domain ends Message-IDs and
	// calendar UIDs.
	From string
	// Outbox delivers; nil means this gateway has no SMTP configured: emails
	// are neither offered nor queued.
	Outbox *Outbox
	// Views records the loads of links' pages (nil without an outbox:
	// no email, nothing to tell apart); Bounces reads delivery status
	// notifications (nil when no maildir is configured).
	Views   *ViewLog
	Bounces *Bounces
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) domain() string {
	if a, err := ParseFrom(s.From); err == nil {
		return Domain(a.Address)
	}
	return "localhost"
}

// Enabled reports whether this gateway delivers email.
func (s *Service) Enabled() bool { return s != nil && s.Outbox != nil }

// InvitationEmailReady implements invite.Mailer.
func (s *Service) InvitationEmailReady(ctx context.Context, set *invite.Settings) error {
	if !s.Enabled() {
		return ErrDeliveryOff
	}
	if set.EmailTemplate == "" {
		return ErrNoTemplate
	}
	ok, err := s.Catalog.Has(ctx, set.EmailTemplate)
	if err != nil {
		return err
	}
	if !ok {
		return problem.New(problem.Conflict, "email_template_not_found", fmt.Sprintf("the account's invitation email template %q is not supplied by any template source; an admin can choose another in the invitation settings", set.EmailTemplate))
	}
	return nil
}

// CheckTemplateName refuses a settings change naming a template no source
// supplies.
func (s *Service) CheckTemplateName(ctx context.Context, name string) error {
	if name == "" {
		return nil
	}
	ok, err := s.Catalog.Has(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return problem.Field("email_template", fmt.Sprintf("no template source supplies a template named %q", name))
	}
	return nil
}

// Wake implements invite.Mailer.
func (s *Service) Wake() {
	if s.Outbox != nil {
		s.Outbox.Wake()
	}
}

// QueueInvitation implements invite.Mailer: it renders the account's
// invitation template (or "resend") and queues it with tx. Live sessions and
// scheduled rooms get a calendar invitation.
func (s *Service) QueueInvitation(ctx context.Context, tx *store.Tx, e *invite.InvitationEmail) error {
	if !s.Enabled() {
		return ErrDeliveryOff
	}
	name := e.Settings.EmailTemplate
	if e.Resend {
		name = Resend
	}
	m, err := s.invitationModel(ctx, tx, e)
	if err != nil {
		return err
	}
	found, cp, err := s.Catalog.Lookup(ctx, name, e.Settings.EmailLocale)
	if err != nil {
		return err
	}
	r, err := cp.render(m)
	if err != nil {
		return brokenTemplate(found, err)
	}
	n := NewMessage{
		AccountID: e.Invitation.AccountID, Template: found.Name, Locale: found.Locale,
		ToEmail: e.Invitation.Email, ToName: e.Invitation.Name(), Rendered: *r,
		RefKind: "invitation", RefID: e.Invitation.ID,
	}
	if res := e.Resource; res.StartsAt != nil && res.Type.Scheduled() {
		in := &Invite{
			UID: CalendarUID(res.ID, e.Invitation.Email, s.domain()), Sequence: s.now().Unix(),
			Start: *res.StartsAt, Summary: res.Title, URL: m.Link, Stamp: s.now(),
			Details:   strings.TrimSpace(res.Description + "\n\nJoin: " + m.Link),
			Organizer: m.Organizer, Attendee: m.Invitee,
		}
		if in.Organizer.Email == "" {
			if a, err := ParseFrom(s.From); err == nil {
				in.Organizer = Person{Name: m.Organizer.Name, Email: a.Address}
			}
		}
		if res.EndsAt != nil {
			in.End = *res.EndsAt
		}
		n.ICS = in.ICS()
	}
	_, err = Enqueue(tx, s.domain(), n, s.now())
	return err
}

// invitationModel fills the template model of an invitation email.
func (s *Service) invitationModel(ctx context.Context, tx *store.Tx, e *invite.InvitationEmail) (*Model, error) {
	inv, res := e.Invitation, e.Resource
	var acc account.Account
	if err := tx.WithContext(ctx).Where("id = ?", inv.AccountID).Take(&acc).Error; err != nil {
		return nil, fmt.Errorf("mail: account: %w", err)
	}
	org := Person{Name: acc.Name}
	if e.InvitedBy.UserID != "" {
		if u, err := user.Get(ctx, tx, inv.AccountID, e.InvitedBy.UserID); err == nil {
			org = Person{Name: u.Name(), FirstName: u.FirstName, LastName: u.LastName, Email: u.Email}
			if org.Name == "" {
				org.Name = u.Email
			}
		}
	}
	m := &Model{
		Invitee: Person{Name: inv.Name(), FirstName: inv.FirstName, LastName: inv.LastName, Email: inv.Email},
		Role:    roleName(inv.Role), RoleID: inv.Role,
		Resource:  resourceModel(res),
		Link:      strings.TrimRight(s.BaseURL, "/") + "/i/" + e.Token,
		ExpiresAt: inv.ExpiresAt, Expires: FormatTime(inv.ExpiresAt, res.TimeZone),
		Organizer: org, Account: acc.Name,
	}
	return m, nil
}

func resourceModel(res *resource.Resource) Resource {
	return Resource{
		Title: res.Title, Description: res.Description, Type: typeName(res.Type), TypeID: string(res.Type),
		Live: res.Type.IsLive(), StartsAt: res.StartsAt, EndsAt: res.EndsAt, TimeZone: res.TimeZone,
		Schedule: Schedule(res.StartsAt, res.EndsAt, res.TimeZone),
	}
}

func roleName(r string) string {
	switch r {
	case resource.Moderator:
		return "Moderator"
	case resource.Speaker:
		return "Speaker"
	}
	return "Viewer"
}

func typeName(t resource.Type) string {
	return map[resource.Type]string{resource.Room: "Room", resource.Webcast: "Webcast", resource.Simulive: "Simulive",
		resource.DIYLive: "DIY live session", resource.Video: "Video", resource.Audio: "Audio", resource.Quiz: "Quiz",
		resource.Document: "Document", resource.Image: "Image"}[t]
}

// Preview is a template rendered with the sample model.
type Preview struct {
	Found
	Rendered
	Model *Model `json:"model"`
}

// Preview renders the template name in locale with the sample model.
func (s *Service) Preview(ctx context.Context, name, locale string) (*Preview, error) {
	if !invite.ValidTemplateName(name) {
		return nil, problem.New(problem.NotFound, "email_template_not_found", "there is no email template with this name: names are lower-case letters, digits, '_', '-' or '.'")
	}
	if msg := localeProblem(locale); msg != "" {
		return nil, problem.Field("locale", msg)
	}
	found, cp, err := s.Catalog.Lookup(ctx, name, locale)
	if err != nil {
		return nil, err
	}
	m := SampleModel(s.now())
	r, err := cp.render(m)
	if err != nil {
		return nil, problem.New(problem.Conflict, "email_template_broken", fmt.Sprintf("the template %s/%s from %s does not render: %v", found.Name, found.Locale, found.Source, err))
	}
	return &Preview{Found: *found, Rendered: *r, Model: m}, nil
}

// SendTest queues the template rendered with the sample model to one
// address, so an admin sees what people will get.
func (s *Service) SendTest(ctx context.Context, accountID string, who audit.Actor, name, locale, to string) (*Message, error) {
	if !s.Enabled() {
		return nil, ErrDeliveryOff
	}
	var fs problem.Fields
	addr, err := user.NormalizeEmail(to)
	if err != nil {
		fs.Add("to", err.Error())
	}
	if msg := localeProblem(locale); msg != "" {
		fs.Add("locale", msg)
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	p, err := s.Preview(ctx, name, locale)
	if err != nil {
		return nil, err
	}
	var msg *Message
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		var err error
		msg, err = Enqueue(tx, s.domain(), NewMessage{
			AccountID: accountID, Template: p.Name, Locale: p.Locale, ToEmail: addr,
			Rendered: Rendered{Subject: "[Test] " + p.Subject, HTML: p.HTML, Text: p.Text}, RefKind: "test",
		}, s.now())
		if err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "mail.test_sent", "mail_message", msg.ID, map[string]any{"template": p.Name, "locale": p.Locale, "to": addr})
	})
	if err != nil {
		return nil, err
	}
	s.Wake()
	return msg, nil
}

var _ invite.Mailer = (*Service)(nil)

// localeProblem says what is wrong with a requested locale ("" when
// nothing is; empty means the default).
func localeProblem(locale string) string {
	switch {
	case locale == "" || invite.ValidLocale(locale):
		return ""
	case len(locale) > invite.MaxLocale:
		return fmt.Sprintf("locale is longer than %d characters; use a locale tag such as en or fr-CA", invite.MaxLocale)
	}
	return fmt.Sprintf("%q is not a locale tag such as en or fr-CA", locale)
}
