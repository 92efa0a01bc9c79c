package webhook

import (
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/workers"
)

// Config tunes endpoints and delivery. Zero values take the defaults in
// brackets.
type Config struct {
	// AllowPrivateTargets lets endpoints be on loopback, link-local and
	// private addresses and the cloud metadata address, and be plain http
	// (a gateway on a closed network, tests). Off, such a URL is refused
	// when saved and such an address refused when dialled, after DNS.
	AllowPrivateTargets bool
	// Workers is the number of delivery workers per replica [4]; each
	// sends one request at a time.
	Workers int
	// Batch is how many deliveries a worker claims at once, and records the
	// outcomes of in one transaction [200]: the claim and the records cost
	// per statement as much as per row, so a small batch spends more on
	// the database than on the requests. A worker that is slow on its
	// batch (timeouts) returns what it has not tried at half its Lease.
	Batch int
	// RetryBase is the wait after the first failed attempt, doubled after
	// each further one up to RetryMax [10s, 1h], with ±20% jitter.
	RetryBase, RetryMax time.Duration
	// MaxAge: a delivery still failing this long after its event is
	// failed for good [24h].
	MaxAge time.Duration
	// DisableAfter: an endpoint whose every attempt has failed for this
	// long is disabled and the account's admins are emailed [24h].
	DisableAfter time.Duration
	// Lease is how long a claim lasts [1m]: deliveries claimed by a worker
	// that died are claimed again after it.
	Lease time.Duration
	// Poll is how often an idle worker looks for due deliveries [500ms].
	Poll time.Duration
	// Timeout bounds one request, connection to last byte read [10s].
	Timeout time.Duration
	// RotationOverlap is how long a rotated-out secret still signs [24h].
	RotationOverlap time.Duration
	// Replica names this process in claims (default host:pid).
	Replica string
	Logger  *slog.Logger
	Now     func() time.Time
	// Resolver replaces the DNS resolver of the delivery dialer (tests);
	// every address it answers is still checked when dialled.
	Resolver Resolver
	// Notify is told, in the transaction that disables an endpoint, that
	// it was disabled, so the account's admins are emailed with it. Nil:
	// no one is told but the log.
	Notify Notifier
}

// Notifier tells the account's admins that an endpoint was disabled.
type Notifier interface {
	WebhookDisabled(tx *store.Tx, accountID, endpointID, url, why string) error
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 10 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 24 * time.Hour
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RotationOverlap <= 0 {
		c.RotationOverlap = 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Replica == "" {
		c.Replica = replicaName()
	}
}

// Service manages endpoints, emits events with the cheap check of which
// types an account wants, and runs the delivery workers.
type Service struct {
	db     *store.DB
	cfg    Config
	client *http.Client
	wants  *wantCache
	wake   chan struct{}
	sends  *claims
	// reclaimed is when run-out leases were last reclaimed (UnixNano).
	reclaimed atomic.Int64

	workers workers.Group
}

// New prepares the service on db, which must be migrated; Start starts the
// delivery workers.
func New(db *store.DB, cfg Config) (*Service, error) {
	cfg.defaults()
	sends, err := newClaims(db)
	if err != nil {
		return nil, err
	}
	return &Service{db: db, cfg: cfg, client: newClient(&cfg), wants: newWantCache(), wake: make(chan struct{}, 1), sends: sends}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Wake tells an idle worker that a delivery waits.
func (s *Service) Wake() {
	if s == nil {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
