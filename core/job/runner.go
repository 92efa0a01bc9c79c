package job

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// Handler runs a claimed job to its end: it commits its work in steps
// (each with Step) and ends with Finish. It returns ErrLeaseLost when
// another runner took the job over, and any other error when it had to stop
// (the job stays claimed and is resumed once the lease runs out).
type Handler func(ctx context.Context, j *Job, l Lease) error

// Lease is what a handler needs to renew its claim.
type Lease struct {
	Runner   string
	Duration time.Duration
	Now      func() time.Time
}

// Until is the end of a lease renewed now.
func (l Lease) Until() time.Time { return l.Now().Add(l.Duration) }

// Runner claims jobs and runs them: jobs just confirmed, and jobs whose
// runner died. One runner runs one job at a time.
type Runner struct {
	DB       *store.DB
	Handlers map[string]Handler
	// Lease is how long a claim lasts without renewal (default 15s): a job
	// whose process died is resumed that long after.
	Lease time.Duration
	// Poll is how often an idle runner looks for jobs (default 2s).
	Poll time.Duration
	Log  *slog.Logger
	// ID names the runner in claims (default RunnerID()).
	ID  string
	Now func() time.Time
	// Housekeep, if set, runs from the loop at most once an hour (dropping
	// stale inputs nobody confirmed).
	Housekeep func(ctx context.Context) error
	// Sweep, if set, runs at Start and then every Poll, beside the jobs
	// (a long import does not delay it): it ends work whose holder is gone
	// (an upload's check that a killed process held; see Abandoned).
	Sweep func(ctx context.Context) error
	// Signal wakes the idle runner when a service queues a job (default:
	// one of its own, which nothing rings: the runner finds jobs by
	// polling alone).
	Signal *Signal

	once sync.Once
	stop context.CancelFunc
	done chan struct{}
}

func (r *Runner) init() {
	r.once.Do(func() {
		if r.Lease <= 0 {
			r.Lease = 15 * time.Second
		}
		if r.Poll <= 0 {
			r.Poll = 2 * time.Second
		}
		if r.ID == "" {
			r.ID = RunnerID()
		}
		if r.Now == nil {
			r.Now = func() time.Time { return time.Now().UTC() }
		}
		if r.Log == nil {
			r.Log = slog.Default()
		}
		if r.Signal == nil {
			r.Signal = NewSignal()
		}
	})
}

func (r *Runner) lease() Lease { return Lease{Runner: r.ID, Duration: r.Lease, Now: r.Now} }

// Start runs jobs in the background until Stop: first every job left
// queued or interrupted, then each new one as it is confirmed.
func (r *Runner) Start() {
	r.init()
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan struct{})
	var sweeping sync.WaitGroup
	if r.Sweep != nil {
		sweeping.Go(func() { r.sweep(ctx) })
	}
	go func() {
		defer close(r.done)
		defer sweeping.Wait()
		var kept time.Time
		for {
			if _, err := r.RunPending(ctx); err != nil && ctx.Err() == nil {
				r.Log.Error("jobs", "error", err)
			}
			if r.Housekeep != nil && r.Now().Sub(kept) >= time.Hour {
				kept = r.Now()
				if err := r.Housekeep(ctx); err != nil && ctx.Err() == nil {
					r.Log.Error("jobs housekeeping", "error", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-r.Signal.c:
			case <-time.After(r.Poll):
			}
		}
	}()
}

// sweep runs Sweep until ctx ends.
func (r *Runner) sweep(ctx context.Context) {
	for {
		// Statements run to their end (see Run); ctx only stops the loop.
		if err := r.Sweep(context.WithoutCancel(ctx)); err != nil {
			r.Log.Error("jobs sweep", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.Poll):
		}
	}
}

// Stop interrupts the running job (its open step is rolled back; it is
// resumed by the next start) and waits for the runner to end.
func (r *Runner) Stop(ctx context.Context) error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RunPending claims and runs, one after the other, every job that can be
// claimed now; it returns how many it ran to their end.
func (r *Runner) RunPending(stop context.Context) (int, error) {
	r.init()
	ctx := context.WithoutCancel(stop)
	kinds := make([]string, 0, len(r.Handlers))
	for k := range r.Handlers {
		kinds = append(kinds, k)
	}
	n := 0
	for {
		if err := stop.Err(); err != nil {
			return n, err
		}
		ids, err := Claimable(ctx, r.DB, kinds, r.Now(), 10)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		ran := false
		for _, id := range ids {
			ok, err := r.Run(stop, id)
			if err != nil {
				if stop.Err() != nil {
					return n, stop.Err()
				}
				r.Log.Error("job stopped; it resumes once its lease ends", "job", id, "error", err)
				continue
			}
			if ok {
				n++
				ran = true
			}
		}
		if !ran {
			return n, nil
		}
	}
}

// Run claims one job and runs it to its end; false means another runner
// holds it.
func (r *Runner) Run(stop context.Context, jobID string) (bool, error) {
	r.init()
	// Statements run to their end; stop reaches the handler, which stops
	// between steps (a statement cut short by its context can leave a
	// SQLite connection interrupted).
	ctx := context.WithoutCancel(stop)
	l := r.lease()
	ok, err := Claim(ctx, r.DB, jobID, r.ID, r.Now(), l.Until())
	if err != nil || !ok {
		return false, err
	}
	var j Job
	if err := r.DB.W.WithContext(ctx).Where("id = ?", jobID).Take(&j).Error; err != nil {
		return false, err
	}
	h := r.Handlers[j.Kind]
	if h == nil {
		return false, errors.New("job: no handler for kind " + j.Kind)
	}
	if j.Attempts > 1 {
		r.Log.Info("resuming job", "job", j.ID, "kind", j.Kind, "processed", j.Processed, "total", j.Total)
	}
	if err := h(stop, &j, l); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return false, nil
		}
		if stop.Err() != nil {
			// Stopped between steps: another replica (or the next start)
			// goes on from the last step at once.
			if _, yerr := Yield(ctx, r.DB, jobID, r.ID, r.Now()); yerr != nil {
				r.Log.Error("job lease not given back; it resumes once the lease ends", "job", jobID, "error", yerr)
			}
		}
		return false, err
	}
	return true, nil
}
