package workers_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/workers"
)

// A group runs its goroutines once however often it is started, and Stop
// returns only after each has seen the cancel and returned.
func TestGroupStartsOnceAndStopWaits(t *testing.T) {
	var g workers.Group
	var running, ended atomic.Int32
	fn := func(ctx context.Context) {
		running.Add(1)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // finishing what it was doing
		ended.Add(1)
	}
	if !g.Start(fn, fn) {
		t.Fatal("the first Start did not start")
	}
	if g.Start(fn) {
		t.Error("a second Start while running started again")
	}
	for running.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if err := g.Stop(context.Background(), "test workers"); err != nil {
		t.Fatal(err)
	}
	if running.Load() != 2 || ended.Load() != 2 {
		t.Errorf("%d started, %d ended by the time Stop returned; want 2 and 2", running.Load(), ended.Load())
	}
	if err := g.Stop(context.Background(), "test workers"); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

// A Stop whose context ends first says so, naming the workers; the
// goroutines still end later.
func TestGroupStopGivesUpWithItsContext(t *testing.T) {
	var g workers.Group
	release := make(chan struct{})
	done := make(chan struct{})
	g.Start(func(ctx context.Context) {
		<-ctx.Done()
		<-release
		close(done)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := g.Stop(ctx, "mail workers")
	if err == nil || !strings.Contains(err.Error(), "stopping mail workers") {
		t.Errorf("Stop with a goroutine still busy: %v, want a deadline error naming the workers", err)
	}
	close(release)
	<-done
}
