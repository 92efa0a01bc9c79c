package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/webhook"
)

// WebhooksConfig is the webhooks: section.
type WebhooksConfig struct {
	// AllowPrivateTargets lets endpoints be on loopback, private and
	// link-local addresses (and plain http): a gateway whose receivers are
	// on its own closed network. Off (the default), such URLs are refused.
	AllowPrivateTargets bool `yaml:"allow_private_targets"`
	// Workers: delivery workers per replica, each one request at a time.
	Workers int `yaml:"workers"`
	// RetryBase doubles after each failed attempt up to RetryMax.
	RetryBase time.Duration `yaml:"retry_base"`
	RetryMax  time.Duration `yaml:"retry_max"`
	// MaxAge: a delivery still failing after this is failed for good.
	MaxAge time.Duration `yaml:"max_age"`
	// DisableAfter: an endpoint failing every attempt this long is
	// disabled and the admins emailed.
	DisableAfter time.Duration `yaml:"disable_after"`
	// Poll: how often idle workers look for due deliveries.
	Poll time.Duration `yaml:"poll"`
	// Lease: a delivery claimed by a worker that died is claimed again
	// after it.
	Lease time.Duration `yaml:"lease"`
}

// problems lists every mistake in the webhooks section.
func (w *WebhooksConfig) problems() []string {
	var out []string
	if w.Workers < 0 || w.Workers > 64 {
		out = append(out, fmt.Sprintf("webhooks.workers: %d must be between 0 (the default, 4) and 64", w.Workers))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"retry_base", w.RetryBase}, {"retry_max", w.RetryMax}, {"max_age", w.MaxAge}, {"disable_after", w.DisableAfter}, {"poll", w.Poll}, {"lease", w.Lease}} {
		if d.v < 0 {
			out = append(out, fmt.Sprintf("webhooks.%s: must not be negative", d.name))
		}
	}
	if w.Lease > 0 && w.Lease < 2*time.Second {
		out = append(out, "webhooks.lease: at least 2s (below the 10s request timeout, a slow receiver may get a delivery twice)")
	}
	if w.RetryBase > 0 && w.RetryMax > 0 && w.RetryMax < w.RetryBase {
		out = append(out, "webhooks.retry_max: must be at least webhooks.retry_base")
	}
	return out
}

// newWebhooks builds the webhook service; its workers run from Start.
// The mail service tells the admins of a disabled endpoint.
func newWebhooks(cfg *Config, db *store.DB, now func() time.Time, log *slog.Logger, ms *mail.Service) (*webhook.Service, error) {
	w := cfg.Webhooks
	return webhook.New(db, webhook.Config{
		AllowPrivateTargets: w.AllowPrivateTargets, Workers: w.Workers, RetryBase: w.RetryBase, RetryMax: w.RetryMax,
		MaxAge: w.MaxAge, DisableAfter: w.DisableAfter, Poll: w.Poll, Lease: w.Lease,
		Logger: log.With("component", "webhooks"), Now: now, Notify: ms,
	})
}
