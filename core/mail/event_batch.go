package mail

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
)

// QueueEventEmails implements event.BatchMailer: the emails QueueEventEmail
// would queue one by one, for many attendees of one event sent by one
// person (a bulk import's batch). The account, locale, organizer, event
// model and templates are looked up once, and the messages are written in
// multi-row INSERTs; each message is the one QueueEventEmail writes.
func (s *Service) QueueEventEmails(ctx context.Context, tx *gorm.DB, es []*event.Email) error {
	if !s.Enabled() {
		return ErrDeliveryOff
	}
	if len(es) == 0 {
		return nil
	}
	first := es[0]
	for _, e := range es[1:] {
		if e.Event.ID != first.Event.ID || e.By != first.By {
			for _, e := range es {
				if err := s.QueueEventEmail(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ev := first.Event
	acc, err := account.Get(ctx, tx, ev.AccountID)
	if err != nil {
		return fmt.Errorf("mail: account: %w", err)
	}
	locale := DefaultLocale
	if set, err := invite.LoadSettings(ctx, tx, ev.AccountID); err == nil && set.EmailLocale != "" {
		locale = set.EmailLocale
	}
	shared := s.eventModel(ctx, tx, acc, first)
	type tpl struct {
		found *Found
		cp    *compiled
	}
	tpls := map[string]tpl{}
	expires := map[time.Time]string{}
	now, domain := s.now(), s.domain()
	var sender *Person
	msgs := make([]Message, 0, len(es))
	for _, e := range es {
		t, ok := tpls[e.Template]
		if !ok {
			found, cp, err := s.Catalog.Lookup(ctx, e.Template, locale)
			if err != nil {
				return err
			}
			t = tpl{found, cp}
			tpls[e.Template] = t
		}
		a := e.Attendee
		m := *shared
		m.Invitee = Person{Name: a.Name(), FirstName: a.FirstName, LastName: a.LastName, Email: string(a.Email)}
		m.Link, m.ExpiresAt, m.Expires = e.Link, e.ExpiresAt, ""
		if !e.ExpiresAt.IsZero() {
			x, ok := expires[e.ExpiresAt]
			if !ok {
				x = FormatTime(e.ExpiresAt, ev.TimeZone)
				expires[e.ExpiresAt] = x
			}
			m.Expires = x
		}
		m.RoleID, m.Role = eventRole(a)
		r, err := t.cp.render(&m)
		if err != nil {
			return problem.New(problem.Conflict, "email_template_broken", fmt.Sprintf("the email template %s/%s from %s does not render: %v", t.found.Name, t.found.Locale, t.found.Source, err))
		}
		mid := id.New()
		msg := Message{
			ID: mid, AccountID: ev.AccountID, Template: t.found.Name, Locale: t.found.Locale,
			ToEmail: string(a.Email), ToName: a.Name(), Subject: r.Subject, HTML: r.HTML, Text: r.Text,
			MessageID: "<" + mid + "@" + domain + ">", RefKind: "attendee", RefID: a.ID,
			Status: Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
		if msg.ToEmail == "" || msg.Subject == "" {
			return fmt.Errorf("mail: a message needs a recipient and a subject")
		}
		if e.Template != event.EmailLoginLink {
			org := m.Organizer
			if org.Email == "" {
				if sender == nil {
					sender = &Person{Name: org.Name}
					if f, err := ParseFrom(s.From); err == nil {
						sender.Email = f.Address
					}
				}
				if sender.Email != "" {
					org = *sender
				}
			}
			in := &Invite{
				UID: CalendarUID(ev.ID, string(a.Email), domain), Sequence: now.Unix(),
				Start: ev.StartsAt, End: ev.EndsAt, Summary: ev.Name, URL: m.Link, Stamp: now,
				Details: "Join: " + m.Link, Organizer: org, Attendee: m.Invitee,
			}
			msg.ICS = in.ICS()
		}
		msgs = append(msgs, msg)
	}
	if err := insertMessages(tx, msgs); err != nil {
		return fmt.Errorf("mail: queue messages: %w", err)
	}
	return nil
}

// insertMessages writes queued messages in multi-row INSERTs of 200: the
// rows Enqueue writes, without gorm's reflection on each.
func insertMessages(tx *gorm.DB, msgs []Message) error {
	const row = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?)"
	for len(msgs) > 0 {
		n := min(len(msgs), 200)
		var b strings.Builder
		b.WriteString(`INSERT INTO mail_messages (id, account_id, template, locale, to_email, to_name, subject, html, text, ics,
message_id, ref_kind, ref_id, status, attempts, next_attempt_at, created_at, updated_at) VALUES `)
		args := make([]any, 0, n*17)
		for i, m := range msgs[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(row)
			args = append(args, m.ID, m.AccountID, m.Template, m.Locale, m.ToEmail, m.ToName, m.Subject, m.HTML, m.Text, m.ICS,
				m.MessageID, m.RefKind, m.RefID, m.Status, m.NextAttemptAt, m.CreatedAt, m.UpdatedAt)
		}
		if err := tx.Exec(b.String(), args...).Error; err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

var _ event.BatchMailer = (*Service)(nil)
