package app

import (
	"log/slog"
	"time"

	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// newMail builds the email service: the template catalog (template
// provider plugins in config order over the embedded defaults) and, when
// SMTP is configured, the outbox (its workers run from Start).
func newMail(cfg *Config, db *store.DB, now func() time.Time, log *slog.Logger) (*mail.Service, error) {
	var providers []string
	for _, p := range cfg.Plugins {
		if plugins.Kind(p.Kind) == templateprovider.Kind {
			providers = append(providers, p.Name)
		}
	}
	cat, err := mail.NewCatalog(db, providers)
	if err != nil {
		return nil, err
	}
	ms := &mail.Service{DB: db, Catalog: cat, BaseURL: cfg.BaseURL, From: cfg.Mail.From, Now: now}
	if !cfg.Mail.Enabled() {
		return ms, nil
	}
	m := cfg.Mail
	mlog := log.With("component", "mail")
	// failed hears of every message that becomes failed, given up by the
	// outbox or bounced, in the transaction that marks it: a
	// delivery.failed event to the account's webhook endpoints.
	failed := mail.FailedHook(mail.EmitDeliveryFailed)
	ms.Outbox, err = mail.NewOutbox(db, mail.OutboxConfig{
		SMTP: m.SMTP, From: m.From, Workers: m.Workers, Batch: m.Batch, MaxAttempts: m.MaxAttempts,
		RetryBase: m.RetryBase, RetryMax: m.RetryMax, Lease: m.Lease, Poll: m.Poll, Logger: mlog,
		Now: now, Catalog: cat, BounceAddress: m.Bounces.Address, OnFailed: failed,
	})
	if err != nil {
		return nil, err
	}
	if ms.Views, err = mail.NewViewLog(db, mail.ViewLogConfig{ScannerWindow: m.ScannerWindow, Logger: mlog, Now: now}); err != nil {
		return nil, err
	}
	if m.Bounces.Maildir != "" {
		ms.Bounces, err = mail.NewBounces(db, mail.BounceConfig{Maildir: m.Bounces.Maildir, Every: m.Bounces.Every, OnFailed: failed, Logger: mlog, Now: now})
	}
	return ms, err
}
