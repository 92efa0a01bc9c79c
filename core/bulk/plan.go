package bulk

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
)

// plan is what a batch writes, worked out before its transaction (while
// the batch before is written): the rows it refuses, and for each valid
// row the attendee, audit entry and invitation email it gets should the
// person not be on the event yet, which is the rule in an import. Only
// what depends on the database's rows (which people and attendees exist)
// is left to the transaction, so that the single SQLite writer spends its
// time writing.
type plan struct {
	now    time.Time
	counts Counts // the refusals found here
	probs  []StoredProblem
	valid  []*Row
	// people[i] is valid[i]'s person, to find or create.
	people []user.NewUser
	// fresh[i] is valid[i] as a new attendee (its user id set in the
	// transaction), entries[i] its audit entry.
	fresh   []*event.Attendee
	entries []audit.Entry
	// invites are fresh's invitation emails, when the import sends them.
	invites *event.Invitations
}

// plan works out rows' plan, reading with the reader pool: the lines the
// upload check refused, and what the emails need.
func (b *batch) plan(ctx context.Context, rows []pendingRow) (*plan, error) {
	p := &plan{now: b.s.now()}
	refused, err := checkedLines(ctx, b.s.DB.R, b.job.ID, rows[0].Line, rows[len(rows)-1].Line)
	if err != nil {
		return nil, err
	}
	p.sift(b.job.ID, rows, refused)
	if err := p.refuseOutsiders(ctx, b); err != nil {
		return nil, err
	}
	on := event.TrigInvite
	if b.ev.Registration == event.RegistrationOpen {
		on = event.TrigInviteToRegister
	}
	to, err := event.Next(event.State{}, on)
	if err != nil {
		return nil, err
	}
	p.people = make([]user.NewUser, len(p.valid))
	p.fresh = make([]*event.Attendee, len(p.valid))
	p.entries = make([]audit.Entry, len(p.valid))
	for i, r := range p.valid {
		p.people[i] = user.NewUser{ID: id.New(), Email: r.Email, FirstName: r.FirstName, LastName: r.LastName}
		a := &event.Attendee{ID: id.New(), AccountID: b.ev.AccountID, EventID: b.ev.ID, Email: event.SearchKey(r.Email),
			Speaker: r.Speaker == Yes, Moderator: r.Moderator == Yes,
			Title: r.Title, Company: r.Company, RegistrationType: event.RegInvited, Status: to.Status, Detail: to.Detail,
			CreatedAt: p.now, UpdatedAt: p.now}
		a.SetNames(r.FirstName, r.LastName)
		p.fresh[i] = a
		p.entries[i] = b.entry(p.now, "attendee.invited", a.ID, entryDetail{
			EventID: b.ev.ID, JobID: b.job.ID, Line: r.Line, Roles: a.Roles(), Detail: a.Detail, Emailed: &b.imp.SendEmail})
	}
	if b.imp.SendEmail {
		if p.invites, err = b.s.Events.PrepareInvitations(ctx, b.s.DB, b.ev, p.fresh, b.by); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// sift sorts rows into the valid ones and the refused: those the upload
// check refused, those with problems found on reading them again, and a
// second row of one email.
func (p *plan) sift(jobID string, rows []pendingRow, refused map[int]bool) {
	seen := make(map[string]bool, len(rows))
	for i := range rows {
		r := &rows[i]
		switch {
		case refused[r.Line]:
			p.counts.Refused++
		case len(r.probs) > 0:
			p.counts.Refused++
			for _, pr := range r.probs {
				p.probs = append(p.probs, StoredProblem{JobID: jobID, Line: pr.Line, Column: pr.Column, Email: r.Email, Message: pr.Message, Fix: pr.Fix, Phase: "import"})
			}
		case seen[r.Email]:
			// The check refused duplicates; this only guards the
			// statements of the batch against one that slipped through.
			p.counts.Refused++
			p.probs = append(p.probs, StoredProblem{JobID: jobID, Line: r.Line, Column: ColEmail, Email: r.Email, Message: "email is already in the file", Phase: "import"})
		default:
			seen[r.Email] = true
			p.valid = append(p.valid, &r.Row)
		}
	}
}

// refuseOutsiders refuses, each on its line, the valid rows of people
// core/access does not let the organizer add to the event: on a closed
// event without additional users, those in none of its granted groups.
func (p *plan) refuseOutsiders(ctx context.Context, b *batch) error {
	emails := make([]string, len(p.valid))
	for i, r := range p.valid {
		emails[i] = r.Email
	}
	refused, err := b.s.Events.InviteRefusals(ctx, b.s.DB, b.ev, emails)
	if err != nil || len(refused) == 0 {
		return err
	}
	kept := p.valid[:0]
	for _, r := range p.valid {
		why, ok := refused[r.Email]
		if !ok {
			kept = append(kept, r)
			continue
		}
		p.counts.Refused++
		p.probs = append(p.probs, StoredProblem{JobID: b.job.ID, Line: r.Line, Column: ColEmail, Email: r.Email, Message: problemText(why), Phase: "import"})
	}
	p.valid = kept
	return nil
}

// problemText is a refusal's message without its field.
func problemText(err error) string {
	if pe, ok := problem.As(err); ok {
		return pe.Message
	}
	return err.Error()
}

// checkedLines are the lines of [from, to] the upload check refused,
// read with db.
func checkedLines(ctx context.Context, db *gorm.DB, jobID string, from, to int) (map[int]bool, error) {
	q := "SELECT DISTINCT line FROM bulk_problems WHERE job_id = ? AND phase = 'check' AND line >= ? AND line <= ?"
	var lines []int
	if err := db.WithContext(ctx).Raw(q, jobID, from, to).Scan(&lines).Error; err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(lines))
	for _, l := range lines {
		out[l] = true
	}
	return out, nil
}

// entryDetail is the detail of an imported attendee's audit entry, its
// fields in the order a map's would be written.
type entryDetail struct {
	Detail  event.Detail `json:"detail,omitempty"`
	Emailed *bool        `json:"emailed,omitempty"`
	EventID string       `json:"event_id"`
	JobID   string       `json:"job_id"`
	Line    int          `json:"line"`
	Roles   []string     `json:"roles"`
}

func (b *batch) entry(now time.Time, action, target string, detail entryDetail) audit.Entry {
	d, _ := json.Marshal(detail)
	return audit.Entry{ID: id.New(), AccountID: b.ev.AccountID, At: now, ActorKind: b.by.Kind, ActorID: b.by.ID,
		Action: action, TargetKind: "attendee", TargetID: target, Detail: string(d)}
}
