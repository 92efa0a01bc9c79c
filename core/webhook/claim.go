package webhook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// claims are the statements of every delivery, the claim and the marks of
// an attempt's outcome, prepared once on the writer (core/mail's outbox
// does the same, for the same reason: SQLite's writer prepares nothing
// itself).
type claims struct {
	db                           *store.DB
	claimStmt, doneStmt, retrySt *sql.Stmt
	// endpointStmt reads, on the reader pool, what a delivery needs of
	// its endpoint.
	endpointStmt *sql.Stmt
}

const (
	// sqlClaimDeliveries is the claim up to its SELECT's locking clause
	// (store.SkipLocked): due deliveries of enabled endpoints, in the
	// order they were queued (walking idx_webhook_deliveries_claim), each
	// only when no older delivery of the same subject to the same endpoint
	// is still to go: that one goes first, so a receiver hears of a
	// subject's changes in their order.
	sqlClaimDeliveries = `UPDATE webhook_deliveries SET status = $1, claimed_by = $2, lease_until = $3, attempts = attempts + 1, updated_at = $4
WHERE seq IN (SELECT d.seq FROM webhook_deliveries d
  WHERE d.status = $5 AND d.next_attempt_at <= $6
  AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.enabled = $7)
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.endpoint_id = d.endpoint_id AND o.subject = d.subject
    AND o.seq < d.seq AND o.status IN ($8, $9))
  ORDER BY d.seq LIMIT $10`
	sqlMarkDelivered = `UPDATE webhook_deliveries SET status = $1, delivered_at = $2, response_code = $3, latency_ms = $4, response_bytes = $5,
response_excerpt = $6, last_error = '', lease_until = NULL, claimed_by = '', updated_at = $7 WHERE seq = $8 AND claimed_by = $9 AND status = $10`
	sqlMarkRetry = `UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, failed_at = $3, response_code = $4, latency_ms = $5, response_bytes = $6,
response_excerpt = $7, last_error = $8, lease_until = NULL, claimed_by = '', updated_at = $9 WHERE seq = $10 AND claimed_by = $11 AND status = $12`
	sqlDeliveryEndpoint = `SELECT id, account_id, url, secret, previous_secret, previous_until, failing_since FROM webhook_endpoints WHERE id = $1`
)

func newClaims(db *store.DB) (*claims, error) {
	c := &claims{db: db}
	for _, p := range []struct {
		dst   **sql.Stmt
		sql   string
		write bool
	}{
		{&c.endpointStmt, sqlDeliveryEndpoint, false},
		{&c.claimStmt, sqlClaimDeliveries + db.SkipLocked() + ")\nRETURNING seq, account_id, endpoint_id, event_id, subject, attempts, created_at,\n" +
			"(SELECT body FROM webhook_events WHERE id = webhook_deliveries.event_id)", true},
		{&c.doneStmt, sqlMarkDelivered, true},
		{&c.retrySt, sqlMarkRetry, true},
	} {
		st, err := db.Prepare(context.Background(), p.write, p.sql)
		if err != nil {
			return nil, fmt.Errorf("webhook: prepare the outbox: %w", err)
		}
		*p.dst = st
	}
	return c, nil
}

// claimed is a claimed delivery with its event's body, what is POSTed,
// read by the claim itself; gone when the event was erased since.
type claimed struct {
	Delivery
	body string
	gone bool
}

// claim takes up to n deliveries for worker until lease.
func (c *claims) claim(ctx context.Context, worker string, n int, now, lease time.Time) ([]claimed, error) {
	rows, err := c.claimStmt.QueryContext(ctx, Sending, worker, lease, now, Pending, now, true, Pending, Sending, n)
	if err != nil {
		return nil, fmt.Errorf("webhook: claim deliveries: %w", err)
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		d := claimed{Delivery: Delivery{Status: Sending, ClaimedBy: worker}}
		var body sql.NullString
		if err := rows.Scan(&d.Seq, &d.AccountID, &d.EndpointID, &d.EventID, &d.Subject, &d.Attempts, &d.CreatedAt, &body); err != nil {
			return nil, fmt.Errorf("webhook: claim deliveries: %w", err)
		}
		d.body, d.gone = body.String, !body.Valid
		out = append(out, d)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("webhook: claim deliveries: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: claim deliveries: %w", err)
	}
	return out, nil
}

// endpoint reads what a delivery needs of endpoint id: nil when it is
// gone.
func (c *claims) endpoint(ctx context.Context, id string) (*Endpoint, error) {
	ep := &Endpoint{}
	var prev sql.NullString
	err := c.endpointStmt.QueryRowContext(ctx, id).Scan(&ep.ID, &ep.AccountID, &ep.URL, &ep.Secret, &prev, &ep.PreviousUntil, &ep.FailingSince)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: read endpoint %s: %w", id, err)
	}
	ep.PreviousSecret = prev.String
	return ep, nil
}

// reclaim puts back in the queue the deliveries whose worker's lease ran
// out before now (it died, or lost its database): their attempt stays
// counted, and they go again in their turn.
func (c *claims) reclaim(ctx context.Context, now time.Time) (int64, error) {
	r := c.db.W.WithContext(ctx).Model(&Delivery{}).Where("status = ? AND lease_until < ?", Sending, now).
		Updates(map[string]any{"status": Pending, "claimed_by": "", "lease_until": nil, "updated_at": now})
	return r.RowsAffected, r.Error
}

// outcome is what one attempt got.
type outcome struct {
	code    int
	latency time.Duration
	read    int64
	excerpt string
	err     error
}

func (c *claims) delivered(ctx context.Context, tx *store.Tx, d *Delivery, worker string, o *outcome, now time.Time) (bool, error) {
	r, err := tx.Stmt(c.doneStmt).ExecContext(ctx, Delivered, now, o.code, o.latency.Milliseconds(), o.read, o.excerpt, now, d.Seq, worker, Sending)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// retry puts the delivery back until at, or fails it (status Failed)
// when it is out of time.
func (c *claims) retry(ctx context.Context, tx *store.Tx, d *Delivery, worker, status string, at time.Time, o *outcome, why string, now time.Time) error {
	var failedAt *time.Time
	if status == Failed {
		failedAt = &now
	}
	_, err := tx.Stmt(c.retrySt).ExecContext(ctx, status, at, failedAt, o.code, o.latency.Milliseconds(), o.read, o.excerpt, clip(why, 2000), now, d.Seq, worker, Sending)
	return err
}

// release returns claimed deliveries that were not tried, without
// counting the attempt.
func (c *claims) release(ctx context.Context, seqs []int64, worker string, now time.Time) error {
	if len(seqs) == 0 {
		return nil
	}
	return c.db.W.WithContext(ctx).Model(&Delivery{}).Where("seq IN ? AND claimed_by = ? AND status = ?", seqs, worker, Sending).
		Updates(map[string]any{"status": Pending, "claimed_by": "", "lease_until": nil, "attempts": gormExpr("attempts - 1"), "updated_at": now}).Error
}
