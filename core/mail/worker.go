package mail

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/workers"
)

// OutboxConfig tunes delivery. Zero values take the defaults in brackets.
type OutboxConfig struct {
	SMTP SMTPConfig
	// From is the sender of every message ("Invitegate <noreply@example.org>").
	From string
	// Workers is the number of SMTP connections per replica [2]. Each
	// claims, sends and records its own messages.
	Workers int
	// Batch is how many messages a worker claims at once [20].
	Batch int
	// MaxAttempts bounds the tries of a message before it is failed [8].
	MaxAttempts int
	// RetryBase is the wait after the first failed try, doubled after each
	// further one up to RetryMax [30s, 1h], with ±20% jitter.
	RetryBase, RetryMax time.Duration
	// Lease is how long a claim lasts [2m]: messages claimed by a worker
	// that died are claimed again once it has run out. A worker stops
	// sending from a claim after half of it and returns the rest.
	Lease time.Duration
	// Poll is how often an idle worker looks for due messages [1s]; a
	// message queued by this replica wakes a worker at once.
	Poll time.Duration
	// IdleClose closes a worker's SMTP connection after this long without
	// work [30s].
	IdleClose time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
	// Replica names this process in claims (default host:pid).
	Replica string
	// Catalog renders the messages queued with their model rather than
	// their bodies (a bulk import's invitations); without one they fail.
	Catalog *Catalog
	// BounceAddress, when set, is every message's envelope sender (MAIL
	// FROM, which the receiving server writes as Return-Path), so that
	// delivery status notifications go to it rather than to From
	// (bounces.go reads them).
	BounceAddress string
	// OnFailed, when set, hears of each message the outbox gives up on.
	OnFailed FailedHook
}

func (c *OutboxConfig) defaults() {
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Batch <= 0 {
		c.Batch = 20
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 30 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.IdleClose <= 0 {
		c.IdleClose = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Replica == "" {
		h, _ := os.Hostname()
		c.Replica = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
}

// Outbox delivers queued messages over SMTP.
type Outbox struct {
	db   *store.DB
	cfg  OutboxConfig
	wake chan struct{}
	// sends are the statements of every delivery.
	sends *deliveries

	workers workers.Group
}

// NewOutbox checks the configuration and prepares the outbox's statements
// on db, which must be migrated; Start starts the workers.
func NewOutbox(db *store.DB, cfg OutboxConfig) (*Outbox, error) {
	cfg.defaults()
	if p := cfg.SMTP.Problems("smtp."); len(p) > 0 {
		return nil, fmt.Errorf("mail: %v", p)
	}
	if _, err := ParseFrom(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from: %w", err)
	}
	if cfg.BounceAddress != "" {
		if _, err := ParseFrom(cfg.BounceAddress); err != nil {
			return nil, fmt.Errorf("mail: bounce address: %w", err)
		}
	}
	sends, err := newDeliveries(context.Background(), db)
	if err != nil {
		return nil, err
	}
	return &Outbox{db: db, cfg: cfg, wake: make(chan struct{}, 1), sends: sends}, nil
}

// Start runs the workers until Stop.
func (o *Outbox) Start() {
	from, _ := ParseFrom(o.cfg.From)
	loops := []func(context.Context){o.purgeBases}
	for i := range o.cfg.Workers {
		w := &worker{o: o, name: fmt.Sprintf("%s/%d", o.cfg.Replica, i), s: &sender{cfg: &o.cfg.SMTP, from: from, envelope: o.cfg.BounceAddress}}
		loops = append(loops, w.loop)
	}
	o.workers.Start(loops...)
}

// Stop stops the workers: each finishes the message it is sending, returns
// the rest of its claim to the queue and closes its connection. It waits
// until ctx ends.
func (o *Outbox) Stop(ctx context.Context) error { return o.workers.Stop(ctx, "mail workers") }

// basesEvery is how often the outbox purges the deferred models' bases that
// no waiting message names; a base is at least that old when purged.
const basesEvery = 10 * time.Minute

// purgeBases runs PurgeModelBases at start and every basesEvery until ctx
// ends.
func (o *Outbox) purgeBases(ctx context.Context) {
	t := time.NewTicker(basesEvery)
	defer t.Stop()
	for {
		n, err := PurgeModelBases(context.WithoutCancel(ctx), o.db, o.cfg.Now().Add(-basesEvery))
		switch {
		case err != nil:
			o.cfg.Logger.Error("mail: purge model bases", "error", err)
		case n > 0:
			o.cfg.Logger.Info("mail: purged model bases", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Wake tells an idle worker that a message waits.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

type worker struct {
	o    *Outbox
	name string
	s    *sender
}

func (w *worker) loop(ctx context.Context) {
	log := w.o.cfg.Logger
	defer w.s.close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := w.round(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("mail worker", "worker", w.name, "error", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n == w.o.cfg.Batch && err == nil {
			continue // more may be due
		}
		if w.s.open && time.Since(w.s.last) > w.o.cfg.IdleClose {
			w.s.close()
		}
		timer.Reset(w.o.cfg.Poll)
		select {
		case <-ctx.Done():
			return
		case <-w.o.wake:
		case <-timer.C:
		}
	}
}

// round claims a batch and works through it; it returns how many it claimed.
func (w *worker) round(ctx context.Context) (int, error) {
	cfg := &w.o.cfg
	now := cfg.Now().UTC()
	// Database writes outlive a shutdown's cancel, so an outcome is always
	// recorded.
	dbctx := context.WithoutCancel(ctx)
	msgs, err := w.o.sends.claim(dbctx, w.name, cfg.Batch, now, now.Add(cfg.Lease))
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	stopAt := now.Add(cfg.Lease / 2)
	for i := range msgs {
		m := &msgs[i]
		if ctx.Err() != nil || cfg.Now().After(stopAt) {
			ids := make([]string, 0, len(msgs)-i)
			for _, r := range msgs[i:] {
				ids = append(ids, r.ID)
			}
			return len(msgs), release(dbctx, w.o.db, ids, w.name, cfg.Now().UTC())
		}
		if m.Attempts > cfg.MaxAttempts {
			// Claimed again after its worker died, past the last try.
			f := Failure{Kind: Soft, Why: fmt.Sprintf("gave up after %d attempts; last error: %s", cfg.MaxAttempts, m.LastError)}
			if err := markFailed(dbctx, w.o.db, cfg.OnFailed, m, w.name, f, cfg.Now().UTC()); err != nil {
				return len(msgs), err
			}
			continue
		}
		if err := w.deliver(ctx, dbctx, m); err != nil {
			return len(msgs), err
		}
	}
	return len(msgs), nil
}

// deliver sends one message and records the outcome. A connection failure
// defers the message like any temporary failure.
func (w *worker) deliver(ctx, dbctx context.Context, m *Message) error {
	cfg := &w.o.cfg
	var reply string
	var err error
	if m.deferred() {
		err = renderDeferred(dbctx, cfg.Catalog, m)
	}
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, cfg.Lease/2)
		reply, err = w.s.send(sctx, m)
		cancel()
	}
	now := cfg.Now().UTC()
	if err == nil {
		ok, derr := w.o.sends.markSent(dbctx, m, w.name, reply, now)
		if derr == nil && !ok {
			cfg.Logger.Warn("mail sent after its claim ran out; another worker may send it too", "worker", w.name, "message", m.ID)
		}
		return derr
	}
	log := cfg.Logger.With("worker", w.name, "message", m.ID, "attempt", m.Attempts)
	why := err.Error()
	if !temporary(err) {
		log.Warn("mail refused for good", "error", why)
		return markFailed(dbctx, w.o.db, cfg.OnFailed, m, w.name, Failure{Kind: Hard, Why: why}, now)
	}
	if m.Attempts >= cfg.MaxAttempts {
		log.Warn("mail failed after its last attempt", "error", why)
		return markFailed(dbctx, w.o.db, cfg.OnFailed, m, w.name, Failure{Kind: Soft, Why: fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, why)}, now)
	}
	at := now.Add(backoff(cfg.RetryBase, cfg.RetryMax, m.Attempts))
	log.Info("mail deferred", "error", why, "next_attempt", at)
	return markRetry(dbctx, w.o.db, m, w.name, why, at, now)
}

// backoff is the wait after the attempt-th failed try.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}
