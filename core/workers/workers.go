// Package workers runs a service's background goroutines (the mail and
// webhook outboxes' senders): started together, cancelled together, and
// waited for, so a shutdown lets each finish what it is doing. Wait is the
// waiting alone, for services whose goroutines start elsewhere (plugin
// supervisors, scheduled runs).
package workers

import (
	"context"
	"fmt"
	"sync"
)

// Group is a set of goroutines started by one Start and ended by Stop. The
// zero value is ready to use.
type Group struct {
	mu      sync.Mutex
	cancel  context.CancelFunc
	running sync.WaitGroup
}

// Start runs each fn in a goroutine of its own with a context that Stop
// cancels. While the group runs, another Start does nothing and returns
// false, so a service started twice does not run its workers twice.
func (g *Group) Start(fns ...func(ctx context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel != nil {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	for _, fn := range fns {
		g.running.Add(1)
		go func() {
			defer g.running.Done()
			fn(ctx)
		}()
	}
	return true
}

// Stop cancels the goroutines' context and waits for them to return, or
// for ctx to end (what says an error naming what, e.g. "mail workers").
func (g *Group) Stop(ctx context.Context, what string) error {
	g.mu.Lock()
	cancel := g.cancel
	g.cancel = nil
	g.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	return Wait(ctx, &g.running, what)
}

// Wait waits for wg, or for ctx to end: then the error says what was being
// stopped ("stopping plugins: context deadline exceeded"), and the
// goroutines are left to end by themselves.
func Wait(ctx context.Context, wg *sync.WaitGroup, what string) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping %s: %w", what, ctx.Err())
	}
}
