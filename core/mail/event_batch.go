package mail

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// QueueEventEmails queues the emails QueueEventEmail would queue one by
// one, for many attendees of one event sent by one person, with tx: it is
// PrepareEventEmails then Insert, both with tx.
func (s *Service) QueueEventEmails(ctx context.Context, tx *store.Tx, es []*event.Email) error {
	p, err := s.PrepareEventEmails(ctx, tx, es)
	if err != nil {
		return err
	}
	return p.Insert(ctx, tx, nil)
}

// PreparedEmails are a batch's messages, rendered as far as they are
// before the transaction that queues them.
type PreparedEmails struct {
	s     *Service
	one   []*event.Email // a batch of mixed events or senders: queued one by one
	msgs  []Message
	bases []*ModelBase // the shared parts of msgs' models
}

// PrepareEventEmails implements event.BatchMailer: it works out, reading
// with db, the messages of es, many attendees of one event sent by one
// person (a bulk import's batch), for Insert to write later. The account,
// locale, organizer, event model and templates are looked up once. The
// messages are deferred (see deferred.go): each carries its rendered
// subject and its model, and the worker renders its bodies and calendar
// invitation, the same as QueueEventEmail's, when it sends it. The first
// message of each template is rendered whole here, so a template that
// cannot render the event's model refuses the batch.
//
// A bulk import prepares a batch's messages while the batch before is
// being written, so that this work, most of queueing them, is not done on
// the single SQLite writer.
func (s *Service) PrepareEventEmails(ctx context.Context, db store.Reader, es []*event.Email) (event.PreparedEmails, error) {
	if !s.Enabled() {
		return nil, ErrDeliveryOff
	}
	p := &PreparedEmails{s: s}
	if len(es) == 0 {
		return p, nil
	}
	first := es[0]
	for _, e := range es[1:] {
		if e.Event.ID != first.Event.ID || e.By != first.By {
			p.one = es
			return p, nil
		}
	}
	ev := first.Event
	acc, err := account.Get(ctx, db, ev.AccountID)
	if err != nil {
		return nil, fmt.Errorf("mail: account: %w", err)
	}
	locale := DefaultLocale
	if set, err := invite.LoadSettings(ctx, db, ev.AccountID); err == nil && set.EmailLocale != "" {
		locale = set.EmailLocale
	}
	shared := s.eventModel(ctx, db, acc, first)
	now, domain := s.now(), s.domain()
	// The calendar invitation every email but the login link carries;
	// its organizer is the sender's address when the organizer has none.
	cal := &Invite{Sequence: now.Unix(), Start: ev.StartsAt, End: ev.EndsAt, Summary: ev.Name, Stamp: now, Organizer: shared.Organizer}
	if cal.Organizer.Email == "" {
		if f, err := ParseFrom(s.From); err == nil {
			cal.Organizer = Person{Name: shared.Organizer.Name, Email: f.Address}
		}
	}
	type tpl struct {
		found *Found
		cp    *compiled
		batch *deferredBatch
		cal   bool
	}
	tpls := map[string]*tpl{}
	expires := map[time.Time]string{}
	msgs := make([]Message, 0, len(es))
	for _, e := range es {
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
		t, ok := tpls[e.Template]
		if !ok {
			found, cp, err := s.Catalog.Lookup(ctx, e.Template, locale)
			if err != nil {
				return nil, err
			}
			if _, err := cp.render(&m); err != nil {
				return nil, brokenTemplate(found, err)
			}
			t = &tpl{found: found, cp: cp, cal: e.Template != event.EmailLoginLink}
			var c *Invite
			if t.cal {
				c = cal
			}
			if t.batch, err = newDeferredBatch(&m, c, ev.AccountID, now); err != nil {
				return nil, fmt.Errorf("mail: queue messages: %w", err)
			}
			p.bases = append(p.bases, &t.batch.base)
			tpls[e.Template] = t
		}
		subject, err := t.cp.renderSubject(&m)
		if err != nil {
			return nil, brokenTemplate(t.found, err)
		}
		uid := ""
		if t.cal {
			uid = CalendarUID(ev.ID, string(a.Email), domain)
		}
		model, err := t.batch.column(&m, uid)
		if err != nil {
			return nil, fmt.Errorf("mail: queue messages: %w", err)
		}
		mid := id.New()
		msg := Message{
			ID: mid, AccountID: ev.AccountID, Template: t.found.Name, Locale: t.found.Locale,
			ToEmail: string(a.Email), ToName: a.Name(), Subject: subject, Model: model,
			MessageID: "<" + mid + "@" + domain + ">", RefKind: "attendee", RefID: a.ID,
			Status: Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
		if msg.ToEmail == "" {
			return nil, fmt.Errorf("mail: a message needs a recipient and a subject")
		}
		msgs = append(msgs, msg)
	}
	p.msgs = msgs
	return p, nil
}

// Insert queues, with tx, the prepared messages to the attendees keep
// accepts (all of them when keep is nil).
func (p *PreparedEmails) Insert(ctx context.Context, tx *store.Tx, keep func(attendeeID string) bool) error {
	for _, e := range p.one {
		if keep == nil || keep(e.Attendee.ID) {
			if err := p.s.QueueEventEmail(ctx, tx, e); err != nil {
				return err
			}
		}
	}
	msgs := p.msgs
	if keep != nil {
		// Usually every message is kept: the prepared ones are then
		// written as they are, not copied.
		all := true
		for i := range p.msgs {
			if !keep(p.msgs[i].RefID) {
				all = false
				break
			}
		}
		if !all {
			msgs = make([]Message, 0, len(p.msgs))
			for i := range p.msgs {
				if keep(p.msgs[i].RefID) {
					msgs = append(msgs, p.msgs[i])
				}
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	// The bases the kept messages name, written with them.
	var bases []*ModelBase
	for _, b := range p.bases {
		for i := range msgs {
			if strings.HasPrefix(msgs[i].Model, `{"bid":"`+b.ID+`"`) {
				bases = append(bases, b)
				break
			}
		}
	}
	if len(bases) > 0 {
		if err := tx.WithContext(ctx).Create(bases).Error; err != nil {
			return fmt.Errorf("mail: queue messages: %w", err)
		}
	}
	if err := insertMessages(ctx, tx, msgs); err != nil {
		return fmt.Errorf("mail: queue messages: %w", err)
	}
	return nil
}

// brokenTemplate is the problem of a template that does not render.
func brokenTemplate(f *Found, err error) error {
	return problem.New(problem.Conflict, "email_template_broken", fmt.Sprintf("the email template %s/%s from %s does not render: %v", f.Name, f.Locale, f.Source, err))
}

// messagesInsert and messageArgs are the rows Enqueue writes, without
// gorm's reflection on each.
const messagesInsert = `INSERT INTO mail_messages (id, account_id, template, locale, to_email, to_name, subject, html, text, ics, model,
message_id, ref_kind, ref_id, status, attempts, next_attempt_at, created_at, updated_at)`

// messageRows is messagesInsert with the columns a batch's messages share
// (account, empty bodies, status, times) bound once per statement.
var messageRows = store.SharedInsert{Insert: messagesInsert, Shared: []bool{
	false, true, false, false, false, false, false, true, true, true, false,
	false, true, false, true, true, true, true, true}}

// messageArgs appends m's values; at gives a time's argument.
func messageArgs(args []any, m *Message, at func(time.Time) any) []any {
	return append(args, m.ID, m.AccountID, m.Template, m.Locale, m.ToEmail, m.ToName, m.Subject, m.HTML, m.Text, m.ICS, m.Model,
		m.MessageID, m.RefKind, m.RefID, m.Status, m.Attempts, at(m.NextAttemptAt), at(m.CreatedAt), at(m.UpdatedAt))
}

// insertMessages writes queued messages: on PostgreSQL in one statement
// with an array per column (store.Unnest), on SQLite in multi-row INSERTs
// of 50 through one statement prepared for the call, with the columns the
// messages share bound once each (store.SharedInsert). (gorm's statement
// cache prepares again on every execution inside a transaction, and
// SQLite's parse grows with the parameters.)
func insertMessages(ctx context.Context, tx *store.Tx, msgs []Message) error {
	const per = 50
	width := len(messageRows.Shared)
	if tx.Dialector.Name() == "postgres" {
		args := make([]any, 0, len(msgs)*width)
		for i := range msgs {
			args = messageArgs(args, &msgs[i], func(t time.Time) any { return t })
		}
		q, cols, err := store.Unnest(messagesInsert, "", width, args)
		if err != nil {
			return err
		}
		_, err = tx.ExecSQL(q, cols...)
		return err
	}
	// The messages of a batch are queued at one time: it is formatted once.
	var last time.Time
	var lastArg any
	at := func(t time.Time) any {
		if lastArg == nil || t != last {
			last, lastArg = t, store.TimeArgOf(store.SQLite, t)
		}
		return lastArg
	}
	plain := func(n int) string {
		row := "(" + strings.Repeat("?,", width-1) + "?)"
		return messagesInsert + " VALUES " + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
	}
	args := make([]any, 0, min(len(msgs), per)*width)
	var shared []any
	var err error
	var full *sql.Stmt
	if len(msgs) >= per {
		if full, err = tx.PrepareSQL(messageRows.SQL(per)); err != nil {
			return err
		}
		defer full.Close()
	}
	for len(msgs) > 0 {
		n := min(len(msgs), per)
		args = args[:0]
		for i := range msgs[:n] {
			args = messageArgs(args, &msgs[i], at)
		}
		var ok bool
		shared, ok = messageRows.Args(shared[:0], args)
		switch {
		case ok && n == per:
			_, err = full.ExecContext(ctx, shared...)
		case ok:
			_, err = tx.ExecSQL(messageRows.SQL(n), shared...)
		default:
			_, err = tx.ExecSQL(plain(n), args...)
		}
		if err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

var (
	_ event.BatchMailer    = (*Service)(nil)
	_ event.PreparedEmails = (*PreparedEmails)(nil)
)
