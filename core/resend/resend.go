// Package resend owns bulk resends: an organizer's "Resend to these" on a
// filtered All users list (for example every attendee whose last email
// failed) becomes a job (core/job) that emails each of them again through
// the outbox, with progress the console polls at /jobs/{id}.
//
// The set is the list as it was when the organizer asked: its attendee ids
// are kept with the job, because resending changes the very delivery
// status the filter looked at. Each attendee is resent only if their status
// allows "Re-send email" in the seed's action table (core/event.Allowed);
// the others are counted as skipped, by status.
package resend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Kind is the job kind of a bulk resend.
const Kind = "bulk_resend"

// MaxAttendees bounds one bulk resend.
const MaxAttendees = 100000

// Batch is what a bulk resend job works through.
type Batch struct {
	JobID     string `gorm:"primaryKey;size:36"`
	AccountID string `gorm:"size:36;not null;index"`
	EventID   string `gorm:"size:36;not null"`
	// Attendees is the JSON array of the attendee ids to resend to, in
	// the list's order; the job's Processed is how far it got.
	Attendees string `gorm:"type:text;not null"`
	CreatedAt time.Time
}

// TableName names the table.
func (Batch) TableName() string { return "resend_batches" }

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{{Model: &Batch{}, NoPersonalData: "a bulk resend's attendee ids: they name no one once the attendee rows are gone"}}
}

// Counts is what a bulk resend did, as its job's counts.
type Counts struct {
	Resent  int `json:"resent"`
	Skipped int `json:"skipped"`
	// SkippedBy says why each skipped attendee was: their status
	// ("attended", "blocked"...: no Re-send email in the action table),
	// "removed" (gone since), or the refusal's code.
	SkippedBy map[string]int `json:"skipped_by"`
}

// ErrNothingToResend refuses a bulk resend whose filter matches no one.
var ErrNothingToResend = problem.New(problem.Conflict, "nothing_to_resend", "no attendee matches this filter, so there is nobody to resend to")

// Service starts and runs bulk resends.
type Service struct {
	DB     *store.DB
	Events *event.Service
	// Jobs is woken when a job is queued.
	Jobs interface{ Wake() }
	// StepEvery is how many attendees are resent between two records of
	// the job's progress [10]: at most that many may be emailed twice if
	// the process dies between them.
	StepEvery int
	Now       func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Start queues a bulk resend to the attendees of the event that q matches
// (its paging is ignored: every page).
func (s *Service) Start(ctx context.Context, c event.Caller, eventID string, q event.Query) (*job.Job, error) {
	ev, err := event.GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	if err := s.Events.EmailReady(ctx, c.AccountID); err != nil {
		return nil, err
	}
	ids, err := s.matching(ctx, ev.ID, q)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, ErrNothingToResend
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	now := s.now()
	j := &job.Job{AccountID: c.AccountID, Kind: Kind, Status: job.Queued, SubjectKind: "event", SubjectID: ev.ID,
		Total: len(ids), CreatedByKind: c.Actor.Kind, CreatedByID: c.Actor.ID}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := job.New(tx, j, now); err != nil {
			return err
		}
		if err := tx.Create(&Batch{JobID: j.ID, AccountID: c.AccountID, EventID: ev.ID, Attendees: string(b), CreatedAt: now}).Error; err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, c.Actor, "attendees.bulk_resend", "job", j.ID, map[string]any{"event_id": ev.ID, "attendees": len(ids)})
	})
	if err != nil {
		return nil, err
	}
	if s.Jobs != nil {
		s.Jobs.Wake()
	}
	return j, nil
}

// matching lists the ids of every attendee q matches, page by page.
func (s *Service) matching(ctx context.Context, eventID string, q event.Query) ([]string, error) {
	q.PageSize = event.MaxPageSize
	var ids []string
	for q.Page = 1; ; q.Page++ {
		p, err := event.List(ctx, s.DB, eventID, q)
		if err != nil {
			return nil, err
		}
		for i := range p.Rows {
			ids = append(ids, p.Rows[i].ID)
		}
		if len(ids) > MaxAttendees {
			return nil, problem.New(problem.Invalid, "too_many_attendees", fmt.Sprintf("a bulk resend reaches at most %d attendees; narrow the filter", MaxAttendees))
		}
		if len(p.Rows) < q.PageSize {
			return ids, nil
		}
	}
}

// Handler is the job handler of bulk resends.
func (s *Service) Handler() job.Handler { return s.run }

// run resends to the batch's attendees from where the job stands.
func (s *Service) run(stop context.Context, j *job.Job, l job.Lease) error {
	ctx := context.WithoutCancel(stop)
	var b Batch
	if err := s.DB.W.WithContext(ctx).Where("job_id = ?", j.ID).Take(&b).Error; err != nil {
		return fmt.Errorf("resend: job %s: %w", j.ID, err)
	}
	var ids []string
	if err := json.Unmarshal([]byte(b.Attendees), &ids); err != nil {
		return fmt.Errorf("resend: job %s: %w", j.ID, err)
	}
	counts := Counts{SkippedBy: map[string]int{}}
	if j.Counts != "" {
		if err := json.Unmarshal([]byte(j.Counts), &counts); err != nil {
			return fmt.Errorf("resend: job %s counts: %w", j.ID, err)
		}
		if counts.SkippedBy == nil {
			counts.SkippedBy = map[string]int{}
		}
	}
	c := event.Caller{AccountID: j.AccountID, Actor: audit.Actor{Kind: j.CreatedByKind, ID: j.CreatedByID}}
	every := s.StepEvery
	if every <= 0 {
		every = 10
	}
	for i := j.Processed; i < len(ids); i++ {
		if err := s.one(ctx, c, b.EventID, ids[i], &counts); err != nil {
			return err
		}
		if done := i + 1; done%every == 0 && done < len(ids) {
			if err := s.DB.Tx(ctx, func(tx *store.Tx) error { return job.Step(tx, j.ID, l.Runner, done, counts, s.now(), l.Until()) }); err != nil {
				return err
			}
			if stop.Err() != nil {
				return nil // resumed from here by the next runner
			}
		}
	}
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := job.Step(tx, j.ID, l.Runner, len(ids), counts, s.now(), l.Until()); err != nil {
			return err
		}
		return job.Finish(tx, j.ID, l.Runner, job.Done, "", s.now())
	})
}

// one resends to one attendee, or counts why not. Only a failure of the
// gateway itself (the database) stops the job.
func (s *Service) one(ctx context.Context, c event.Caller, eventID, attendeeID string, counts *Counts) error {
	a, ev, err := s.Events.GetAttendee(ctx, c, eventID, attendeeID)
	if errors.Is(err, problem.ErrNotFound) {
		counts.skip("removed")
		return nil
	}
	if err != nil {
		return err
	}
	var resend func(context.Context, event.Caller, string, string) (*event.Attendee, error)
	for _, act := range event.Allowed(a, ev) {
		switch act {
		case event.ActionResendInvitation:
			resend = s.Events.ResendInvitation
		case event.ActionResendRegistration:
			resend = s.Events.ResendConfirmation
		}
	}
	if resend == nil {
		counts.skip(string(a.Status))
		return nil
	}
	if _, err := resend(ctx, c, eventID, attendeeID); err != nil {
		if p, ok := problem.As(err); ok {
			counts.skip(p.Code)
			return nil
		}
		return err
	}
	counts.Resent++
	return nil
}

func (c *Counts) skip(why string) {
	c.Skipped++
	c.SkippedBy[why]++
}
