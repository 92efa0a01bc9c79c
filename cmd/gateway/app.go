package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/invitegate/gateway/api"
	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/schedule"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// app is the gateway's parts, wired once for serve and the admin commands.
type app struct {
	cfg      *Config
	log      *slog.Logger
	db       *store.DB
	signer   *jointoken.Signer
	invites  *invite.Service
	sessions *session.Service
	mail     *mail.Service
	events   *event.Service
}

func openApp(ctx context.Context, cfg *Config) (*app, error) {
	log := cfg.logger()
	db, err := store.Open(ctx, store.Config{DSN: cfg.Database.DSN, MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return nil, err
	}
	models := schema.Models()
	if err := db.Migrate(models...); err != nil {
		db.Close()
		return nil, err
	}
	signer, err := jointoken.Open(ctx, db, jointoken.Options{Issuer: cfg.BaseURL})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	ms, err := newMail(cfg, db, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	sessions, err := session.New(ctx, db, session.Options{})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &app{
		cfg: cfg, log: log, db: db, signer: signer,
		invites:  &invite.Service{DB: db, MaxGuesses: cfg.Invitations.MaxGuessesPerLink, Mail: ms, Sessions: sessions},
		sessions: sessions,
		mail:     ms,
		events:   &event.Service{DB: db, Mail: ms, BaseURL: cfg.BaseURL, Sessions: sessions},
	}, nil
}

// newMail builds the email service: the template catalog (template
// provider plugins in config order over the embedded defaults) and, when
// SMTP is configured, the outbox (started by serve).
func newMail(cfg *Config, db *store.DB, log *slog.Logger) (*mail.Service, error) {
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
	ms := &mail.Service{DB: db, Catalog: cat, BaseURL: cfg.BaseURL, From: cfg.Mail.From}
	if !cfg.Mail.Enabled() {
		return ms, nil
	}
	m := cfg.Mail
	ms.Outbox, err = mail.NewOutbox(db, mail.OutboxConfig{
		SMTP: m.SMTP, From: m.From, Workers: m.Workers, Batch: m.Batch, MaxAttempts: m.MaxAttempts,
		RetryBase: m.RetryBase, RetryMax: m.RetryMax, Lease: m.Lease, Poll: m.Poll, Logger: log.With("component", "mail"), Catalog: cat,
	})
	return ms, err
}

// templateSink stores each template provider refresh through the catalog.
func templateSink(cat *mail.Catalog) schedule.TemplateSink {
	return func(ctx context.Context, provider string, ts []templateprovider.Template) error {
		out := make([]mail.Template, len(ts))
		for i, t := range ts {
			out[i] = mail.Template{Name: t.Name, Locale: t.Locale, Subject: t.Subject, HTML: t.HTML, Text: t.Text, Version: t.Version}
		}
		return cat.Refresh(ctx, provider, out)
	}
}

func (a *app) close() { a.db.Close() }

// loginLinkFor issues a console sign-in link for a console user found by email.
func (a *app) loginLinkFor(ctx context.Context, email string) (string, error) {
	u, err := user.FirstConsoleUser(ctx, a.db, email, false)
	if err != nil {
		return "", fmt.Errorf("no console user with email %s", email)
	}
	tok, err := a.sessions.IssueLoginLink(ctx, u.AccountID, u.ID, audit.System)
	if err != nil {
		return "", err
	}
	return a.cfg.BaseURL + "/l/" + tok, nil
}

func (a *app) apiKeyFor(ctx context.Context, adminEmail, name string) (string, error) {
	email, err := user.NormalizeEmail(adminEmail)
	if err != nil {
		return "", err
	}
	u, err := user.FirstConsoleUser(ctx, a.db, email, true)
	if err != nil {
		return "", fmt.Errorf("no account admin with email %s", email)
	}
	key, _, err := account.CreateAPIKey(ctx, a.db, u.AccountID, name, audit.System)
	return key, err
}

type serveOptions struct {
	printLoginLink bool
	out            io.Writer
}

// serveGateway runs until ctx ends (SIGTERM/SIGINT), then drains requests.
func serveGateway(ctx context.Context, cfg *Config, opt serveOptions) error {
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	boot, err := account.EnsureFirst(ctx, a.db, cfg.Bootstrap.AccountName, cfg.Bootstrap.AdminEmail)
	if err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	plugins, err := startPlugins(ctx, cfg.Plugins, a.db, a.log, templateSink(a.mail.Catalog))
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	defer plugins.stop(context.WithoutCancel(ctx))
	a.invites.Rooms = plugins
	if a.mail.Outbox != nil {
		a.mail.Outbox.Start()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			if err := a.mail.Outbox.Stop(sctx); err != nil {
				a.log.Error("mail workers", "error", err)
			}
		}()
	}
	// Bulk invites confirmed here or on another replica run in the
	// background; jobs an earlier process left unfinished resume now.
	jobs, bulkInvites := a.jobRunner()
	jobs.Start()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		jobs.Stop(sctx)
	}()
	srv, err := api.New(api.Config{
		BaseURL: cfg.BaseURL, DB: a.db, Logger: a.log, Signer: a.signer, Invites: a.invites, Sessions: a.sessions,
		Rooms: plugins, Plugins: plugins, Mail: a.mail, Events: a.events, Bulk: bulkInvites,
		GuessesPerMinute: cfg.Invitations.GuessesPerClientMinute, TrustedProxies: cfg.TrustedProxies,
		UnknownLinks: cfg.Limits.UnknownLinks,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}

	fmt.Fprintf(opt.out, "Gateway serving at %s (database: %s)\n", cfg.BaseURL, store.DialectOf(cfg.Database.DSN))
	if boot != nil {
		fmt.Fprintf(opt.out, "First start: created account %q with admin %s.\n", boot.Account.Name, boot.Admin.Email)
		fmt.Fprintf(opt.out, "API key (shown once, stored hashed): %s\n", boot.APIKey)
	}
	fmt.Fprintf(opt.out, "Console: %s/console\n", cfg.BaseURL)
	if a.mail.Outbox != nil {
		fmt.Fprintf(opt.out, "Email: delivered through the SMTP server %s\n", cfg.Mail.SMTP.Host)
	} else {
		fmt.Fprintf(opt.out, "Email: off (no mail.smtp.host configured)\n")
	}
	if opt.printLoginLink {
		link, err := a.loginLinkFor(ctx, cfg.Bootstrap.AdminEmail)
		if err != nil {
			return err
		}
		fmt.Fprintf(opt.out, "Sign in as %s with this one-time link: %s\n", cfg.Bootstrap.AdminEmail, link)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	a.log.Info("serving", "listen", ln.Addr().String(), "base_url", cfg.BaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.log.Info("stopped")
	return nil
}
