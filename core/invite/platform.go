package invite

import (
	"context"
	"errors"
	"time"

	"github.com/invitegate/gateway/core/resource"
)

// platformWait bounds how long opening or redeeming a link waits for the
// platform's word on its resource; past it the stored values stand, so a
// platform that hangs slows a page down, and breaks none.
const platformWait = 3 * time.Second

// askPlatform asks the platform hosting res (a resource a room adapter
// hosts) whether it still exists and when it is scheduled. An error means
// the platform could not answer, and the stored values stand.
func (s *Service) askPlatform(ctx context.Context, res *resource.Resource) (resource.Status, error) {
	if s.Platform == nil {
		return resource.Status{}, resource.NoAdapter(res.Adapter, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, platformWait)
	defer cancel()
	return s.Platform.Status(ctx, res.Adapter, res.PlatformID())
}

// applyPlatform makes the link's resource what its platform says it is
// now: deleted when it no longer exists there (the link then says so),
// scheduled as the platform schedules it (the countdown counts to its
// start). Nothing is written: the platform is asked again next time.
// After an error (the platform could not answer) the stored values stand.
func (l *loaded) applyPlatform(st resource.Status, err error, now time.Time) {
	if err != nil {
		return
	}
	if !st.Exists {
		if l.res.DeletedAt == nil {
			l.res.DeletedAt = &now
		}
		return
	}
	l.res.StartsAt, l.res.EndsAt = st.StartsAt, st.EndsAt
}

// onPlatform applies, inside a redemption's transaction, what the
// platform said of the link's resource, and reports whether it has been
// asked. It has not the first time: the redemption then ends its
// transaction having written nothing, asks the platform outside it (a
// call to another process must not hold the database's one writer on
// SQLite), and decides again with the answer.
func (r *redemption) onPlatform(l *loaded) bool {
	if !r.asked {
		r.askFor = l.res
		return false
	}
	l.applyPlatform(r.status, r.platformErr, r.now)
	return true
}

// askPlatform asks the platform what the first transaction found out was
// needed.
func (r *redemption) askPlatform(ctx context.Context) {
	r.status, r.platformErr = r.s.askPlatform(ctx, r.askFor)
	r.asked, r.askFor = true, nil
}

// platformAnswer is what the platform said when asked about a link's
// resource (err: it could not answer).
type platformAnswer struct {
	status resource.Status
	err    error
}

// refusedAfterAsking is a redemption's refusal once the platform was
// asked, carrying its answer: the page shown after the refusal
// (InspectAfter) is built on the same answer instead of asking again.
type refusedAfterAsking struct {
	error
	heard platformAnswer
}

func (e *refusedAfterAsking) Unwrap() error { return e.error }

// refusal is the redemption's refusal, with the platform's answer when
// it was asked.
func (r *redemption) refusal() error {
	if !r.asked {
		return r.refused
	}
	return &refusedAfterAsking{error: r.refused, heard: platformAnswer{r.status, r.platformErr}}
}

// InspectAfter is Inspect for the page shown after Redeem refused with
// refusal (a lobby asking again for the email): what the platform told the
// redemption stands, so one press of Enter asks the platform once.
func (s *Service) InspectAfter(ctx context.Context, tok string, v Visitor, refusal error) (*View, error) {
	var r *refusedAfterAsking
	if errors.As(refusal, &r) {
		return s.inspect(ctx, tok, v, &r.heard)
	}
	return s.inspect(ctx, tok, v, nil)
}
