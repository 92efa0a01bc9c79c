// Package app builds the gateway: Build turns a Config into every service,
// complete, on one clock, and the HTTP handler over them. `gateway serve`
// builds and starts it, the admin commands build it without starting
// anything in the background, and the test server (api/apitest) and the
// benchmarks build it on a test database, so what they exercise is what
// runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/invitegate/gateway/api"
	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/provision"
	"github.com/invitegate/gateway/core/resend"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/webhook"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/sso"
)

// Options are what a Build takes beside the configuration: what a process
// decides rather than an operator (the tests' clock and log, whether the
// background workers run).
type Options struct {
	// Now is the one clock of every service: audit entries, link and
	// session expiry, leases, retries, rate limits, cron ticks (default
	// time.Now). Tests pass a clock they move.
	Now func() time.Time
	// Logger receives the gateway's log (default: Config.Logger, on
	// standard error).
	Logger *slog.Logger
	// HoldJobs: Start leaves the job runner stopped, so confirmed jobs wait
	// until someone runs them (Gateway.Jobs.RunPending or Run).
	HoldJobs bool
	// HoldMail: Start leaves the outbox workers stopped, so queued email
	// stays in the outbox.
	HoldMail bool
	// SSOTypes replaces the SSO connection types the gateway has (tests
	// register a connector whose behaviour they set); nil keeps the
	// gateway's own.
	SSOTypes sso.Types
}

// Gateway is every service of a built gateway. Its fields are read, never
// replaced: each service was built with the others it needs.
type Gateway struct {
	Config   *Config
	Log      *slog.Logger
	DB       *store.DB
	Signer   *jointoken.Signer
	Sessions *session.Service
	Mail     *mail.Service
	Invites  *invite.Service
	Events   *event.Service
	Bulk     *bulk.Service
	// Resend runs bulk resends ("Resend to these").
	Resend *resend.Service
	// LTI is the LTI 1.3 tool: platform registrations, launches, its keys.
	LTI *lti.Service
	// SSO manages identity provider connections and runs SSO logins; its
	// schedule refreshes IdP metadata and sweeps expired logins.
	SSO         *sso.Service
	SSOSchedule *sso.Schedule
	// Provision holds what identity providers push by SCIM, and their
	// provisioning tokens.
	Provision *provision.Service
	// Jobs runs confirmed jobs (bulk invites); Start starts it unless
	// HoldJobs.
	Jobs *job.Runner
	// Plugins is the plugin host and its scheduler, and the room adapter
	// side of the gateway's services.
	Plugins *Plugins
	// Webhooks manages the accounts' endpoints and delivers their events;
	// Start starts its workers.
	Webhooks *webhook.Service
	// Handler serves every HTTP route.
	Handler *api.Server

	opts    Options                           // its Now is the clock every service was given
	started []func(ctx context.Context) error // stops, in start order
	closed  sync.Once
}

// Build opens and migrates the database and builds every service on it.
// Nothing runs in the background until Start; Close releases what Build
// opened (and stops what Start started).
func Build(ctx context.Context, cfg *Config, opts Options) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = cfg.Logger()
	}
	now, log := opts.Now, opts.Logger
	db, err := store.Open(ctx, store.Config{DSN: cfg.Database.DSN, MaxOpenConns: cfg.Database.MaxOpenConns, Now: now})
	if err != nil {
		return nil, err
	}
	g := &Gateway{Config: cfg, Log: log, DB: db, opts: opts}
	if err := g.build(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return g, nil
}

// build makes the services, each with what it needs, in the order they
// need each other.
func (g *Gateway) build(ctx context.Context) error {
	cfg, db, now := g.Config, g.DB, g.opts.Now
	if err := db.Migrate(schema.Models()...); err != nil {
		return err
	}
	var err error
	if g.Signer, err = jointoken.Open(ctx, db, jointoken.Options{Issuer: cfg.BaseURL, Now: now}); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if g.Sessions, err = session.New(ctx, db, session.Options{Now: now}); err != nil {
		return err
	}
	if g.Mail, err = newMail(cfg, db, now, g.Log); err != nil {
		return err
	}
	if g.Webhooks, err = newWebhooks(cfg, db, now, g.Log, g.Mail); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	if g.Plugins, err = newPlugins(cfg, db, now, g.Log, g.Mail.Catalog); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	g.Invites = &invite.Service{DB: db, Now: now, MaxGuesses: cfg.Invitations.MaxGuessesPerLink, Mail: g.Mail,
		Sessions: g.Sessions, Rooms: g.Plugins, Platform: g.Plugins.Platform, Webhooks: g.Webhooks}
	g.Events = &event.Service{DB: db, Now: now, Mail: g.Mail, BaseURL: cfg.BaseURL, Sessions: g.Sessions, Webhooks: g.Webhooks}
	g.Bulk, g.Resend, g.Jobs = newJobs(db, now, g.Log, g.Events)
	if g.LTI, err = lti.New(ctx, db, lti.Options{BaseURL: cfg.BaseURL, Sessions: g.Sessions, Platform: g.Plugins.Platform,
		Adapters: func() []string { return g.Plugins.Host.Names(roomadapter.Kind) }, Log: g.Log.With("component", "lti"), Now: now}); err != nil {
		return fmt.Errorf("lti: %w", err)
	}
	if g.SSO, g.SSOSchedule, err = newSSO(cfg, g.opts.SSOTypes, db, now, g.Log, g.Sessions, g.Events); err != nil {
		return err
	}
	g.Provision = &provision.Service{DB: db}
	g.Handler, err = api.New(api.Config{
		BaseURL: cfg.BaseURL, DB: db, Logger: g.Log, Now: now, SSO: g.SSO,
		Signer: g.Signer, Invites: g.Invites, Sessions: g.Sessions, Mail: g.Mail, Events: g.Events, Bulk: g.Bulk, Resend: g.Resend,
		Rooms: g.Plugins, Plugins: g.Plugins, Platform: g.Plugins.Platform, LTI: g.LTI,
		Provision: g.Provision, Webhooks: g.Webhooks,
		GuessesPerMinute: cfg.Invitations.GuessesPerClientMinute, SiteFormsPerMinute: cfg.Limits.SiteFormsPerMinute,
		UnknownLinks: cfg.Limits.UnknownLinks, TrustedProxies: cfg.TrustedProxies,
		GroupSources: g.Plugins,
	})
	return err
}

// newJobs is the bulk invite service and the runner of its jobs. A signal
// made first joins them: the service rings it when a job is confirmed, the
// runner, whose handler is the service's, listens.
func newJobs(db *store.DB, now func() time.Time, log *slog.Logger, events *event.Service) (*bulk.Service, *resend.Service, *job.Runner) {
	signal := job.NewSignal()
	b := &bulk.Service{DB: db, Events: events, Jobs: signal, Now: now}
	rs := &resend.Service{DB: db, Events: events, Jobs: signal, Now: now}
	r := &job.Runner{DB: db, Handlers: map[string]job.Handler{bulk.Kind: b.Handler(), resend.Kind: rs.Handler()}, Log: log.With("component", "jobs"),
		Housekeep: b.DropStale, Sweep: b.EndInterrupted, Signal: signal,
		Now: func() time.Time { return now().UTC() }}
	return b, rs, r
}

// Bootstrap creates the configured first account and its admin when the
// database holds no account yet; nil when it holds one.
func (g *Gateway) Bootstrap(ctx context.Context) (*account.Bootstrap, error) {
	boot, err := account.EnsureFirst(ctx, g.DB, g.Config.Bootstrap.AccountName, g.Config.Bootstrap.AdminEmail)
	if err != nil {
		return nil, fmt.Errorf("first start: %w", err)
	}
	return boot, nil
}

// Start runs the background work: the plugins and their scheduled jobs,
// the outbox workers (unless HoldMail), the job runner (unless HoldJobs),
// which first resumes every job an earlier process left unfinished, and
// the SSO schedule. A plugin that fails its first start is logged and retried
// in the background: the gateway serves regardless.
func (g *Gateway) Start(ctx context.Context) error {
	if g.started != nil {
		return errors.New("gateway already started")
	}
	g.started = []func(context.Context) error{}
	if err := g.Plugins.start(ctx); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	g.started = append(g.started, g.Plugins.stop)
	if o := g.Mail.Outbox; o != nil && !g.opts.HoldMail {
		o.Start()
		g.started = append(g.started, func(ctx context.Context) error {
			if err := o.Stop(ctx); err != nil {
				return fmt.Errorf("mail workers: %w", err)
			}
			return nil
		})
	}
	// Page views and bounces are recorded whether or not the workers
	// send: they are what happened to mail sent already.
	if v := g.Mail.Views; v != nil {
		v.Start()
		g.started = append(g.started, v.Stop)
	}
	if b := g.Mail.Bounces; b != nil {
		b.Start()
		g.started = append(g.started, b.Stop)
	}
	if !g.opts.HoldJobs {
		g.Jobs.Start()
		g.started = append(g.started, g.Jobs.Stop)
	}
	g.SSOSchedule.Start()
	g.started = append(g.started, g.SSOSchedule.Stop)
	g.Webhooks.Start()
	g.started = append(g.started, g.Webhooks.Stop)
	return nil
}

// Close stops what Start started, the last started first, each within the
// configured shutdown timeout, then closes the database. Errors are logged:
// closing goes on regardless. Closing again does nothing.
func (g *Gateway) Close() {
	g.closed.Do(func() {
		for i := len(g.started) - 1; i >= 0; i-- {
			ctx, cancel := context.WithTimeout(context.Background(), g.Config.ShutdownTimeout)
			if err := g.started[i](ctx); err != nil {
				g.Log.Error("stopping", "error", err)
			}
			cancel()
		}
		g.DB.Close()
	})
}
