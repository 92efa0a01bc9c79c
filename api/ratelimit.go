package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a per-client token bucket for actions that must not be
// repeated freely, like an event site's forms. It is per replica (the
// lobby's guesses are counted in core/limit, shared by replicas).
type limiter struct {
	now     func() time.Time
	mu      sync.Mutex
	per     rate.Limit
	burst   int
	clients map[string]*clientBucket
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiter refills perSecond attempts a second, up to burst, by the
// gateway's clock.
func newLimiter(now func() time.Time, perSecond float64, burst int) *limiter {
	return &limiter{now: now, per: rate.Limit(perSecond), burst: burst, clients: map[string]*clientBucket{}}
}

func (l *limiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clients) > 50000 {
		for k, b := range l.clients {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.clients, k)
			}
		}
	}
	b, ok := l.clients[key]
	if !ok {
		b = &clientBucket{lim: rate.NewLimiter(l.per, l.burst)}
		l.clients[key] = b
	}
	b.seen = now
	return b.lim
}

// exhausted reports whether the client has no attempt left right now.
func (l *limiter) exhausted(key string) bool {
	now := l.now()
	return l.bucket(key, now).TokensAt(now) < 1
}

// spend uses up one attempt.
func (l *limiter) spend(key string) {
	now := l.now()
	l.bucket(key, now).AllowN(now, 1)
}
