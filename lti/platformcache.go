package lti

import (
	"context"
	"sync"
	"time"
)

// platformTTL is how long a registration read for a launch answers the
// next launches of its platform before it is read again. A change made
// through this replica takes effect at once; one made through another
// replica within this time.
const platformTTL = 5 * time.Second

// platformCache keeps the registrations launches read, so a burst of
// launches (a class opening the tool at once) reads each registration
// once every platformTTL instead of once per launch.
type platformCache struct {
	mu sync.Mutex
	m  map[string]cachedPlatform
}

type cachedPlatform struct {
	p    *Platform // nil: no such registration
	read time.Time
}

func newPlatformCache() *platformCache { return &platformCache{m: map[string]cachedPlatform{}} }

// platformForLaunch is the registration platformID names, nil when there
// is none, as read at most platformTTL ago. The caller gets its own copy.
func (s *Service) platformForLaunch(ctx context.Context, platformID string) (*Platform, error) {
	now := s.now()
	c := s.platforms
	c.mu.Lock()
	e, ok := c.m[platformID]
	c.mu.Unlock()
	if !ok || now.Sub(e.read) >= platformTTL || now.Before(e.read) {
		p, err := s.platformByID(ctx, platformID)
		if err != nil {
			return nil, err
		}
		e = cachedPlatform{p: p, read: now}
		c.mu.Lock()
		if len(c.m) > 10_000 {
			clear(c.m)
		}
		c.m[platformID] = e
		c.mu.Unlock()
	}
	if e.p == nil {
		return nil, nil
	}
	p := *e.p
	p.DeploymentIDs = append([]string(nil), e.p.DeploymentIDs...)
	p.FrameOrigins = append([]string(nil), e.p.FrameOrigins...)
	return &p, nil
}

// forget drops a registration this replica changed or deleted.
func (c *platformCache) forget(platformID string) {
	c.mu.Lock()
	delete(c.m, platformID)
	c.mu.Unlock()
}
