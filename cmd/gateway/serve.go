package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/store"
)

type serveOptions struct {
	printLoginLink bool
	out            io.Writer
}

// serveGateway runs until ctx ends (SIGTERM/SIGINT), then drains requests
// and stops the background work, which gives back what it claimed (outbox
// messages, job leases). It listens before it builds the gateway, so a load
// balancer asking /readyz hears "not ready" while the database is migrated
// rather than nothing.
func serveGateway(ctx context.Context, cfg *app.Config, opt serveOptions) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	front := &starting{}
	hs := &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	g, err := app.Build(ctx, cfg, app.Options{})
	if err != nil {
		hs.Close()
		return err
	}
	defer g.Close()
	boot, err := g.Bootstrap(ctx)
	if err != nil {
		hs.Close()
		return err
	}
	// Bulk invites confirmed here or on another replica run in the
	// background; jobs an earlier process left unfinished resume now.
	if err := g.Start(ctx); err != nil {
		hs.Close()
		return err
	}
	// The sign-in link is made before the replica says it is ready, so
	// nothing after that can fail the start of a replica a load balancer
	// already sends requests to.
	var link string
	if opt.printLoginLink {
		if link, err = loginLinkFor(ctx, g, cfg.Bootstrap.AdminEmail); err != nil {
			hs.Close()
			return err
		}
	}
	front.serve(g.Handler)

	fmt.Fprintf(opt.out, "Gateway serving at %s (database: %s)\n", cfg.BaseURL, store.DialectOf(cfg.Database.DSN))
	if boot != nil {
		fmt.Fprintf(opt.out, "First start: created account %q with admin %s.\n", boot.Account.Name, boot.Admin.Email)
		fmt.Fprintf(opt.out, "API key (shown once, stored hashed): %s\n", boot.APIKey)
	}
	fmt.Fprintf(opt.out, "Console: %s/console\n", cfg.BaseURL)
	if g.Mail.Outbox != nil {
		fmt.Fprintf(opt.out, "Email: delivered through the SMTP server %s\n", cfg.Mail.SMTP.Host)
	} else {
		fmt.Fprintf(opt.out, "Email: off (no mail.smtp.host configured)\n")
	}
	if link != "" {
		fmt.Fprintf(opt.out, "Sign in as %s with this one-time link: %s\n", cfg.Bootstrap.AdminEmail, link)
	}

	g.Log.Info("serving", "listen", ln.Addr().String(), "base_url", cfg.BaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.Log.Info("shutting down", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	g.Log.Info("stopped")
	return nil
}
