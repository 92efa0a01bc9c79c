package bulk

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// An import writes a batch of rows through the batch writes of the tables'
// owners (user.EnsureMany, event.InsertAttendees, audit.RecordMany...), a
// handful of multi-row statements each: through gorm, every row would pay
// for reflection, and 100,000 rows for 100,000 round trips.

// batch is the state of one running import between its commits.
type batch struct {
	s      *Service
	ev     *event.Event
	job    *job.Job
	imp    *Import
	lease  job.Lease
	by     audit.Actor
	counts Counts
	// run prepares the statements of the batches once for the whole run
	// (a statement of 1,000 rows is some 100 KB of text, which SQLite takes
	// as long to compile as to run).
	run *store.Run
}

// prepare readies the statements of a run's batches. It runs outside any
// transaction: on SQLite the writer's one connection is the transaction's
// while one is open.
func (b *batch) prepare(ctx context.Context) error {
	var err error
	b.run, err = b.s.DB.NewRun(ctx, slices.Concat(user.BatchStatements(), event.BatchStatements(), audit.BatchStatements())...)
	return err
}

// close releases the run's prepared statements.
func (b *batch) close() {
	if b.run != nil {
		b.run.Close()
	}
}

// inflight is a batch being written beside the reading of the next one;
// done is closed once it has committed (err nil) or failed.
type inflight struct {
	done chan struct{}
	err  error
}

// errEarlierBatch: the batch before this one failed, so this one, written
// beside it, rolls back; the job resumes from the last checkpoint.
var errEarlierBatch = errors.New("bulk: an earlier batch failed")

var errRetry = errors.New("bulk: batch raced with another change; retrying")

// commit writes rows in one transaction together with the move of the
// checkpoint from from to (offset, line): either all of it happens, or
// none, and only if the job's checkpoint and lease are still the ones this
// runner holds. When prev is not nil the batch before runs at the same
// time on another connection: this one writes its rows, then waits for
// prev to commit before it moves the checkpoint on from where prev left it
// and commits, so batches commit in file order whatever happens.
func (b *batch) commit(ctx context.Context, p *plan, from, offset int64, line int, prev *inflight) error {
	for try := 0; ; try++ {
		err := b.commitOnce(ctx, p, from, offset, line, prev)
		if errors.Is(err, errBlocked) {
			<-prev.done
			continue
		}
		if !errors.Is(err, errRetry) || try == 4 {
			return err
		}
	}
}

// blockedAfter bounds how long a batch, its rows written, waits for the
// batch before it to commit. A batch takes well under a second; one that
// waits longer may hold a row the batch before needs (two rows the file
// check should have called duplicates), and rolls back to let it through.
const blockedAfter = 10 * time.Second

var errBlocked = errors.New("bulk: the batch before did not commit in time")

// commitOnce is one try of commit: it sorts the plan's rows against the
// people and attendees that exist, writes them, waits for the batch before
// and moves the checkpoint.
func (b *batch) commitOnce(ctx context.Context, p *plan, from, offset int64, line int, prev *inflight) error {
	now := b.s.now()
	var total Counts
	wake := false
	err := b.run.Tx(ctx, func(tx *store.Tx) error {
		o, err := b.sort(tx, p, now)
		if err != nil {
			return err
		}
		if err := b.write(ctx, tx, p, o); err != nil {
			return err
		}
		wake = b.imp.SendEmail && len(o.added) > 0
		if err := waitFor(prev); err != nil {
			return err
		}
		// Every batch before this one has committed, and set b.counts.
		total = b.counts.plus(o.counts)
		return b.checkpoint(tx, from, offset, line, now, total)
	})
	if err != nil {
		return err
	}
	b.counts = total
	b.imp.Offset, b.imp.Line = offset, line
	if wake {
		b.s.Events.WakeMail()
	}
	return nil
}

// outcome is what a batch's transaction does with its valid rows.
type outcome struct {
	counts Counts // this batch's part
	probs  []StoredProblem
	// added are new attendees, changed the attendees whose roles or
	// speaker details the file changes, entries the audit entries of both.
	added, changed []*event.Attendee
	entries        []audit.Entry
}

// sort finds or creates the people of the plan's valid rows and the
// attendees they already are, and sorts the rows into new attendees,
// changed, unchanged and refused ones.
func (b *batch) sort(tx *store.Tx, p *plan, now time.Time) (*outcome, error) {
	users, created, err := user.EnsureMany(tx, b.ev.AccountID, p.people)
	if err != nil {
		return nil, err
	}
	var known []string
	for _, r := range p.valid {
		if uid := users[r.Email]; !created[uid] {
			known = append(known, uid)
		}
	}
	have, err := event.AttendeesOfUsers(tx, b.ev.ID, known)
	if err != nil {
		return nil, err
	}
	o := &outcome{counts: p.counts, probs: append([]StoredProblem(nil), p.probs...),
		added: make([]*event.Attendee, 0, len(p.valid)), entries: make([]audit.Entry, 0, len(p.valid))}
	for i, r := range p.valid {
		uid := users[r.Email]
		old, ok := have[uid]
		if !ok {
			a := p.fresh[i]
			a.UserID = uid
			o.added = append(o.added, a)
			o.entries = append(o.entries, p.entries[i])
			continue
		}
		a, prob := b.edit(r, old)
		switch {
		case prob != nil:
			o.counts.Refused++
			o.probs = append(o.probs, *prob)
		case a == nil:
			o.counts.Unchanged++
		default:
			a.UpdatedAt = now
			o.changed = append(o.changed, a)
			o.entries = append(o.entries, b.entry(now, "attendee.edited", a.ID, entryDetail{
				EventID: b.ev.ID, JobID: b.job.ID, Line: r.Line, Roles: a.Roles()}))
		}
	}
	return o, nil
}

// edit is r applied to old, an attendee already on the event: the
// attendee to update, nil when r changes nothing, or the problem that
// refuses r.
func (b *batch) edit(r *Row, old *event.Attendee) (*event.Attendee, *StoredProblem) {
	a := &event.Attendee{ID: old.ID, Status: old.Status, Detail: old.Detail, Speaker: old.Speaker, Moderator: old.Moderator,
		Title: old.Title, Company: old.Company, Bio: old.Bio, ImageRef: old.ImageRef}
	if err := event.Check(a, b.ev, event.ActionEdit); err != nil {
		return nil, &StoredProblem{JobID: b.job.ID, Line: r.Line, Column: ColEmail, Email: r.Email,
			Message: "already on the event and not updated: " + err.Error(), Phase: "import"}
	}
	if r.Speaker != Unset {
		a.Speaker = r.Speaker == Yes
	}
	if r.Moderator != Unset {
		a.Moderator = r.Moderator == Yes
	}
	if r.Title != "" {
		a.Title = r.Title
	}
	if r.Company != "" {
		a.Company = r.Company
	}
	if !a.Speaker && !a.Moderator && (a.Title != "" || a.Company != "" || a.Bio != "" || a.ImageRef != "") {
		return nil, &StoredProblem{JobID: b.job.ID, Line: r.Line, Column: ColSpeaker, Email: r.Email,
			Message: "already on the event with speaker details (title, company, bio or image); taking away both the speaker and moderator roles would leave them without a role: clear them in the console first", Phase: "import"}
	}
	if a.Speaker == old.Speaker && a.Moderator == old.Moderator && a.Title == old.Title && a.Company == old.Company {
		return nil, nil
	}
	return a, nil
}

// write writes o: the new attendees and their invitations, the changed
// attendees, the audit entries and the problems.
func (b *batch) write(ctx context.Context, tx *store.Tx, p *plan, o *outcome) error {
	if err := event.InsertAttendees(tx, o.added); err != nil {
		if store.IsUniqueViolation(err) {
			// Someone invited one of these people from the form
			// between the read and the insert: read again.
			return errRetry
		}
		return err
	}
	if err := b.s.Events.AttendeesAdded(tx, b.ev, o.added); err != nil {
		return err
	}
	n, err := event.UpdateImported(tx, o.changed)
	if err != nil {
		return err
	}
	if n != len(o.changed) {
		// An attendee's status moved between the read and the update
		// (two statements in this transaction); PostgreSQL can see that
		// under load. The whole batch goes again.
		return errRetry
	}
	o.counts.Added += len(o.added)
	o.counts.Updated += len(o.changed)
	if b.imp.SendEmail && len(o.added) > 0 {
		keep := make(map[string]bool, len(o.added))
		for _, a := range o.added {
			keep[a.ID] = true
		}
		if err := p.invites.Write(ctx, tx, func(id string) bool { return keep[id] }); err != nil {
			return err
		}
	}
	if err := audit.RecordMany(tx, o.entries); err != nil {
		return err
	}
	if len(o.probs) > 0 {
		return tx.CreateInBatches(o.probs, 500).Error
	}
	return nil
}

// waitFor waits for prev, the batch before, written at the same time, to
// commit: errBlocked when it takes too long, errEarlierBatch when it failed.
func waitFor(prev *inflight) error {
	if prev == nil {
		return nil
	}
	t := time.NewTimer(blockedAfter)
	defer t.Stop()
	select {
	case <-prev.done:
	case <-t.C:
		return errBlocked
	}
	if prev.err != nil {
		return errEarlierBatch
	}
	return nil
}

// plus is c with d's counts added.
func (c Counts) plus(d Counts) Counts {
	return Counts{Added: c.Added + d.Added, Updated: c.Updated + d.Updated, Unchanged: c.Unchanged + d.Unchanged, Refused: c.Refused + d.Refused}
}

// checkpoint moves the import's checkpoint from one offset to the next and
// the job's counts to total; job.ErrLeaseLost when the checkpoint is no
// longer from (another runner moved it).
func (b *batch) checkpoint(tx *store.Tx, from, to int64, line int, now time.Time, total Counts) error {
	r, err := tx.ExecSQL(`UPDATE bulk_imports SET "offset" = $1, line = $2, updated_at = $3 WHERE job_id = $4 AND "offset" = $5`, to, line, now, b.job.ID, from)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		if err != nil {
			return err
		}
		return job.ErrLeaseLost
	}
	return job.Step(tx, b.job.ID, b.lease.Runner, total.Processed(), total, now, b.lease.Until())
}
