// Package host starts, supervises and calls the gateway's plugin processes.
//
// Each plugin declared in the config gets a supervisor: it verifies the
// binary's checksum, starts it with the go-plugin handshake over gRPC with
// automatic mutual TLS, negotiates the API version, configures it and
// health-checks it. A plugin that exits or stops answering its health check
// is killed and restarted with exponential back-off; calls made meanwhile
// fail fast with a clear error, and nothing else in the gateway waits on it.
// Plugin logs are relayed into the gateway's logger with the plugin's name.
//
// The core reaches plugins through typed clients that stay valid across
// restarts (ClientOf). What the host knows of each plugin kind is one entry
// in the table of kinds.go (Kinds); the rest is the kind's own package.
package host

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/workers"
	"github.com/invitegate/gateway/plugins"
)

// Options tune the host; zero values take the defaults in the comments.
type Options struct {
	// Logger receives the host's and the plugins' logs (default: discard).
	Logger *slog.Logger
	// StartTimeout bounds handshake, Info, Configure and the first Health
	// check of one start (default 20s).
	StartTimeout time.Duration
	// HealthInterval is how often a running plugin is health-checked
	// (default 10s); HealthTimeout is how long it may take to answer
	// (default 5s) before it counts as hung and is restarted.
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	// CallTimeout is the deadline of a call whose context has none
	// (default 30s): no request waits forever on a plugin.
	CallTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a restart (defaults
	// 500ms and 1m); the wait doubles after each failed start and resets
	// once a plugin has run for StableAfter (default 1m).
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	StableAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StartTimeout, 20*time.Second)
	def(&o.HealthInterval, 10*time.Second)
	def(&o.HealthTimeout, 5*time.Second)
	def(&o.CallTimeout, 30*time.Second)
	def(&o.MinBackoff, 500*time.Millisecond)
	def(&o.MaxBackoff, time.Minute)
	def(&o.StableAfter, time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Host runs the configured plugins.
type Host struct {
	opts      Options
	log       *slog.Logger
	configs   []Config
	instances map[string]*instance

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New checks the declarations; nothing starts until Start.
func New(cfgs []Config, opts Options) (*Host, error) {
	if err := ValidateAll(cfgs); err != nil {
		return nil, err
	}
	opts.defaults()
	h := &Host{opts: opts, log: opts.Logger, configs: append([]Config(nil), cfgs...), instances: map[string]*instance{}}
	for _, c := range cfgs {
		kind, err := LookupKind(plugins.Kind(c.Kind))
		if err != nil {
			return nil, err // ValidateAll has said so already
		}
		h.instances[c.Name] = newInstance(h, c, kind)
	}
	return h, nil
}

// Configs returns the declarations the host was built from.
func (h *Host) Configs() []Config { return append([]Config(nil), h.configs...) }

// Start launches every plugin and waits until each has started or failed
// its first start. It returns the first starts' failures joined, for the
// caller to log; supervision goes on regardless (failed starts are retried
// with back-off unless they cannot succeed, e.g. a checksum mismatch), so
// the gateway serves whatever does not need a failed plugin.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return errors.New("plugin host already started")
	}
	h.started = true
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	h.mu.Unlock()

	first := make(chan error, len(h.instances))
	for _, inst := range h.instances {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			inst.supervise(runCtx, first)
		}()
	}
	var errs []error
	for range h.instances {
		select {
		case err := <-first:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// Stop asks every plugin to exit, kills those that do not within a few
// seconds, and waits for the supervisors until ctx ends.
func (h *Host) Stop(ctx context.Context) error {
	h.mu.Lock()
	cancel := h.cancel
	h.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	return workers.Wait(ctx, &h.wg, "plugins")
}

// Status reports every plugin, in config order.
func (h *Host) Status() []Status {
	out := make([]Status, 0, len(h.configs))
	for _, c := range h.configs {
		out = append(out, h.instances[c.Name].status())
	}
	return out
}

// StatusOf reports one plugin.
func (h *Host) StatusOf(name string) (Status, bool) {
	inst, ok := h.instances[name]
	if !ok {
		return Status{}, false
	}
	return inst.status(), true
}

// Names lists the configured plugins of a kind, sorted.
func (h *Host) Names(kind plugins.Kind) []string {
	var out []string
	for _, c := range h.configs {
		if plugins.Kind(c.Kind) == kind {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}
