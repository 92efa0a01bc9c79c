package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
)

// Handler is the job handler that imports confirmed bulk invites; the
// gateway's job runner and the CLI run it.
func (s *Service) Handler() job.Handler { return s.run }

func (s *Service) batchRows() int {
	if s.BatchRows > 0 {
		return s.BatchRows
	}
	return 2000
}

// pendingRow is a row read for the next batch, with what re-reading it found.
type pendingRow struct {
	Row
	probs []Problem
}

// run imports a claimed job from its checkpoint to the end of the file.
// When ctx ends it stops after the batch in hand, never inside one: the
// SQLite driver answers a context that ends mid-statement by interrupting
// the connection, which can leave the single writer connection failing
// every later statement with "interrupted". A crash mid-batch is another
// matter: its transaction never commits, and the job resumes from the
// checkpoint.
func (s *Service) run(stop context.Context, j *job.Job, l job.Lease) error {
	ctx := context.WithoutCancel(stop)
	st, err := s.resume(ctx, j, l)
	if err != nil || st == nil {
		return err
	}
	// An import is the long run of writes the store's WAL settings are
	// for (store.BulkWrites).
	end, err := s.DB.BulkWrites(ctx)
	if err != nil {
		return err
	}
	defer end()
	b := &batch{s: s, ev: st.ev, job: j, imp: st.imp, lease: l, by: audit.Actor{Kind: j.CreatedByKind, ID: j.CreatedByID}, counts: st.counts}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	defer b.close()
	w := &writer{b: b, ctx: ctx, from: st.imp.Offset, overlap: s.DB.ParallelWrites()}
	if err := s.importRows(stop, st.rd, w); err != nil {
		return err
	}
	return s.finish(ctx, b)
}

// resumed is where an import stands when a runner takes it: its staged
// file read from the checkpoint on.
type resumed struct {
	imp    *Import
	ev     *event.Event
	counts Counts
	rd     *Reader
}

// resume reads the job's import and opens its staged file at the
// checkpoint; nil (and no error) when the job was failed instead, saying
// why (the event is gone, email cannot be sent any more, the file cannot
// be read).
func (s *Service) resume(ctx context.Context, j *job.Job, l job.Lease) (*resumed, error) {
	var imp Import
	if err := s.DB.W.WithContext(ctx).Where("job_id = ?", j.ID).Take(&imp).Error; err != nil {
		return nil, fmt.Errorf("bulk: job %s: %w", j.ID, err)
	}
	ev, err := event.GetEvent(ctx, s.DB, imp.AccountID, imp.EventID)
	if err != nil {
		return nil, s.fail(ctx, j, l, "the event no longer exists")
	}
	if imp.SendEmail {
		if err := s.Events.EmailReady(ctx, imp.AccountID); err != nil {
			return nil, s.fail(ctx, j, l, "invitation emails cannot be sent any more: "+err.Error())
		}
	}
	var counts Counts
	if j.Counts != "" {
		if err := json.Unmarshal([]byte(j.Counts), &counts); err != nil {
			return nil, fmt.Errorf("bulk: job %s counts: %w", j.ID, err)
		}
	}
	header, err := parseHeader(imp.Header)
	if err != nil {
		return nil, s.fail(ctx, j, l, "the staged file's header cannot be read")
	}
	rd, err := Resume(newChunkReader(ctx, s.DB, j.ID, imp.Offset), header, imp.Offset, imp.Line)
	if err != nil {
		return nil, s.fail(ctx, j, l, err.Error())
	}
	return &resumed{imp: &imp, ev: ev, counts: counts, rd: rd}, nil
}

// importRows reads the staged file's rows and hands them to w a batch at a
// time, until the end of the file or, between batches, until stop ends.
func (s *Service) importRows(stop context.Context, rd *Reader, w *writer) error {
	b := w.b
	rows := make([]pendingRow, 0, s.batchRows())
	for {
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var fe *FileError
		if errors.As(err, &fe) {
			// The file passed its check, so only a changed reader could
			// get here; stopping is better than importing half a file.
			return errors.Join(w.wait(), s.fail(w.ctx, b.job, b.lease, "the staged file can no longer be read: "+fe.Error()))
		}
		if err != nil {
			return errors.Join(err, w.wait())
		}
		rows = append(rows, pendingRow{row, probs})
		if len(rows) == cap(rows) {
			if err := w.write(rows, rd.Offset(), rd.NextLine()); err != nil {
				return err
			}
			rows = make([]pendingRow, 0, s.batchRows())
			if err := stop.Err(); err != nil {
				return errors.Join(err, w.wait())
			}
		}
	}
	if len(rows) > 0 {
		if err := w.write(rows, rd.Offset(), rd.NextLine()); err != nil {
			return err
		}
	}
	return w.wait()
}

// finish ends the import: the job done with its counts, its staged file
// dropped.
func (s *Service) finish(ctx context.Context, b *batch) error {
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := job.Finish(tx, b.job.ID, b.lease.Runner, job.Done, "", s.now()); err != nil {
			return err
		}
		if err := tx.Where("job_id = ?", b.job.ID).Delete(&Chunk{}).Error; err != nil {
			return err
		}
		return audit.Record(tx, b.imp.AccountID, b.by, "bulk_invite.finished", "job", b.job.ID, map[string]any{
			"event_id": b.ev.ID, "added": b.counts.Added, "updated": b.counts.Updated, "unchanged": b.counts.Unchanged, "refused": b.counts.Refused,
		})
	})
}

// writer commits a run's batches in file order, each in the background
// while the run reads the next one from the staged file (through the
// reader pool), so that reading and checking rows and writing them use two
// cores. A batch's plan (see plan) is worked out while the batch before is
// written. On PostgreSQL (overlap) a batch's transaction also starts before
// the one before it has committed: the server and the gateway then work at
// the same time instead of each waiting for the other, and commit order
// keeps the checkpoint exact. SQLite's one writer connection takes
// transactions one at a time, so there a batch starts once the one before
// has ended: started earlier, it would hold the connection that batch may
// need to try again.
type writer struct {
	b       *batch
	ctx     context.Context
	from    int64 // where the next batch starts
	overlap bool
	last    *inflight // the batch being written in the background
}

// write commits rows, which end at (offset, line), in the background. It
// returns once the batch before has ended, with that batch's error.
func (w *writer) write(rows []pendingRow, offset int64, line int) error {
	from := w.from
	w.from = offset
	prev := w.last
	cur := &inflight{done: make(chan struct{})}
	w.last = cur
	go func() {
		defer close(cur.done)
		// The batch's plan is worked out while the batch before is written.
		p, err := w.b.plan(w.ctx, rows)
		if err != nil {
			if prev != nil {
				<-prev.done
			}
			cur.err = err
			return
		}
		after := prev
		if !w.overlap && prev != nil {
			<-prev.done
			if prev.err != nil {
				cur.err = errEarlierBatch
				return
			}
			after = nil
		}
		cur.err = w.b.commit(w.ctx, p, from, offset, line, after)
	}()
	if prev == nil {
		return nil
	}
	<-prev.done
	if prev.err != nil {
		<-cur.done
		return prev.err
	}
	return nil
}

// wait returns once every batch has ended, with the first error.
func (w *writer) wait() error {
	if w.last == nil {
		return nil
	}
	<-w.last.done
	err := w.last.err
	w.last = nil
	if errors.Is(err, errEarlierBatch) {
		// write returned the earlier batch's own error already.
		return nil
	}
	return err
}

// fail ends a job that cannot go on, saying why.
func (s *Service) fail(ctx context.Context, j *job.Job, l job.Lease, why string) error {
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := job.Finish(tx, j.ID, l.Runner, job.Failed, why, s.now()); err != nil {
			return err
		}
		return tx.Where("job_id = ?", j.ID).Delete(&Chunk{}).Error
	})
}
