package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/mail/mailtest"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// TestBulkInviteSurvivesKill9: the CLI imports 100,000 rows with invitation
// emails and is killed with SIGKILL part way; `gateway serve` resumes the
// job at start and is itself killed once more; a second serve finishes it.
// The event then has exactly the file's 100,000 people, each once, and the
// outbox exactly one invitation per new attendee.
func TestBulkInviteSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 import of 100,000 rows: not in -short")
	}
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { testBulkKill(t, d) })
	}
}

func testBulkKill(t *testing.T, dialect string) {
	const rows = 100_000
	dsn, db, ev, boot := bulkEvent(t, dialect)
	dir := t.TempDir()

	file := filepath.Join(dir, "people.csv")
	f, _ := os.Create(file)
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "\ufeffEmail,First Name,Last Name,Title,Company,Speaker,Moderator\r\n")
	for i := range rows {
		sp := "No"
		title := ""
		if i%50 == 0 {
			// A title on two lines: checkpoints fall between rows, not
			// between lines.
			sp, title = "Yes", fmt.Sprintf("\"Lead, team %d\r\nEMEA\"", i)
		}
		fmt.Fprintf(w, "person%06d@example.org,First%d,Last%d,%s,,%s,No\r\n", i, i, i, title, sp)
	}
	w.Flush()
	f.Close()

	// Email is configured (the outbox queues) but its server refuses: the
	// test counts what was queued, not what was delivered.
	env := []string{"GATEWAY_DATABASE_DSN=" + dsn, "GATEWAY_ADMIN_EMAIL=owner@org.test", "GATEWAY_MAIL_FROM=Gateway <noreply@org.test>",
		"GATEWAY_MAIL_SMTP_HOST=127.0.0.1"}
	cli := exec.Command(binary, "events", "bulk-invite", "summit-2026", file)
	cli.Dir = dir
	cli.Env = append(os.Environ(), env...)
	var out strings.Builder
	cli.Stdout, cli.Stderr = &out, &out
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Process.Kill(); cli.Wait() })
	j := waitJob(t, db, func(j *job.Job) bool { return j.Processed >= 20_000 }, 3*time.Minute, &out)
	cli.Process.Kill() // SIGKILL
	cli.Wait()
	killedAt := currentJob(t, db)
	if killedAt.Finished() || killedAt.Processed >= rows {
		t.Fatalf("the import finished before the kill (%d rows): nothing was tested", killedAt.Processed)
	}
	t.Logf("CLI killed at %d rows (job %s)", killedAt.Processed, j.ID)

	g := startGateway(t, env...)
	waitJob(t, db, func(j *job.Job) bool { return j.Processed >= killedAt.Processed+20_000 || j.Finished() }, 3*time.Minute, nil)
	g.cmd.Process.Kill()
	g.cmd.Wait()
	again := currentJob(t, db)
	t.Logf("serve killed at %d rows", again.Processed)

	startGateway(t, env...)
	done := waitJob(t, db, func(j *job.Job) bool { return j.Finished() }, 4*time.Minute, nil)
	if done.Status != job.Done || string(done.Counts) != fmt.Sprintf(`{"added":%d,"updated":0,"unchanged":0,"refused":0}`, rows) || done.Processed != rows {
		t.Fatalf("job ended %s: %d rows, counts %s, error %q", done.Status, done.Processed, done.Counts, done.Error)
	}
	if done.Attempts < 3 {
		t.Fatalf("job claimed %d times; the kills should have made it 3", done.Attempts)
	}
	count := func(q string, args ...any) int64 {
		var n int64
		if err := db.R.Raw(q, args...).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT COUNT(*) FROM attendees WHERE event_id = ?", ev.ID); n != rows {
		t.Fatalf("%d attendees, want %d", n, rows)
	}
	if n := count("SELECT COUNT(DISTINCT email) FROM attendees WHERE event_id = ?", ev.ID); n != rows {
		t.Fatalf("%d distinct attendee emails, want %d", n, rows)
	}
	if n := count("SELECT COUNT(*) FROM users WHERE account_id = ? AND email LIKE 'person%'", boot.Account.ID); n != rows {
		t.Fatalf("%d users, want %d", n, rows)
	}
	if n := count("SELECT COUNT(*) FROM mail_messages WHERE ref_kind = 'attendee'"); n != rows {
		t.Fatalf("%d invitation emails queued, want %d", n, rows)
	}
	if n := count("SELECT COUNT(DISTINCT ref_id) FROM mail_messages WHERE ref_kind = 'attendee' AND ref_id IN (SELECT id FROM attendees WHERE event_id = ?)", ev.ID); n != rows {
		t.Fatalf("invitation emails reach %d distinct attendees, want %d", n, rows)
	}
	if n := count("SELECT COUNT(*) FROM attendees WHERE event_id = ? AND speaker AND title LIKE 'Lead, team %' AND title LIKE ?", ev.ID, "%\nEMEA"); n != rows/50 {
		t.Fatalf("%d speakers with their quoted two-line titles, want %d", n, rows/50)
	}
	if n := count("SELECT COUNT(*) FROM bulk_chunks"); n != 0 {
		t.Fatalf("%d staged chunks left after the job", n)
	}
}

// bulkEvent builds a gateway (not started) on a new database with an
// account and an invite-only event with the slug summit-2026.
func bulkEvent(t *testing.T, dialect string) (string, *store.DB, *event.Event, *account.Bootstrap) {
	t.Helper()
	dsn := storetest.DSN(t, dialect)
	ctx := context.Background()
	cfg := app.Defaults()
	cfg.BaseURL, cfg.Database.DSN = "http://"+cfg.Listen, dsn
	cfg.Bootstrap.AccountName, cfg.Bootstrap.AdminEmail = "Org", "owner@org.test"
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
	ev, err := g.Events.CreateEvent(ctx, c, event.EventInput{Name: "Summit", Slug: "summit-2026",
		StartsAt: start, EndsAt: start.Add(3 * time.Hour), TimeZone: "UTC", Registration: event.RegistrationInviteOnly})
	if err != nil {
		t.Fatal(err)
	}
	return dsn, g.DB, ev, boot
}

// TestBulkInviteCommand: the CLI prints the check of a file with problems
// and imports nothing; with --skip-invalid it imports the good rows,
// writes the error report and prints the counts.
func TestBulkInviteCommand(t *testing.T) {
	dsn, db, ev, _ := bulkEvent(t, store.SQLite)
	dir := t.TempDir()
	file := filepath.Join(dir, "p.csv")
	os.WriteFile(file, []byte("Email,First Name,Last Name,Speaker\nann@example.org,Ann,Lee,Yes\nbob@gmial.com,Bob,Ray,\nann@example.org,Ann,Again,\n"), 0o600)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GATEWAY_DATABASE_DSN="+dsn)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("events", "bulk-invite", "summit-2026", file)
	for _, want := range []string{
		"Row 1 (line 2): ann@example.org | Ann | Lee | title \"\" | company \"\" | speaker Yes | moderator -",
		"People: 3 (1 without problems)",
		`line 3, Email: email "bob@gmial.com": the domain gmial.com looks like a typo of gmail.com (did you mean bob@gmail.com?)`,
		`line 4, Email: email "ann@example.org" is already on line 2`,
		"gateway: nothing imported: fix the file, or run again with --skip-invalid to invite the rows without problems (1) and refuse the others (2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err == nil {
		t.Fatal("a file with problems exits 0")
	}
	var n int64
	if db.R.Raw("SELECT COUNT(*) FROM attendees").Scan(&n); n != 0 {
		t.Fatalf("%d attendees after a refused file", n)
	}
	report := filepath.Join(dir, "errors.csv")
	out, err = run("events", "bulk-invite", ev.ID, file, "--skip-invalid", "--no-email", "--errors", report)
	if err != nil || !strings.Contains(out, `done: 3 of 3 rows; counts {"added":1,"updated":0,"unchanged":0,"refused":2}`) {
		t.Fatalf("%v\n%s", err, out)
	}
	b, _ := os.ReadFile(report)
	if !strings.Contains(string(b), "3,Email,bob@gmial.com,") || !strings.Contains(string(b), "4,Email,ann@example.org,") {
		t.Fatalf("error report:\n%s", b)
	}
	if db.R.Raw("SELECT COUNT(*) FROM attendees WHERE speaker").Scan(&n); n != 1 {
		t.Fatalf("%d speakers imported", n)
	}
	if db.R.Raw("SELECT COUNT(*) FROM mail_messages").Scan(&n); n != 0 {
		t.Fatalf("--no-email queued %d emails", n)
	}
	if out, err := run("events", "bulk-invite", "no-such-event", file); err == nil || !strings.Contains(out, `no event with id or slug "no-such-event"`) {
		t.Fatalf("unknown event: %v\n%s", err, out)
	}
}

func currentJob(t *testing.T, db *store.DB) *job.Job {
	t.Helper()
	var j job.Job
	if err := db.R.Where("kind = ?", bulk.Kind).Order("created_at DESC").Take(&j).Error; err != nil {
		return nil
	}
	return &j
}

// waitJob polls the bulk job until ok, failing after timeout.
func waitJob(t *testing.T, db *store.DB, ok func(*job.Job) bool, timeout time.Duration, out fmt.Stringer) *job.Job {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if j := currentJob(t, db); j != nil && (ok(j) || j.Status == job.Failed) {
			return j
		}
		time.Sleep(100 * time.Millisecond)
	}
	msg := ""
	if out != nil {
		msg = out.String()
	}
	j := currentJob(t, db)
	t.Fatalf("job not there in %s: %+v\n%s", timeout, j, msg)
	return nil
}

// TestBulkInvitationsArrive: the invitations the CLI's import queues (with
// their model, not their bodies) are rendered and delivered by `gateway
// serve`'s outbox: each person receives their own invitation with their
// login link, role and calendar invitation, and the sign-in link works.
func TestBulkInvitationsArrive(t *testing.T) {
	md := mailtest.Start(t)
	dsn, db, _, _ := bulkEvent(t, store.SQLite)
	dir := t.TempDir()
	file := filepath.Join(dir, "p.csv")
	os.WriteFile(file, []byte("Email,First Name,Last Name,Speaker\nann@example.org,Ann,Lee,Yes\nbob@example.org,Bob,\"Ray, Jr.\",\ncat@example.org,Cat,Kim,No\n"), 0o600)
	addr := freeAddr(t)
	base := "http://" + addr
	env := []string{"GATEWAY_DATABASE_DSN=" + dsn, "GATEWAY_ADMIN_EMAIL=owner@org.test", "GATEWAY_MAIL_FROM=Gateway <noreply@org.test>",
		"GATEWAY_LISTEN=" + addr, "GATEWAY_BASE_URL=" + base,
		"GATEWAY_MAIL_SMTP_HOST=127.0.0.1", fmt.Sprintf("GATEWAY_MAIL_SMTP_PORT=%d", md.SMTPPort), "GATEWAY_MAIL_SMTP_TLS=none"}
	cmd := exec.Command(binary, "events", "bulk-invite", "summit-2026", file)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"added":3`) {
		t.Fatalf("%v\n%s", err, out)
	}
	var queued []mail.Message
	db.R.Where("ref_kind = ?", "attendee").Find(&queued)
	for _, m := range queued {
		if m.HTML != "" || m.Model == "" || m.Subject != "Org invited you to Summit" {
			t.Fatalf("queued invitation: subject %q, %d bytes of HTML, model %q", m.Subject, len(m.HTML), m.Model)
		}
	}
	if len(queued) != 3 {
		t.Fatalf("%d invitations queued, want 3", len(queued))
	}

	startGateway(t, env...)
	got := md.Wait(3, 30*time.Second)
	byTo := map[string]mailtest.Received{}
	for _, r := range got {
		byTo[r.To[0].Address] = r
	}
	for to, role := range map[string]string{"ann@example.org": "Speaker", "bob@example.org": "Attendee", "cat@example.org": "Attendee"} {
		r, ok := byTo[to]
		if !ok {
			t.Fatalf("no invitation reached %s: %+v", to, got)
		}
		if r.Subject != "Org invited you to Summit" || !strings.Contains(r.Text, "Your role: "+role) || !strings.Contains(r.Text, base+"/l/") {
			t.Fatalf("invitation to %s:\n%s\n%s", to, r.Subject, r.Text)
		}
		if len(r.Attachments) != 1 || r.Attachments[0].FileName != "invite.ics" {
			t.Fatalf("invitation to %s has attachments %+v", to, r.Attachments)
		}
		ics := md.Attachment(r, r.Attachments[0])
		if !strings.Contains(ics, "SUMMARY:Summit") || !strings.Contains(ics, "mailto:"+to) {
			t.Fatalf("calendar invitation to %s:\n%s", to, ics)
		}
	}
	if !strings.Contains(byTo["bob@example.org"].Text, "Hello Bob Ray, Jr.") {
		t.Fatalf("Bob's invitation:\n%s", byTo["bob@example.org"].Text)
	}
	// Ann's link signs her in to the event site.
	text := byTo["ann@example.org"].Text
	link := strings.Fields(text[strings.Index(text, base+"/l/"):])[0]
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Post(link, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/e/summit-2026") {
		t.Fatalf("signing in with Ann's link: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sent int64
	deadline := time.Now().Add(10 * time.Second)
	for sent != 3 && time.Now().Before(deadline) {
		db.R.Model(&mail.Message{}).Where("status = ? AND model = '' AND html = ''", mail.Sent).Count(&sent)
		time.Sleep(50 * time.Millisecond)
	}
	if sent != 3 {
		t.Fatalf("%d messages recorded as sent with their model erased, want 3", sent)
	}
}
