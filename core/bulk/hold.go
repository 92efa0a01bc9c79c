package bulk

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// CheckLease is how long an upload being checked holds its job without
// renewing the hold: a gateway killed while it checks a file leaves a job
// that any gateway on the database ends this long after (EndInterrupted).
// The hold is renewed every third of it (Service.CheckRenewal), whatever
// the client's pace.
const CheckLease = 15 * time.Second

// Interrupted is the error of an upload whose gateway stopped while it
// checked the file: nothing of the file is kept.
const Interrupted = "the upload was interrupted (the gateway stopped while checking the file); upload the file again"

// ErrCheckEnded answers an upload whose job was ended while its file was
// still being checked: the organizer discarded it, or the hold was not
// renewed in time and another gateway ended it as interrupted.
var ErrCheckEnded = problem.New(problem.Conflict, "upload_ended",
	"the upload was ended while its file was being checked (it was discarded, or ended as interrupted); upload the file again")

// checkHold is an upload's hold on its job while the file is checked.
type checkHold struct {
	lost atomic.Bool
	stop chan struct{}
	done chan struct{}
}

// hold renews the upload's hold on its job in the background until end.
func (s *Service) hold(ctx context.Context, jobID, owner string) *checkHold {
	h := &checkHold{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		every := s.CheckRenewal
		if every <= 0 {
			every = CheckLease / 3
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			now := s.now()
			ok, err := job.Renew(ctx, s.DB, jobID, job.Checking, owner, now, now.Add(CheckLease))
			// A failed renewal is tried again at the next tick; the hold
			// is lost only when the job is no longer the upload's.
			if err == nil && !ok {
				h.lost.Store(true)
				return
			}
		}
	}()
	return h
}

// err is ErrCheckEnded once the hold is lost.
func (h *checkHold) err() error {
	if h.lost.Load() {
		return ErrCheckEnded
	}
	return nil
}

// end stops renewing.
func (h *checkHold) end() {
	close(h.stop)
	<-h.done
}

// EndInterrupted ends every upload whose check was held by a gateway that
// is gone (killed while it read the file: its hold ran out unrenewed): the
// job fails with Interrupted, and its staged chunks and the problems found
// so far are deleted. The gateway's job runner sweeps with it at start and
// then every few seconds, on every replica; of two replicas ending one job,
// one does.
func (s *Service) EndInterrupted(ctx context.Context) error {
	jobs, err := job.Abandoned(ctx, s.DB, Kind, job.Checking, s.now(), 100)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		err := s.DB.Tx(ctx, func(tx *store.Tx) error {
			ok, err := job.Abandon(tx, j.ID, job.Checking, Interrupted, s.now())
			if err != nil || !ok {
				return err
			}
			if err := dropStaged(tx, j.ID); err != nil {
				return err
			}
			return audit.Record(tx, j.AccountID, audit.System, "bulk_invite.interrupted", "job", j.ID, map[string]any{"event_id": j.SubjectID})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// dropStaged deletes what the check of an upload left: its staged file and
// the problems found in it.
func dropStaged(tx *store.Tx, jobID string) error {
	if err := tx.Where("job_id = ?", jobID).Delete(&Chunk{}).Error; err != nil {
		return err
	}
	return tx.Where("job_id = ?", jobID).Delete(&StoredProblem{}).Error
}
