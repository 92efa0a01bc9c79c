package bulk

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Kind is the job kind of a bulk invite.
const Kind = "bulk_invite"

// Service runs bulk invites.
type Service struct {
	DB *store.DB
	// Events queues the invitation emails (its Mail) and decides the
	// invited status.
	Events *event.Service
	// Jobs is woken when a job is confirmed; nil leaves it to its poll.
	Jobs interface{ Wake() }
	// BatchRows is how many rows one import transaction carries (default
	// 2000). Larger batches write fewer pages per row (an index page
	// takes several of a batch's rows before it goes to the WAL) but hold
	// SQLite's one writer longer: 2,000 rows are about 60 ms, which other
	// writes, such as redemptions, wait for.
	BatchRows int
	// CheckRenewal is how often an upload renews its hold on its job while
	// the file is checked (default a third of CheckLease).
	CheckRenewal time.Duration
	Now          func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Upload is a checked file waiting for confirmation.
type Upload struct {
	Job    *job.Job `json:"job"`
	Report *Report  `json:"report"`
}

// Upload reads and checks a file for an event and stages it, without
// adding anyone: the answer shows what the file holds and every problem.
// A file refused as a whole gives a job in status Refused.
func (s *Service) Upload(reqCtx context.Context, c event.Caller, eventID, fileName string, r io.Reader) (*Upload, error) {
	// The request's end stops the reading (ctxReader), not a statement in
	// flight: see run for why.
	ctx := context.WithoutCancel(reqCtx)
	ev, err := event.GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	u, err := s.startUpload(ctx, ev, c, fileName)
	if err != nil {
		return nil, err
	}
	h := s.hold(ctx, u.job.ID, u.owner)
	defer h.end()
	st := newStager(ctx, s.DB, u.job.ID)
	// Once the hold is lost nothing more is staged: the job is not this
	// upload's any more.
	st.stop = h.err
	sink, flush := s.storeProblems(ctx, u.job.ID)
	rep, header, err := check(&ctxReader{reqCtx, io.TeeReader(r, st)}, sink)
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = st.close()
	}
	if err == nil {
		err = h.err()
	}
	if err == nil {
		err = s.checked(ctx, u, c, rep, header, st.size)
	}
	if errors.Is(err, ErrStoppedByErasure) {
		return nil, err
	}
	if err != nil {
		return nil, s.abandon(u.job.ID, u.owner, err)
	}
	return &Upload{Job: u.job, Report: rep}, nil
}

// upload is a file being checked: its job, held by owner, and its import.
type upload struct {
	job   *job.Job
	imp   *Import
	ev    *event.Event
	owner string
}

// startUpload makes the job and import of a new upload. The upload holds
// its job while it checks the file (see hold): if this process dies, any
// gateway ends the job once the hold runs out.
func (s *Service) startUpload(ctx context.Context, ev *event.Event, c event.Caller, fileName string) (*upload, error) {
	now := s.now()
	owner, until := job.RunnerID(), now.Add(CheckLease)
	j := &job.Job{AccountID: ev.AccountID, Kind: Kind, Status: job.Checking, SubjectKind: "event", SubjectID: ev.ID,
		CreatedByKind: c.Actor.Kind, CreatedByID: c.Actor.ID, Runner: owner, LeaseUntil: &until}
	imp := &Import{AccountID: ev.AccountID, EventID: ev.ID, FileName: clip(fileName, 200), CreatedAt: now, UpdatedAt: now}
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := job.New(tx, j, now); err != nil {
			return err
		}
		imp.JobID = j.ID
		return tx.Create(imp).Error
	})
	if err != nil {
		return nil, err
	}
	return &upload{job: j, imp: imp, ev: ev, owner: owner}, nil
}

// checked records the check's outcome and releases the job: Ready (or
// Refused, with its staged file dropped). ErrCheckEnded: the upload lost
// its hold; ErrStoppedByErasure: erasing a person the file names stopped
// the job while it was read, and nothing of it stays.
func (s *Service) checked(ctx context.Context, u *upload, c event.Caller, rep *Report, header string, size int64) error {
	status := job.Ready
	if rep.Refused {
		status = job.Refused
	}
	stopped := false
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Model(u.imp).Updates(map[string]any{"header": header, "size": size, "offset": rep.firstOffset, "line": rep.firstLine, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		ok, err := job.Release(tx, u.job.ID, job.Checking, u.owner, status, rep.Rows, s.now())
		if err != nil {
			return err
		}
		if !ok {
			var cur job.Job
			if err := tx.Where("id = ?", u.job.ID).Take(&cur).Error; err == nil && cur.Error == StoppedByErasure {
				stopped = true
				return dropStaged(tx, u.job.ID)
			}
			return ErrCheckEnded
		}
		if rep.Refused {
			if err := tx.Where("job_id = ?", u.job.ID).Delete(&Chunk{}).Error; err != nil {
				return err
			}
		}
		return audit.Record(tx, u.ev.AccountID, c.Actor, "bulk_invite.uploaded", "job", u.job.ID, map[string]any{
			"event_id": u.ev.ID, "file": u.imp.FileName, "rows": rep.Rows, "problems": rep.ProblemCount, "refused": rep.Refused,
		})
	})
	if err != nil {
		return err
	}
	if stopped {
		return ErrStoppedByErasure
	}
	u.job.Status, u.job.Total, u.job.Runner, u.job.LeaseUntil = status, rep.Rows, "", nil
	return nil
}

// abandon ends a job whose upload broke off (the client went away, the
// database failed) as failed, and drops what was staged and the problems of
// the part read; it returns the error to answer with. A job this upload no
// longer holds (discarded, or ended as interrupted) keeps the status it
// has, and what was staged is dropped again: a chunk or problems may have
// been written after it was ended.
func (s *Service) abandon(jobID, owner string, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.DB.Tx(ctx, func(tx *store.Tx) error {
		if _, err := job.Fail(tx, jobID, job.Checking, owner, "the upload did not complete: "+cause.Error(), s.now()); err != nil {
			return err
		}
		return dropStaged(tx, jobID)
	})
	return cause
}

// Check reads and checks a whole file, as Upload does, without staging it
// or storing anything: the report says what an upload would answer.
func Check(r io.Reader) (*Report, error) {
	rep, _, err := check(r, nil)
	return rep, err
}

// check reads the whole file (at most MaxBytes of it), checking every row
// and handing every problem to sink (may be nil), and returns the report
// and the header line to resume with.
func check(r io.Reader, sink func(p Problem, email string) error) (*Report, string, error) {
	cr := &countingReader{r: io.LimitReader(r, MaxBytes+1)}
	rep := &Report{Preview: []Row{}, Problems: []Problem{}}
	note := func(p Problem, email string) error {
		rep.ProblemCount++
		if len(rep.Problems) < MaxReportProblems {
			rep.Problems = append(rep.Problems, p)
		}
		if sink != nil {
			return sink(p, email)
		}
		return nil
	}
	refuse := func(err error) (*Report, string, error) {
		var fe *FileError
		if !errors.As(err, &fe) {
			return nil, "", err
		}
		if cr.n > MaxBytes {
			fe = fileError(0, "", "the file is larger than %d MB; split it into several files", MaxBytes>>20)
		}
		rep.Refused = true
		for _, p := range fe.Problems {
			if err := note(p, ""); err != nil {
				return nil, "", err
			}
		}
		return rep, "", nil
	}
	rd, err := NewReader(cr)
	if err != nil {
		return refuse(err)
	}
	rep.Columns = rd.Header()
	rep.firstOffset, rep.firstLine = rd.Offset(), rd.NextLine()
	dups := newDupSet()
	for {
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return refuse(err)
		}
		rep.Rows++
		if len(rep.Preview) < 2 {
			rep.Preview = append(rep.Preview, row)
		}
		emailOK := row.Email != ""
		for _, p := range probs {
			if p.Column == ColEmail {
				emailOK = false
			}
		}
		if emailOK {
			if prev, dup := dups.add(row.Email, row.Line); dup {
				probs = append(probs, Problem{Line: row.Line, Column: ColEmail, Message: fmt.Sprintf("email %q is already on line %d", row.Email, prev)})
			}
		}
		if len(probs) == 0 {
			rep.Valid++
		}
		for _, p := range probs {
			if err := note(p, row.Email); err != nil {
				return nil, "", err
			}
		}
	}
	if cr.n > MaxBytes {
		return refuse(&FileError{})
	}
	if rep.Rows == 0 {
		return refuse(fileError(0, "", "the file has a header but no rows: add one line per person under the header"))
	}
	return rep, headerLine(rd.Header()), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// storeProblems returns a sink that stores a job's problems in batches, and
// the flush that writes the last ones.
func (s *Service) storeProblems(ctx context.Context, jobID string) (func(Problem, string) error, func() error) {
	var pending []StoredProblem
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := s.DB.W.WithContext(ctx).CreateInBatches(pending, 500).Error
		pending = pending[:0]
		return err
	}
	sink := func(p Problem, email string) error {
		pending = append(pending, StoredProblem{JobID: jobID, Line: p.Line, Column: p.Column, Email: clip(email, 254),
			Message: p.Message, Fix: clip(p.Fix, 300), Phase: "check"})
		if len(pending) >= 1000 {
			return flush()
		}
		return nil
	}
	return sink, flush
}

// ctxReader stops reading once ctx ends (the client went away).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// headerLine writes the header back as one CSV line, for Resume.
func headerLine(h []string) string {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write(h)
	cw.Flush()
	return string(bytes.TrimRight(b.Bytes(), "\r\n"))
}

func parseHeader(s string) ([]string, error) {
	cr := csv.NewReader(bytes.NewReader([]byte(s)))
	cr.FieldsPerRecord = -1
	return cr.Read()
}

// bulkJob loads a bulk-invite job of the caller's account.
func (s *Service) bulkJob(ctx context.Context, c event.Caller, jobID string) (*job.Job, *Import, error) {
	j, err := job.Get(ctx, s.DB, c.AccountID, jobID)
	if err != nil {
		return nil, nil, err
	}
	if j.Kind != Kind {
		return nil, nil, problem.ErrNotFound
	}
	var imp Import
	if err := s.DB.R.WithContext(ctx).Where("job_id = ?", j.ID).Take(&imp).Error; err != nil {
		return nil, nil, err
	}
	return j, &imp, nil
}

// Confirm starts the import of a checked file: "Invite" (sendEmail, one
// invitation email per new attendee) or "Invite without sending email".
func (s *Service) Confirm(ctx context.Context, c event.Caller, jobID string, sendEmail bool) (*job.Job, error) {
	j, imp, err := s.bulkJob(ctx, c, jobID)
	if err != nil {
		return nil, err
	}
	if j.Status != job.Ready {
		return nil, job.ErrNotConfirmable
	}
	if sendEmail {
		if err := s.Events.EmailReady(ctx, c.AccountID); err != nil {
			return nil, err
		}
	}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		ok, err := job.SetStatus(tx, j.ID, job.Ready, job.Queued, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return job.ErrNotConfirmable
		}
		if err := tx.Model(imp).Updates(map[string]any{"send_email": sendEmail, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, c.Actor, "bulk_invite.confirmed", "job", j.ID, map[string]any{
			"event_id": imp.EventID, "send_email": sendEmail, "rows": j.Total,
		})
	})
	if err != nil {
		return nil, err
	}
	j.Status = job.Queued
	if s.Jobs != nil {
		s.Jobs.Wake()
	}
	return j, nil
}

// Discard drops a file the organizer chose not to import. A checked file
// (ready), a refused one, and one still being checked become discarded: an
// upload still checking it, in this process or another, stops at its next
// write or renewal, and an upload whose gateway is gone is ended here
// rather than by the sweep. A failed job stays failed, saying why. In every
// case nothing of the file stays staged. A confirmed job (queued, running,
// done) or one discarded already answers job.ErrNotDiscardable.
func (s *Service) Discard(ctx context.Context, c event.Caller, jobID string) error {
	j, imp, err := s.bulkJob(ctx, c, jobID)
	if err != nil {
		return err
	}
	// The status may change between the read and the update (a check
	// ending, another discard): then it is read again.
	for range 3 {
		from := j.Status
		switch from {
		case job.Checking, job.Ready, job.Refused, job.Failed:
		default:
			return job.ErrNotDiscardable
		}
		done := false
		err := s.DB.Tx(ctx, func(tx *store.Tx) error {
			if from != job.Failed {
				ok, err := job.SetStatus(tx, j.ID, from, job.Discarded, s.now())
				if err != nil || !ok {
					return err
				}
			}
			done = true
			var drop error
			if from == job.Checking {
				drop = dropStaged(tx, j.ID) // with the problems of a file read halfway
			} else {
				drop = tx.Where("job_id = ?", j.ID).Delete(&Chunk{}).Error
			}
			if drop != nil {
				return drop
			}
			return audit.Record(tx, c.AccountID, c.Actor, "bulk_invite.discarded", "job", j.ID, map[string]any{"event_id": imp.EventID, "status": from})
		})
		if err != nil || done {
			return err
		}
		if j, err = job.Get(ctx, s.DB, c.AccountID, j.ID); err != nil {
			return err
		}
	}
	return job.ErrNotDiscardable
}

// StaleAfter is how long a checked file waits for confirmation before
// DropStale discards it.
const StaleAfter = 24 * time.Hour

// DropStale discards checked files nobody confirmed for StaleAfter, so
// their staged bytes do not stay in the database.
func (s *Service) DropStale(ctx context.Context) error {
	var ids []string
	err := s.DB.R.WithContext(ctx).Model(&job.Job{}).Where("kind = ? AND status = ? AND updated_at < ?", Kind, job.Ready, s.now().Add(-StaleAfter)).
		Limit(1000).Pluck("id", &ids).Error
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := s.DB.Tx(ctx, func(tx *store.Tx) error {
			ok, err := job.SetStatus(tx, id, job.Ready, job.Discarded, s.now())
			if err != nil || !ok {
				return err
			}
			return tx.Where("job_id = ?", id).Delete(&Chunk{}).Error
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Job returns a bulk-invite job with its counts.
func (s *Service) Job(ctx context.Context, c event.Caller, jobID string) (*job.Job, error) {
	j, _, err := s.bulkJob(ctx, c, jobID)
	return j, err
}

// ReportColumns are the columns of the error report.
var ReportColumns = []string{"Line", "Column", "Email", "Problem", "Suggested Fix"}

// WriteErrorReport writes every problem of a job's file, found when it was
// checked or refused while importing, as CSV in line order.
func (s *Service) WriteErrorReport(ctx context.Context, c event.Caller, jobID string, w io.Writer) error {
	j, _, err := s.bulkJob(ctx, c, jobID)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	cw.Write(ReportColumns)
	var lastLine int
	var lastID int64
	for {
		var page []StoredProblem
		err := s.DB.R.WithContext(ctx).Where("job_id = ? AND (line > ? OR (line = ? AND id > ?))", j.ID, lastLine, lastLine, lastID).
			Order("line, id").Limit(1000).Find(&page).Error
		if err != nil {
			return err
		}
		for _, p := range page {
			line := ""
			if p.Line > 0 {
				line = fmt.Sprint(p.Line)
			}
			cw.Write([]string{line, SafeCell(p.Column), SafeCell(p.Email), SafeCell(p.Message), SafeCell(p.Fix)})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if len(page) < 1000 {
			return nil
		}
		lastLine, lastID = page[len(page)-1].Line, page[len(page)-1].ID
	}
}
