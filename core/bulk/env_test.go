package bulk_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// env is a gateway built by app.Build (as `gateway serve` builds it, not
// started) with an account and an event; email is configured (an outbox
// whose workers never run), so queued invitations stay in mail_messages
// for the test to read. Its fields are the gateway's own services.
type env struct {
	db     *store.DB
	events *event.Service
	mail   *mail.Service
	bulk   *bulk.Service
	runner *job.Runner
	caller event.Caller
	ev     *event.Event
}

func newEnv(t testing.TB, dialect, registration string) *env {
	t.Helper()
	ctx := context.Background()
	cfg := app.Defaults()
	cfg.BaseURL, cfg.Database.DSN = "http://gw.test", storetest.DSN(t, dialect)
	cfg.Bootstrap.AccountName, cfg.Bootstrap.AdminEmail = "Test org", "admin@org.test"
	cfg.Mail.From = "Gateway <noreply@gw.test>"
	cfg.Mail.SMTP = mail.SMTPConfig{Host: "127.0.0.1", Port: 2525, TLS: mail.TLSNone}
	g, err := app.Build(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	boot, err := g.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := event.Caller{AccountID: boot.Account.ID, Actor: audit.Actor{Kind: audit.ActorUser, ID: boot.Admin.ID}}
	start := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour)
	ev, err := g.Events.CreateEvent(ctx, c, event.EventInput{Name: "Town hall", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		TimeZone: "Europe/Paris", Registration: registration})
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: g.DB, events: g.Events, mail: g.Mail, bulk: g.Bulk, runner: g.Jobs, caller: c, ev: ev}
}

// tune has the test use a copy of the gateway's bulk service with a knob
// changed (batch size, renewal period, clock); runners the test makes from
// e.bulk.Handler() run the tuned copy.
func (e *env) tune(set func(b *bulk.Service)) {
	b := *e.bulk
	set(&b)
	e.bulk = &b
}

// importFile uploads, confirms and runs a file to its end.
func (e *env) importFile(t testing.TB, file string, send bool) (*bulk.Report, *job.Job) {
	t.Helper()
	ctx := context.Background()
	up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "people.csv", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if up.Report.Refused {
		t.Fatalf("file refused: %+v", up.Report.Problems)
	}
	if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, send); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := e.bulk.Job(ctx, e.caller, up.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	return up.Report, j
}
