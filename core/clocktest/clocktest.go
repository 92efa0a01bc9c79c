// Package clocktest is a settable clock for tests, handed to the code
// under test as its Now func() time.Time, so a test moves time instead of
// waiting for it.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a settable clock, safe to read from the goroutines of the code
// under test while the test moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New is a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set moves the clock.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
