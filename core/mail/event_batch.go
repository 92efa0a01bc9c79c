package mail

import (
	"context"
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
	r, err := s.newBatchRender(ctx, db, first)
	if err != nil {
		return nil, err
	}
	p.msgs = make([]Message, 0, len(es))
	for _, e := range es {
		msg, err := r.message(ctx, e)
		if err != nil {
			return nil, err
		}
		p.msgs = append(p.msgs, msg)
	}
	p.bases = r.bases
	return p, nil
}

// batchRender is what the messages of one event's batch, sent by one
// person, share: looked up and worked out once.
type batchRender struct {
	s      *Service
	ev     *event.Event
	locale string
	shared *Model
	// cal is the calendar invitation every email but the login link
	// carries.
	cal     *Invite
	now     time.Time
	domain  string
	tpls    map[string]*batchTemplate
	expires map[time.Time]string
	bases   []*ModelBase // the shared parts of the messages' models
}

// batchTemplate is one template of a batch: found, compiled, and the
// deferred batch of its messages.
type batchTemplate struct {
	found *Found
	cp    *compiled
	batch *deferredBatch
	cal   bool
}

// newBatchRender looks up, reading with db, what the messages of first's
// event and sender share: the account, locale, organizer, event model and
// calendar invitation.
func (s *Service) newBatchRender(ctx context.Context, db store.Reader, first *event.Email) (*batchRender, error) {
	ev := first.Event
	acc, err := account.Get(ctx, db, ev.AccountID)
	if err != nil {
		return nil, fmt.Errorf("mail: account: %w", err)
	}
	r := &batchRender{s: s, ev: ev, locale: DefaultLocale, now: s.now(), domain: s.domain(),
		tpls: map[string]*batchTemplate{}, expires: map[time.Time]string{}}
	if set, err := invite.LoadSettings(ctx, db, ev.AccountID); err == nil && set.EmailLocale != "" {
		r.locale = set.EmailLocale
	}
	r.shared = s.eventModel(ctx, db, acc, first)
	// The invitation's organizer is the sender's address when the
	// organizer has none.
	r.cal = &Invite{Sequence: r.now.Unix(), Start: ev.StartsAt, End: ev.EndsAt, Summary: ev.Name, Stamp: r.now, Organizer: r.shared.Organizer}
	if r.cal.Organizer.Email == "" {
		if f, err := ParseFrom(s.From); err == nil {
			r.cal.Organizer = Person{Name: r.shared.Organizer.Name, Email: f.Address}
		}
	}
	return r, nil
}

// message is e's message: its subject rendered, its model to render the
// rest from when it is sent.
func (r *batchRender) message(ctx context.Context, e *event.Email) (Message, error) {
	a := e.Attendee
	m := *r.shared
	m.Invitee = Person{Name: a.Name(), FirstName: a.FirstName, LastName: a.LastName, Email: string(a.Email)}
	m.Link, m.ExpiresAt, m.Expires = e.Link, e.ExpiresAt, ""
	if !e.ExpiresAt.IsZero() {
		x, ok := r.expires[e.ExpiresAt]
		if !ok {
			x = FormatTime(e.ExpiresAt, r.ev.TimeZone)
			r.expires[e.ExpiresAt] = x
		}
		m.Expires = x
	}
	m.RoleID, m.Role = eventRole(a)
	t, err := r.template(ctx, e.Template, &m)
	if err != nil {
		return Message{}, err
	}
	subject, err := t.cp.renderSubject(&m)
	if err != nil {
		return Message{}, brokenTemplate(t.found, err)
	}
	uid := ""
	if t.cal {
		uid = CalendarUID(r.ev.ID, string(a.Email), r.domain)
	}
	model, err := t.batch.column(&m, uid)
	if err != nil {
		return Message{}, fmt.Errorf("mail: queue messages: %w", err)
	}
	mid := id.New()
	msg := Message{
		ID: mid, AccountID: r.ev.AccountID, Template: t.found.Name, Locale: t.found.Locale,
		ToEmail: string(a.Email), ToName: a.Name(), Subject: subject, Model: model,
		MessageID: "<" + mid + "@" + r.domain + ">", RefKind: "attendee", RefID: a.ID,
		Status: Queued, NextAttemptAt: r.now, CreatedAt: r.now, UpdatedAt: r.now,
	}
	if msg.ToEmail == "" {
		return Message{}, fmt.Errorf("mail: a message needs a recipient and a subject")
	}
	return msg, nil
}

// template is the batch's template name, looked up on its first message,
// m: that message is rendered whole, so a template that cannot render the
// event's model refuses the batch.
func (r *batchRender) template(ctx context.Context, name string, m *Model) (*batchTemplate, error) {
	if t, ok := r.tpls[name]; ok {
		return t, nil
	}
	found, cp, err := r.s.Catalog.Lookup(ctx, name, r.locale)
	if err != nil {
		return nil, err
	}
	if _, err := cp.render(m); err != nil {
		return nil, brokenTemplate(found, err)
	}
	t := &batchTemplate{found: found, cp: cp, cal: name != event.EmailLoginLink}
	var c *Invite
	if t.cal {
		c = r.cal
	}
	if t.batch, err = newDeferredBatch(m, c, r.ev.AccountID, r.now); err != nil {
		return nil, fmt.Errorf("mail: queue messages: %w", err)
	}
	r.bases = append(r.bases, &t.batch.base)
	r.tpls[name] = t
	return t, nil
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
	if err := insertMessages(tx, msgs); err != nil {
		return fmt.Errorf("mail: queue messages: %w", err)
	}
	return nil
}

// brokenTemplate is the problem of a template that does not render.
func brokenTemplate(f *Found, err error) error {
	return problem.New(problem.Conflict, "email_template_broken", fmt.Sprintf("the email template %s/%s from %s does not render: %v", f.Name, f.Locale, f.Source, err))
}

// messageRows are the rows insertMessages writes, without gorm's
// reflection on each. The messages of a batch share their account, empty
// bodies, status and times.
var messageRows = store.Rows{Table: "mail_messages",
	Columns: []string{"id", "account_id", "template", "locale", "to_email", "to_name", "subject", "html", "text", "ics", "model",
		"message_id", "ref_kind", "ref_id", "status", "attempts", "next_attempt_at", "created_at", "updated_at"},
	Shared:       []string{"account_id", "html", "text", "ics", "ref_kind", "status", "attempts", "next_attempt_at", "created_at", "updated_at"},
	PerStatement: 50}

// insertMessages writes queued messages in multi-row statements
// (store.Insert): on SQLite 50 to a statement, prepared once for the call,
// as SQLite's parse grows with the parameters.
func insertMessages(tx *store.Tx, msgs []Message) error {
	_, err := tx.Insert(&messageRows, len(msgs), func(args []any, i int) []any {
		m := &msgs[i]
		return append(args, m.ID, m.AccountID, m.Template, m.Locale, m.ToEmail, m.ToName, m.Subject, m.HTML, m.Text, m.ICS, m.Model,
			m.MessageID, m.RefKind, m.RefID, m.Status, m.Attempts, m.NextAttemptAt, m.CreatedAt, m.UpdatedAt)
	})
	return err
}

var (
	_ event.BatchMailer    = (*Service)(nil)
	_ event.PreparedEmails = (*PreparedEmails)(nil)
)
