package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// build is a gateway on a new database of the dialect, on the given clock.
func build(t *testing.T, dialect string, now func() time.Time) *app.Gateway {
	t.Helper()
	cfg := app.Defaults()
	cfg.BaseURL, cfg.Database.DSN = "http://gw.test", storetest.DSN(t, dialect)
	g, err := app.Build(context.Background(), cfg, app.Options{Now: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// The clock a gateway is built with is the one its services write and
// decide by: the rows the first start, a sign-in link, an event and a
// signing key leave, and the expiry of a join token.
func TestEveryServiceKeepsTheOneClock(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			at := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
			g := build(t, d, func() time.Time { return at })
			ctx := context.Background()
			boot, err := g.Bootstrap(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.Sessions.IssueLoginLink(ctx, boot.Account.ID, boot.Admin.ID, audit.System); err != nil {
				t.Fatal(err)
			}
			start := at.Add(48 * time.Hour)
			c := event.Caller{AccountID: boot.Account.ID, Actor: audit.System}
			if _, err := g.Events.CreateEvent(ctx, c, event.EventInput{Name: "Summit", StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC"}); err != nil {
				t.Fatal(err)
			}
			var (
				acct  account.Account
				entry audit.Entry
				ev    event.Event
				key   jointoken.Key
				link  session.LoginLink
			)
			for _, row := range []struct {
				name string
				dst  any
				at   func() time.Time
				want time.Time
			}{
				{"account created", &acct, func() time.Time { return acct.CreatedAt }, at},
				{"audit entry", &entry, func() time.Time { return entry.At }, at},
				{"event created", &ev, func() time.Time { return ev.CreatedAt }, at},
				{"signing key created", &key, func() time.Time { return key.CreatedAt }, at},
				{"sign-in link expires", &link, func() time.Time { return link.ExpiresAt }, at.Add(24 * time.Hour)},
			} {
				if err := g.DB.R.Take(row.dst).Error; err != nil {
					t.Fatalf("%s: %v", row.name, err)
				}
				if got := row.at(); !got.Equal(row.want) {
					t.Errorf("%s at %v, want %v by the gateway's clock", row.name, got.UTC(), row.want)
				}
			}

			tok, err := g.Signer.Issue(ctx, "room", jointoken.Claims{Resource: "r", Role: "viewer"})
			if err != nil {
				t.Fatal(err)
			}
			keys, err := g.Signer.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jointoken.Verify(tok, keys, "http://gw.test", "room", at.Add(time.Minute)); err != nil {
				t.Errorf("join token a minute after the clock's issue: %v", err)
			}
			if _, err := jointoken.Verify(tok, keys, "http://gw.test", "room", at.Add(jointoken.TTL+time.Minute)); err == nil {
				t.Error("join token still valid past its TTL by the clock")
			}
		})
	}
}

// A gateway built and not started (an admin command's) is complete: it
// answers HTTP and reports its plugins. It starts once, and closes twice
// without harm.
func TestBuiltGatewayIsComplete(t *testing.T) {
	g := build(t, store.SQLite, nil)
	rec := httptest.NewRecorder()
	g.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/readyz of a built gateway: %d %s", rec.Code, rec.Body)
	}
	if rows, err := g.Plugins.PluginStatuses(context.Background()); err != nil || len(rows) != 0 {
		t.Fatalf("plugins of a gateway with none: %+v, %v", rows, err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err == nil {
		t.Fatal("a second Start was accepted")
	}
	g.Close()
	g.Close()
}
