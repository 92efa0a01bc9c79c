package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/problem"
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
// shares, written once per batch, and the recipient's own part.
type deferredModel struct {
	Base deferredBase `json:"b"`
	Row  deferredRow  `json:"r"`
}

// deferredBase is the model without the recipient, and the calendar
// invitation without its attendee, UID and link (nil for none).
type deferredBase struct {
	Model    Model   `json:"m"`
	Calendar *Invite `json:"c,omitempty"`
}

// deferredRow is one recipient's part of the model.
type deferredRow struct {
	Invitee   Person    `json:"i"`
	Role      string    `json:"r,omitempty"`
	RoleID    string    `json:"ri,omitempty"`
	Link      string    `json:"l,omitempty"`
	ExpiresAt time.Time `json:"x,omitempty"`
	Expires   string    `json:"xs,omitempty"`
	// CalendarUID is the calendar invitation's UID ("" without one).
	CalendarUID string `json:"u,omitempty"`
}

// deferredBatch writes the Model columns of one batch's messages.
type deferredBatch struct {
	base []byte
}

// newDeferredBatch encodes what the batch's messages share: m and cal with
// their recipient fields left empty.
func newDeferredBatch(m *Model, cal *Invite) (*deferredBatch, error) {
	b := deferredBase{Model: *m, Calendar: cal}
	b.Model.Invitee, b.Model.Role, b.Model.RoleID, b.Model.Link, b.Model.ExpiresAt, b.Model.Expires = Person{}, "", "", "", time.Time{}, ""
	if cal != nil {
		c := *cal
		c.UID, c.URL, c.Attendee = "", "", Person{}
		b.Calendar = &c
	}
	enc, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return &deferredBatch{base: enc}, nil
}

// column is the Model column of the message for m (a model of the batch,
// filled for its recipient) with calendar UID uid ("" without one).
func (d *deferredBatch) column(m *Model, uid string) (string, error) {
	row, err := json.Marshal(deferredRow{Invitee: m.Invitee, Role: m.Role, RoleID: m.RoleID, Link: m.Link,
		ExpiresAt: m.ExpiresAt, Expires: m.Expires, CalendarUID: uid})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(d.base) + len(row) + 12)
	b.WriteString(`{"b":`)
	b.Write(d.base)
	b.WriteString(`,"r":`)
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
	model := d.Base.Model
	r := d.Row
	model.Invitee, model.Role, model.RoleID, model.Link, model.ExpiresAt, model.Expires = r.Invitee, r.Role, r.RoleID, r.Link, r.ExpiresAt, r.Expires
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
	if c := d.Base.Calendar; c != nil {
		in := *c
		in.UID, in.URL, in.Attendee = r.CalendarUID, model.Link, model.Invitee
		in.Details = strings.TrimSpace(in.Details + "\n\nJoin: " + model.Link)
		m.ICS = in.ICS()
	}
	return nil
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
