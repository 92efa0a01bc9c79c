package plugins

import (
	"fmt"
	"sync"
)

// Configured holds the configuration a plugin's Configure accepted, for
// its calls to read: the host may configure a running plugin again (a new
// config on restart of the gateway), while calls are under way.
type Configured[C any] struct {
	mu  sync.RWMutex
	cfg *C
}

// Set makes cfg the configuration every later Get returns.
func (c *Configured[C]) Set(cfg *C) {
	c.mu.Lock()
	c.cfg = cfg
	c.mu.Unlock()
}

// Get returns the configuration, or ErrUnavailable before Configure
// accepted one.
func (c *Configured[C]) Get() (*C, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cfg == nil {
		return nil, fmt.Errorf("%w: not configured", ErrUnavailable)
	}
	return c.cfg, nil
}
