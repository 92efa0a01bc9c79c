package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/invitegate/gateway/plugins"
)

// instance supervises one configured plugin.
type instance struct {
	h    *Host
	cfg  Config
	kind KindSpec
	log  *slog.Logger
	// client is the kind's typed client on a conn to this instance, made
	// once: it outlives the processes it calls.
	client plugins.Plugin

	mu        sync.Mutex
	state     State
	proc      *process
	info      plugins.Info
	api       uint32
	restarts  int
	startedAt time.Time
	lastErr   string
	lastErrAt time.Time
	nextStart time.Time
	inflight  int
	changed   chan struct{} // closed and replaced on every state change
	wake      chan struct{} // a call saw the plugin vanish: look now
}

func newInstance(h *Host, c Config, kind KindSpec) *instance {
	in := &instance{
		h: h, cfg: c, kind: kind,
		log:     h.log.With("plugin", c.Name, "plugin_kind", c.Kind),
		state:   StateStopped,
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	in.client = kind.NewClient(&conn{in: in})
	return in
}

// setState changes state under mu and wakes waiters.
func (in *instance) setState(s State) {
	in.state = s
	close(in.changed)
	in.changed = make(chan struct{})
}

func (in *instance) recordError(err error) {
	in.lastErr = err.Error()
	in.lastErrAt = in.h.opts.Now()
}

func (in *instance) status() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := Status{
		Name: in.cfg.Name, Kind: in.cfg.Kind, Path: in.cfg.Path, State: in.state,
		Plugin: in.info.Name, Version: in.info.Version, APIVersion: in.api,
		Restarts: in.restarts, LastError: in.lastErr, LastErrorAt: in.lastErrAt,
		InFlight: in.inflight,
	}
	if in.state == StateRunning {
		s.StartedAt = in.startedAt
		if in.proc != nil {
			s.PID = in.proc.pid
		}
	}
	if in.state == StateBackoff || in.state == StateFailed {
		s.NextStart = in.nextStart
	}
	return s
}

// supervise starts the plugin and keeps it running until ctx ends. The
// outcome of the first start is sent on first.
func (in *instance) supervise(ctx context.Context, first chan<- error) {
	opts := in.h.opts
	backoff := opts.MinBackoff
	reported := false
	report := func(err error) {
		if !reported {
			reported = true
			first <- err
		}
	}
	defer func() {
		report(ctx.Err())
		in.mu.Lock()
		if in.state != StateFailed {
			in.setState(StateStopped)
		}
		in.mu.Unlock()
	}()
	for {
		err := in.start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				report(err)
				return
			}
			backoff = in.startFailed(err, backoff)
			report(err)
		} else {
			report(nil)
			var stopped bool
			if backoff, stopped = in.run(ctx, backoff); stopped {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, opts.MaxBackoff)
		in.mu.Lock()
		in.restarts++
		in.mu.Unlock()
	}
}

// startFailed records a start that failed and returns the wait before the
// next one.
func (in *instance) startFailed(err error, backoff time.Duration) time.Duration {
	opts := in.h.opts
	// The state and the error are recorded before Start hears of the
	// failure, so whoever Start tells sees them in Status.
	in.mu.Lock()
	in.recordError(err)
	permanent := isPermanent(err)
	if permanent {
		// Retrying soon cannot help, but the operator may fix the binary,
		// the file a config points at, or the plugin's upstream: try again
		// at the slowest pace.
		backoff = opts.MaxBackoff
		in.nextStart = opts.Now().Add(backoff)
		in.setState(StateFailed)
	} else {
		in.nextStart = opts.Now().Add(backoff)
		in.setState(StateBackoff)
	}
	in.mu.Unlock()
	if permanent {
		in.log.Error("plugin cannot start as configured; fix the config or the binary", "error", err, "retry_in", backoff)
	} else {
		in.log.Warn("plugin failed to start; retrying", "error", err, "retry_in", backoff)
	}
	return backoff
}

// run watches a started plugin until it fails or ctx ends (stopped: then
// the process is stopped gently); a failed one is killed, and the wait
// before its restart is returned, back to the shortest once it had run
// long enough to count as stable.
func (in *instance) run(ctx context.Context, backoff time.Duration) (time.Duration, bool) {
	opts := in.h.opts
	in.log.Info("plugin running", "plugin_name", in.info.Name, "version", in.info.Version, "api_version", in.api, "pid", in.proc.pid)
	reason := in.watch(ctx)
	in.mu.Lock()
	proc, ran := in.proc, opts.Now().Sub(in.startedAt)
	in.proc = nil
	if ctx.Err() == nil {
		in.recordError(reason)
		in.nextStart = opts.Now().Add(backoff)
		in.setState(StateBackoff)
	}
	in.mu.Unlock()
	if ctx.Err() != nil {
		proc.stop()
		in.log.Info("plugin stopped")
		return backoff, true
	}
	proc.killHard()
	if ran >= opts.StableAfter {
		backoff = opts.MinBackoff
	}
	in.log.Error("plugin failed; restarting", "error", reason, "retry_in", backoff)
	return backoff, false
}

// start runs one start: checksum, handshake, Info, version, Configure, Health.
//
// A plugin that is failed stays failed, with its last error, while the
// attempt runs: only a successful start changes what Status says, and calls
// meanwhile fail at once with the reason rather than wait on an attempt
// that is likely to fail again. Any other plugin is starting, and calls wait
// for it.
func (in *instance) start(ctx context.Context) (err error) {
	in.mu.Lock()
	if in.state != StateFailed {
		in.setState(StateStarting)
	}
	in.mu.Unlock()
	if err := verifyChecksum(in.cfg.Name, in.cfg.Path, in.cfg.SHA256); err != nil {
		return err
	}
	proc, err := launch(in.cfg.Path, newHCLog(in.log), in.h.opts.StartTimeout)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			proc.killHard()
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, in.h.opts.StartTimeout)
	defer cancel()
	kind := in.kind.Kind
	info, err := proc.base.Info(sctx)
	if err != nil {
		return fmt.Errorf("plugin %q: Info: %w", in.cfg.Name, err)
	}
	if info.Kind == "" {
		return permanent(fmt.Errorf("plugin %q: %s reports a plugin kind this gateway does not know, but the config declares kind %q",
			in.cfg.Name, in.cfg.Path, kind))
	}
	if info.Kind != kind {
		return permanent(fmt.Errorf("plugin %q: %s is a %q plugin but the config declares kind %q",
			in.cfg.Name, in.cfg.Path, info.Kind, kind))
	}
	api, err := plugins.Negotiate(in.kind.APIVersions, info.APIVersions)
	if err != nil {
		return permanent(fmt.Errorf("plugin %q: %w", in.cfg.Name, err))
	}
	raw, err := in.cfg.ConfigJSON()
	if err != nil {
		return permanent(err)
	}
	if err := proc.base.Configure(sctx, api, raw); err != nil {
		var ce plugins.ConfigErrors
		if errors.As(err, &ce) {
			return permanent(fmt.Errorf("plugin %q rejected its config: %w", in.cfg.Name, err))
		}
		return fmt.Errorf("plugin %q: Configure: %w", in.cfg.Name, err)
	}
	if err := proc.base.Health(sctx); err != nil {
		return fmt.Errorf("plugin %q is not healthy: %w", in.cfg.Name, err)
	}
	in.mu.Lock()
	in.proc, in.info, in.api = proc, info, api
	in.startedAt = in.h.opts.Now()
	in.setState(StateRunning)
	in.mu.Unlock()
	return nil
}

// watch returns why the running plugin must be restarted, or nil when ctx ends.
func (in *instance) watch(ctx context.Context) error {
	in.mu.Lock()
	proc := in.proc
	in.mu.Unlock()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	health := time.NewTicker(in.h.opts.HealthInterval)
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-in.wake:
		case <-health.C:
			hctx, cancel := context.WithTimeout(ctx, in.h.opts.HealthTimeout)
			err := proc.base.Health(hctx)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("plugin did not answer its health check within %s (hung); killed it", in.h.opts.HealthTimeout)
			}
			if err != nil {
				return fmt.Errorf("health check failed: %w", err)
			}
		}
		if proc.exited() {
			return fmt.Errorf("plugin process %d exited unexpectedly", proc.pid)
		}
	}
}

// acquire returns the running plugin's process for one call, waiting while
// it is starting; release must be called when the call ends (a method, not
// a returned closure: that would be one more allocation on every call).
func (in *instance) acquire(ctx context.Context) (*process, error) {
	for {
		in.mu.Lock()
		switch in.state {
		case StateRunning:
			proc := in.proc
			in.inflight++
			in.mu.Unlock()
			return proc, nil
		case StateStarting:
			ch := in.changed
			in.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("still starting: %w", ctx.Err())
			}
		}
		var why error
		switch in.state {
		case StateBackoff:
			why = fmt.Errorf("%w: restarting after a failure (%s); next start at %s",
				plugins.ErrUnavailable, in.lastErr, in.nextStart.Format(time.RFC3339))
		case StateFailed:
			next := "next attempt at " + in.nextStart.Format(time.RFC3339)
			if !in.nextStart.After(in.h.opts.Now()) {
				next = "trying again now"
			}
			why = fmt.Errorf("%w: it cannot start: %s; %s", plugins.ErrUnavailable, in.lastErr, next)
		default:
			why = fmt.Errorf("%w: it is not running", plugins.ErrUnavailable)
		}
		in.mu.Unlock()
		return nil, why
	}
}

// release ends a call that acquire let through.
func (in *instance) release() {
	in.mu.Lock()
	in.inflight--
	in.mu.Unlock()
}

// poke asks the supervisor to look at the process now.
func (in *instance) poke() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}
