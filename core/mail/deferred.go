package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// A deferred message is queued with what its template renders rather than
// with its bodies, and the worker that sends it renders it. A bulk import
// queues one invitation per new attendee in the transaction that adds them:
// rendered there, 100,000 invitations would cost the import most of its
// time and write several kilobytes of HTML, text and calendar per person
// into the database; deferred, each is a few hundred bytes, and the
// rendering happens at sending pace, beside the import.
//
// The subject is rendered when queued, so the outbox shows it and a
// template that cannot render this model is refused then, with the change
// that queued it. The bodies are rendered with the template the catalog
// holds when the message is sent (the subject again with them), which is
// what a template fixed in between should give.

// deferredModel is a deferred message's Model column: the part its batch
// shares, stored once per batch in a ModelBase row named by BaseID, and the
// recipient's own part. Keys are short and empty values left out: a bulk
// import writes one per person. Messages queued before bases had rows of
// their own carry their batch's part inline, in Base.
type deferredModel struct {
	BaseID string          `json:"bid,omitempty"`
	Base   json.RawMessage `json:"b,omitempty"`
	Row    deferredRow     `json:"r"`
}

// ModelBase is the part of their model that the deferred messages of one
// batch share (the resource, organizer, account and calendar invitation),
// written once with them rather than into each: a third of what a bulk
// import's invitation would otherwise store, per person. It names no
// recipient. Bases no queued message names any more are purged by the
// outbox (PurgeModelBases).
type ModelBase struct {
	ID        string    `gorm:"primaryKey;size:36"`
	AccountID string    `gorm:"size:36;not null;index"`
	Base      string    `gorm:"type:text;not null"`
	CreatedAt time.Time `gorm:"not null;index"`
}

// TableName names the table.
func (ModelBase) TableName() string { return "mail_model_bases" }

// deferredBase is the model without the recipient, and the calendar
// invitation's own parts (nil for none): its start, end and summary are the
// resource's schedule and title.
type deferredBase struct {
	Resource  deferredResource  `json:"res"`
	Organizer deferredPerson    `json:"org"`
	Account   string            `json:"acc,omitempty"`
	Calendar  *deferredCalendar `json:"cal,omitempty"`
}

type deferredResource struct {
	Title       string     `json:"t,omitempty"`
	Description string     `json:"d,omitempty"`
	Type        string     `json:"ty,omitempty"`
	TypeID      string     `json:"id,omitempty"`
	Live        bool       `json:"l,omitempty"`
	StartsAt    *time.Time `json:"s,omitempty"`
	EndsAt      *time.Time `json:"e,omitempty"`
	TimeZone    string     `json:"tz,omitempty"`
	Schedule    string     `json:"sc,omitempty"`
}

type deferredPerson struct {
	Name      string `json:"n,omitempty"`
	FirstName string `json:"f,omitempty"`
	LastName  string `json:"l,omitempty"`
	Email     string `json:"e,omitempty"`
}

type deferredCalendar struct {
	Sequence int64     `json:"seq"`
	Stamp    time.Time `json:"at"`
	Details  string    `json:"d,omitempty"`
	// Organizer is set when the invitation's organizer is not the
	// model's (the sender's address stands in for a missing one).
	Organizer *deferredPerson `json:"org,omitempty"`
}

// deferredRow is one recipient's part of the model.
type deferredRow struct {
	Invitee   deferredPerson `json:"i"`
	Role      string         `json:"r,omitempty"`
	RoleID    string         `json:"ri,omitempty"`
	Link      string         `json:"l,omitempty"`
	ExpiresAt time.Time      `json:"x,omitzero"`
	Expires   string         `json:"xs,omitempty"`
	// CalendarUID is the calendar invitation's UID ("" without one).
	CalendarUID string `json:"u,omitempty"`
}

func toDeferred(p Person) deferredPerson       { return deferredPerson(p) }
func (p deferredPerson) person() Person        { return Person(p) }
func (r *deferredResource) resource() Resource { return Resource(*r) }

// deferredBatch writes the Model columns of one batch's messages, which
// name its base.
type deferredBatch struct {
	base ModelBase
}

// newDeferredBatch encodes what the batch's messages share, as a base of
// account accountID made at now: m without its recipient, and cal (nil for
// none) without its attendee, UID and link. A calendar's start, end and
// summary must be m's resource's.
func newDeferredBatch(m *Model, cal *Invite, accountID string, now time.Time) (*deferredBatch, error) {
	b := deferredBase{Resource: deferredResource(m.Resource), Organizer: toDeferred(m.Organizer), Account: m.Account}
	if cal != nil {
		r := m.Resource
		if r.StartsAt == nil || !cal.Start.Equal(*r.StartsAt) || (r.EndsAt == nil) != cal.End.IsZero() ||
			(r.EndsAt != nil && !cal.End.Equal(*r.EndsAt)) || cal.Summary != r.Title {
			return nil, errors.New("mail: a deferred calendar invitation must have its resource's schedule and title")
		}
		b.Calendar = &deferredCalendar{Sequence: cal.Sequence, Stamp: cal.Stamp, Details: cal.Details}
		if cal.Organizer != m.Organizer {
			o := toDeferred(cal.Organizer)
			b.Calendar.Organizer = &o
		}
	}
	enc, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return &deferredBatch{base: ModelBase{ID: id.New(), AccountID: accountID, Base: string(enc), CreatedAt: now}}, nil
}

// column is the Model column of the message for m (a model of the batch,
// filled for its recipient) with calendar UID uid ("" without one).
func (d *deferredBatch) column(m *Model, uid string) (string, error) {
	row, err := json.Marshal(deferredRow{Invitee: toDeferred(m.Invitee), Role: m.Role, RoleID: m.RoleID, Link: m.Link,
		ExpiresAt: m.ExpiresAt, Expires: m.Expires, CalendarUID: uid})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(d.base.ID) + len(row) + 16)
	b.WriteString(`{"bid":"`)
	b.WriteString(d.base.ID)
	b.WriteString(`","r":`)
	b.Write(row)
	b.WriteString(`}`)
	return b.String(), nil
}

// errNoCatalog: a deferred message reached an outbox that cannot render.
var errNoCatalog = errors.New("mail: this outbox has no template catalog to render deferred messages")

// renderDeferred fills a deferred message's subject and bodies from its
// model, with the template its row names as the catalog holds it now. The
// calendar invitation's details end with the recipient's link, as a
// message rendered when queued does. A message that cannot render fails
// with a permanentError; a database error reading the catalog may pass.
func renderDeferred(ctx context.Context, cat *Catalog, m *Message) error {
	if cat == nil {
		return &permanentError{errNoCatalog}
	}
	var d deferredModel
	if err := json.Unmarshal([]byte(m.Model), &d); err != nil {
		return &permanentError{fmt.Errorf("its stored model cannot be read: %w", err)}
	}
	enc := []byte(d.Base)
	if d.BaseID != "" {
		var err error
		if enc, err = cat.base(ctx, d.BaseID); err != nil {
			return err
		}
	}
	var base deferredBase
	if err := json.Unmarshal(enc, &base); err != nil {
		return &permanentError{fmt.Errorf("its stored model cannot be read: %w", err)}
	}
	r := d.Row
	model := Model{Resource: base.Resource.resource(), Organizer: base.Organizer.person(), Account: base.Account,
		Invitee: r.Invitee.person(), Role: r.Role, RoleID: r.RoleID, Link: r.Link, ExpiresAt: r.ExpiresAt, Expires: r.Expires}
	found, cp, err := cat.Lookup(ctx, m.Template, m.Locale)
	var p *problem.Error
	switch {
	case errors.As(err, &p):
		return &permanentError{fmt.Errorf("the email template %s/%s: %w", m.Template, m.Locale, err)}
	case err != nil:
		return fmt.Errorf("the email template %s/%s: %w", m.Template, m.Locale, err)
	}
	out, err := cp.render(&model)
	if err != nil {
		return &permanentError{fmt.Errorf("the email template %s/%s from %s does not render: %w", found.Name, found.Locale, found.Source, err)}
	}
	m.Subject, m.HTML, m.Text = out.Subject, out.HTML, out.Text
	if c := base.Calendar; c != nil {
		in := Invite{UID: r.CalendarUID, Sequence: c.Sequence, Summary: model.Resource.Title, URL: model.Link, Stamp: c.Stamp,
			Details:   strings.TrimSpace(c.Details + "\n\nJoin: " + model.Link),
			Organizer: model.Organizer, Attendee: model.Invitee}
		if s := model.Resource.StartsAt; s != nil {
			in.Start = *s
		}
		if e := model.Resource.EndsAt; e != nil {
			in.End = *e
		}
		if c.Organizer != nil {
			in.Organizer = c.Organizer.person()
		}
		m.ICS = in.ICS()
	}
	return nil
}

// baseCacheSize bounds the bases a catalog keeps: a few batches' worth.
const baseCacheSize = 64

// base is the stored shared part of a deferred model. Bases never change,
// so the catalog keeps the last ones read: the messages of a batch are
// sent one after another.
func (c *Catalog) base(ctx context.Context, id string) ([]byte, error) {
	c.mu.Lock()
	enc, ok := c.bases[id]
	c.mu.Unlock()
	if ok {
		return enc, nil
	}
	var rows []ModelBase
	if err := c.db.R.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("mail: the shared part of a message's model: %w", err)
	}
	if len(rows) == 0 {
		return nil, &permanentError{fmt.Errorf("the shared part of its stored model (%s) is gone", id)}
	}
	enc = []byte(rows[0].Base)
	c.mu.Lock()
	if len(c.bases) >= baseCacheSize {
		clear(c.bases)
	}
	c.bases[id] = enc
	c.mu.Unlock()
	return enc, nil
}

// PurgeModelBases deletes the bases made before before that no message
// still waiting to be sent names: a sent or failed message's model is
// erased. The base's id is read from where column writes it, so no index
// or JSON function is needed, on SQLite and PostgreSQL alike.
func PurgeModelBases(ctx context.Context, db *store.DB, before time.Time) (int64, error) {
	r := db.W.WithContext(ctx).Exec(`DELETE FROM mail_model_bases WHERE created_at < ? AND id NOT IN (
SELECT substr(model, 9, 36) FROM mail_messages WHERE status IN (?, ?) AND model LIKE '{"bid":"%')`, before.UTC(), Queued, Sending)
	if r.Error != nil {
		return 0, fmt.Errorf("mail: purge model bases: %w", r.Error)
	}
	return r.RowsAffected, nil
}

// Bodies fills the subject and bodies of m, a message read from the
// outbox: a deferred message's are rendered from its model exactly as the
// worker sending it will; another's are already there.
func (c *Catalog) Bodies(ctx context.Context, m *Message) error {
	if !m.deferred() {
		return nil
	}
	return renderDeferred(ctx, c, m)
}

// deferred reports whether m waits to be rendered.
func (m *Message) deferred() bool { return m.Model != "" && m.HTML == "" && m.Text == "" }
