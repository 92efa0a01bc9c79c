package saml

import (
	"time"

	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"
)

// envClock is the gateway's clock in the shape crewjam/saml and goxmldsig
// read time through (ServiceProvider.Clock), so every time check of the
// library (issue instants, conditions, certificate validity) uses
// connector.Env.Now. Timers are never used by the service provider; they
// stay real.
type envClock struct {
	clockwork.Clock
	now func() time.Time
}

func newClock(now func() time.Time) *dsig.Clock {
	return dsig.NewFakeClock(envClock{Clock: clockwork.NewRealClock(), now: now})
}

func (c envClock) Now() time.Time                  { return c.now() }
func (c envClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c envClock) Until(t time.Time) time.Duration { return t.Sub(c.now()) }
