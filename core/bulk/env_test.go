package bulk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// env is a migrated database with an account, an event and the services
// an import uses; email is "configured" (an outbox that is never started),
// so queued invitations stay in mail_messages for the test to read.
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
	db := storetest.Open(t, dialect, schema.Models()...)
	ctx := context.Background()
	boot, err := account.EnsureFirst(ctx, db, "Test org", "admin@org.test")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := mail.NewCatalog(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms := &mail.Service{DB: db, Catalog: cat, BaseURL: "http://gw.test", From: "Gateway <noreply@gw.test>"}
	ms.Outbox, err = mail.NewOutbox(db, mail.OutboxConfig{SMTP: mail.SMTPConfig{Host: "127.0.0.1", Port: 2525, TLS: mail.TLSNone}, From: ms.From, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	evs := &event.Service{DB: db, BaseURL: "http://gw.test", Mail: ms}
	c := event.Caller{AccountID: boot.Account.ID, Actor: audit.Actor{Kind: audit.ActorUser, ID: boot.Admin.ID}}
	start := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour)
	ev, err := evs.CreateEvent(ctx, c, event.EventInput{Name: "Town hall", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		TimeZone: "Europe/Paris", Registration: registration})
	if err != nil {
		t.Fatal(err)
	}
	b := &bulk.Service{DB: db, Events: evs}
	r := &job.Runner{DB: db, Handlers: map[string]job.Handler{bulk.Kind: b.Handler()}}
	return &env{db: db, events: evs, mail: ms, bulk: b, runner: r, caller: c, ev: ev}
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
