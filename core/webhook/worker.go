package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/invitegate/gateway/core/store"
)

func gormExpr(s string) any { return gorm.Expr(s) }

// Start runs the delivery workers until Stop.
func (s *Service) Start() {
	loops := make([]func(context.Context), s.cfg.Workers)
	for i := range loops {
		name := fmt.Sprintf("%s/%d", s.cfg.Replica, i)
		loops[i] = func(ctx context.Context) { s.loop(ctx, name) }
	}
	s.workers.Start(loops...)
}

// Stop stops the workers: each finishes the request it is making and
// returns the rest of its claim. It waits until ctx ends.
func (s *Service) Stop(ctx context.Context) error { return s.workers.Stop(ctx, "webhook workers") }

func (s *Service) loop(ctx context.Context, name string) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := s.round(ctx, name)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("webhook worker", "worker", name, "error", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n == s.cfg.Batch && err == nil {
			continue
		}
		timer.Reset(s.cfg.Poll)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// RunDue makes one round of deliveries in the caller's goroutine, as a
// worker does, and returns how many it claimed: for a command or a test
// that runs without the workers.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	return s.round(ctx, s.cfg.Replica+"/now")
}

// round claims a batch, delivers it and records the outcomes; it returns
// how many it claimed.
func (s *Service) round(ctx context.Context, worker string) (int, error) {
	now := s.now()
	dbctx := context.WithoutCancel(ctx)
	if err := s.reclaimDue(dbctx, now); err != nil {
		return 0, err
	}
	ds, err := s.sends.claim(dbctx, worker, s.cfg.Batch, now, now.Add(s.cfg.Lease))
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	eps, err := s.endpointsOf(dbctx, ds)
	if err != nil {
		return len(ds), err
	}
	stopAt := now.Add(s.cfg.Lease / 2)
	done := make([]attempt, 0, len(ds))
	var rest []int64
	for i := range ds {
		d := &ds[i]
		if ctx.Err() != nil || s.now().After(stopAt) {
			for _, r := range ds[i:] {
				rest = append(rest, r.Seq)
			}
			break
		}
		ep := eps[d.EndpointID]
		if ep == nil || d.gone {
			// Deleted with its endpoint, or erased, since it was queued.
			continue
		}
		done = append(done, attempt{d: &d.Delivery, ep: ep, o: s.post(ctx, ep, d.EventID, d.body), at: s.now()})
	}
	if err := s.record(dbctx, worker, done); err != nil {
		return len(ds), err
	}
	return len(ds), s.sends.release(dbctx, rest, worker, s.now())
}

// reclaimDue reclaims run-out leases (claims.reclaim) at a process's first
// round and then every Lease/4, not at every claim: the claim then walks
// only the due deliveries' index.
func (s *Service) reclaimDue(ctx context.Context, now time.Time) error {
	last := s.reclaimed.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < s.cfg.Lease/4 {
		return nil
	}
	if !s.reclaimed.CompareAndSwap(last, now.UnixNano()) {
		return nil
	}
	n, err := s.sends.reclaim(ctx, now)
	if n > 0 {
		s.cfg.Logger.Info("webhook deliveries of a dead worker back in the queue", "deliveries", n)
	}
	return err
}

// attempt is one delivery tried, with what it got.
type attempt struct {
	d  *Delivery
	ep *Endpoint
	o  *outcome
	at time.Time
}

// endpointsOf reads the endpoints of a claimed batch (one, mostly).
func (s *Service) endpointsOf(ctx context.Context, ds []claimed) (map[string]*Endpoint, error) {
	m := map[string]*Endpoint{}
	for _, d := range ds {
		if _, ok := m[d.EndpointID]; ok {
			continue
		}
		ep, err := s.sends.endpoint(ctx, d.EndpointID)
		if err != nil {
			return nil, err
		}
		m[d.EndpointID] = ep
	}
	return m, nil
}

// record writes the outcomes of a batch's attempts, in one transaction:
// on SQLite's one writer, a commit per delivery would cost more than the
// request. A worker that dies before it leaves the batch's deliveries to
// be claimed again once the lease runs out (at least once).
func (s *Service) record(ctx context.Context, worker string, as []attempt) error {
	if len(as) == 0 {
		return nil
	}
	// Write groups it with the other workers' records into one commit on
	// SQLite; it may run more than once, acting only through tx.
	return s.db.Write(ctx, func(tx *store.Tx) error {
		cleared := map[string]bool{}
		for _, a := range as {
			if err := s.recordOne(tx, worker, a, cleared); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordOne records one attempt: delivered, or back in the queue after
// back-off, or failed for good past MaxAge; cleared holds the endpoints
// whose run of failures this batch already ended.
func (s *Service) recordOne(tx *store.Tx, worker string, a attempt, cleared map[string]bool) error {
	ctx, d, ep, o := tx.Context(), a.d, a.ep, a.o
	if o.err == nil {
		ok, err := s.sends.delivered(ctx, tx, d, worker, o, a.at)
		if err != nil {
			return err
		}
		if !ok {
			s.cfg.Logger.Warn("webhook delivered after its claim ran out; it may be delivered twice", "worker", worker, "delivery", d.Seq)
		}
		if ep.FailingSince != nil && !cleared[ep.ID] {
			cleared[ep.ID] = true
			return tx.Model(&Endpoint{}).Where("id = ?", ep.ID).Update("failing_since", nil).Error
		}
		return nil
	}
	why := o.err.Error()
	status, next := Pending, a.at.Add(backoff(s.cfg.RetryBase, s.cfg.RetryMax, d.Attempts))
	if next.After(d.CreatedAt.Add(s.cfg.MaxAge)) {
		status, why = Failed, fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, why)
	}
	s.cfg.Logger.Info("webhook attempt failed", "endpoint", ep.ID, "delivery", d.Seq, "attempt", d.Attempts, "error", o.err, "status", status, "next_attempt", next)
	if err := s.sends.retry(ctx, tx, d, worker, status, next, o, why, a.at); err != nil {
		return err
	}
	return s.failing(tx, ep, why, a.at)
}

// failing records that ep failed an attempt at now, and disables it when
// every attempt has failed for DisableAfter, telling the admins.
func (s *Service) failing(tx *store.Tx, ep *Endpoint, why string, now time.Time) error {
	if ep.FailingSince == nil {
		return tx.Model(&Endpoint{}).Where("id = ? AND failing_since IS NULL", ep.ID).Update("failing_since", now).Error
	}
	if now.Sub(*ep.FailingSince) < s.cfg.DisableAfter {
		return nil
	}
	reason := fmt.Sprintf("disabled at %s: every attempt since %s failed; the last: %s", now.Format(time.RFC3339), ep.FailingSince.Format(time.RFC3339), clip(why, 500))
	r := tx.Model(&Endpoint{}).Where("id = ? AND enabled = ?", ep.ID, true).Updates(map[string]any{"enabled": false, "disabled_reason": reason, "updated_at": now})
	if r.Error != nil || r.RowsAffected == 0 {
		return r.Error
	}
	s.wants.forget(ep.AccountID)
	s.cfg.Logger.Warn("webhook endpoint disabled", "endpoint", ep.ID, "url", ep.URL, "reason", reason)
	if s.cfg.Notify == nil {
		return nil
	}
	return s.cfg.Notify.WebhookDisabled(tx, ep.AccountID, ep.ID, ep.URL, reason)
}

// post signs and sends the event to the endpoint, reading at most
// MaxResponseBody of the answer. A 2xx is delivered; anything else,
// including a redirect, is a failed attempt.
func (s *Service) post(ctx context.Context, ep *Endpoint, eventID, body string) *outcome {
	o := &outcome{}
	at := s.now()
	b := []byte(body)
	sig, err := signature(ep, eventID, at, b)
	if err != nil {
		o.err = err
		return o
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(b))
	if err != nil {
		o.err = err
		return o
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Invitegate-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, eventID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		o.latency = time.Since(start)
		o.err = attemptError(err)
		return o
	}
	var buf bytes.Buffer
	o.read, err = io.Copy(&buf, io.LimitReader(resp.Body, MaxResponseBody))
	resp.Body.Close()
	o.latency = time.Since(start)
	o.code = resp.StatusCode
	o.excerpt = clip(buf.String(), 1000)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		o.err = fmt.Errorf("answered %d (redirects are not followed): %s", resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		o.err = fmt.Errorf("answered %d", resp.StatusCode)
	case err != nil:
		o.err = fmt.Errorf("reading the answer: %w", err)
	}
	return o
}

// attemptError is the error of a request that got no answer, without Go's
// "Post \"URL\":" prefix.
func attemptError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.HasPrefix(err.Error(), "Post ") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// backoff is the wait after the attempt-th failed attempt.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
