//go:build bench

package bulk_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
)

// benchFile streams a file of n people without holding it: every 20th is
// a speaker with a quoted title.
func benchFile(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		fmt.Fprint(w, "Email,First Name,Last Name,Title,Company,Speaker,Moderator\r\n")
		for i := range n {
			if i%20 == 0 {
				fmt.Fprintf(w, "person%07d@example.org,First%d,Last%d,\"Lead, team %d\",Example Corp,Yes,No\r\n", i, i, i, i%100)
			} else {
				fmt.Fprintf(w, "person%07d@example.org,First%d,Last%d,,,No,No\r\n", i, i, i)
			}
		}
		w.Flush()
		pw.Close()
	}()
	return pr
}

// timeImport uploads (reads, checks, stages), confirms and runs an import,
// timing all of it.
func timeImport(t *testing.T, e *env, r io.Reader, n int, send bool) time.Duration {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "bench.csv", r)
	if err != nil || up.Report.Refused || up.Report.Valid != n {
		t.Fatalf("upload: %v %+v", err, up)
	}
	staged := time.Since(start)
	if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, send); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("%d rows: upload (read, check, stage) %s, then import %s", n, staged.Round(time.Millisecond), (d - staged).Round(time.Millisecond))
	j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID)
	if j.Status != job.Done || j.Processed != n {
		t.Fatalf("job %+v", j)
	}
	return d
}

// TestBench_bulk_import_sqlite: a 100,000-row import with invitation
// emails (check, stage, users, attendees, outbox rows, audit entries) beside
// a plain multi-row INSERT of the same users, attendees and outbox rows into
// the same tables, each on a fresh database.
func TestBench_bulk_import_sqlite(t *testing.T) { benchImport(t, store.SQLite) }

// TestBench_bulk_import_pg: the same on PostgreSQL.
func TestBench_bulk_import_pg(t *testing.T) { benchImport(t, store.Postgres) }

func benchImport(t *testing.T, d string) {
	const n = 100_000
	var best, base time.Duration
	for round := range 2 {
		e := newEnv(t, d, event.RegistrationOpen)
		c0 := processCPU()
		imp := timeImport(t, e, benchFile(n), n, true)
		impCPU := processCPU() - c0
		var msgs int64
		e.db.R.Model(&mail.Message{}).Where("ref_kind = ?", "attendee").Count(&msgs)
		if msgs != n {
			t.Fatalf("%d invitations queued", msgs)
		}
		e2 := newEnv(t, d, event.RegistrationOpen)
		c0 = processCPU()
		plain := plainInsert(t, e2, n)
		plainCPU := processCPU() - c0
		t.Logf("round %d: import %s (process CPU %s), plain insert %s (process CPU %s)", round+1, imp, impCPU.Round(time.Millisecond), plain, plainCPU.Round(time.Millisecond))
		if round == 0 || imp < best {
			best = imp
		}
		if round == 0 || plain < base {
			base = plain
		}
	}
	rate, baseRate := n/best.Seconds(), n/base.Seconds()
	name := "bulk_import_sqlite"
	if d == store.Postgres {
		name = "bulk_import_pg"
	}
	fmt.Printf("bench %s: %.0f rows/s (baseline %.0f rows/s, ratio %.2f)\n", name, rate, baseRate, rate/baseRate)
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// plainInsert writes n users, attendees and outbox rows (each the size of
// an imported invitation: subject and model) in multi-row INSERTs of 500
// rows, prepared once, 1,000 rows a transaction, with the database's WAL
// set for bulk writes as an import sets it.
func plainInsert(t *testing.T, e *env, n int) time.Duration {
	t.Helper()
	ctx := context.Background()
	var sample mail.Message
	// One invitation queued as the import queues them gives the outbox
	// rows their true size.
	err := e.db.Tx(ctx, func(tx *store.Tx) error {
		a := &event.Attendee{ID: id.New(), AccountID: e.ev.AccountID, EventID: e.ev.ID, Email: "person0000001@example.org",
			FirstName: "First1", LastName: "Last1", Detail: event.InvitedToRegister}
		return e.events.QueueInvitations(ctx, tx, e.ev, []*event.Attendee{a}, e.caller.Actor)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.R.Where("ref_kind = ?", "attendee").Take(&sample).Error; err != nil || sample.Model == "" {
		t.Fatalf("sample invitation: %v %+v", err, sample)
	}
	pg := e.db.Dialect == store.Postgres
	ph := func(rows, width int) string {
		var b strings.Builder
		k := 0
		for r := range rows {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := range width {
				if c > 0 {
					b.WriteByte(',')
				}
				k++
				if pg {
					fmt.Fprintf(&b, "$%d", k)
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
		}
		return b.String()
	}
	qs := map[string]*sql.Stmt{}
	stmt := func(q string) *sql.Stmt {
		if st, ok := qs[q]; ok {
			return st
		}
		st, err := e.db.Prepare(ctx, true, q)
		if err != nil {
			t.Fatal(err)
		}
		qs[q] = st
		return st
	}
	uq := "INSERT INTO users (id, account_id, email, first_name, last_name, external_id, console_role, shared, created_at, updated_at) VALUES " + ph(500, 10)
	aq := `INSERT INTO attendees (id, account_id, event_id, user_id, email, first_name, last_name, name_key, last_key,
speaker, moderator, organizer, title, company, bio, image_ref, registration_type, status, detail, blocked_from_chat, created_at, updated_at) VALUES ` + ph(500, 22)
	mq := `INSERT INTO mail_messages (id, account_id, template, locale, to_email, to_name, subject, model,
message_id, ref_kind, ref_id, status, attempts, next_attempt_at, created_at, updated_at) VALUES ` + ph(500, 16)
	stmt(uq)
	stmt(aq)
	stmt(mq)
	// The database set for a long run of writes, as for an import.
	end, err := e.db.BulkWrites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	start := time.Now()
	now := time.Now().UTC()
	const per = 1000
	for s := 0; s < n; s += per {
		err := e.db.Tx(ctx, func(tx *store.Tx) error {
			var us, as, ms []any
			for i := s; i < s+per && i < n; i++ {
				// The rows of benchFile, as the import stores them.
				email := fmt.Sprintf("person%07d@example.org", i)
				first, last := fmt.Sprintf("First%d", i), fmt.Sprintf("Last%d", i)
				speaker, title, company := false, "", ""
				if i%20 == 0 {
					speaker, title, company = true, fmt.Sprintf("Lead, team %d", i%100), "Example Corp"
				}
				uid, aid := id.New(), id.New()
				us = append(us, uid, e.caller.AccountID, email, first, last, "", "", false, now, now)
				as = append(as, aid, e.caller.AccountID, e.ev.ID, uid, email, first, last, strings.ToLower(first+" "+last), strings.ToLower(last),
					speaker, false, false, title, company, "", "", "invited", "invited", "invited_to_register", false, now, now)
				mid := id.New()
				ms = append(ms, mid, e.caller.AccountID, sample.Template, sample.Locale, email, first+" "+last, sample.Subject, sample.Model,
					"<"+mid+"@gw.test>", "attendee", aid, mail.Queued, 0, now, now, now)
			}
			rows := len(us) / 10
			for k := 0; k < rows; k += 500 {
				m := min(rows, k+500)
				if _, err := tx.Stmt(stmt(uq)).ExecContext(ctx, us[k*10:m*10]...); err != nil {
					return err
				}
				if _, err := tx.Stmt(stmt(aq)).ExecContext(ctx, as[k*22:m*22]...); err != nil {
					return err
				}
				if _, err := tx.Stmt(stmt(mq)).ExecContext(ctx, ms[k*16:m*16]...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return time.Since(start)
}

// TestBench_bulk_import_memory: the peak Go heap while a 1,000,000-row
// file is uploaded and imported on SQLite (streamed from a generator, never
// held), beside the peak for a 100,000-row file: a ratio near 1 means the
// memory does not grow with the file.
func TestBench_bulk_import_memory(t *testing.T) {
	// Measured in a process of its own: what the benchmarks before it in
	// this one keep (their runtimes' caches, freed heap) is not the import's.
	if os.Getenv("GATEWAY_BENCH_MEMORY_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestBench_bulk_import_memory$", "-test.v", "-test.count=1", "-test.timeout=30m")
		cmd.Env = append(os.Environ(), "GATEWAY_BENCH_MEMORY_CHILD=1")
		out, err := cmd.CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "bench ") || strings.Contains(line, "peak Go memory") {
				fmt.Println(line)
			}
		}
		if err != nil {
			t.Fatalf("memory benchmark: %v\n%s", err, out)
		}
		return
	}
	peak := func(n int) float64 {
		e := newEnv(t, store.SQLite, event.RegistrationOpen)
		runtime.GC()
		var stop atomic.Bool
		var max atomic.Uint64
		done := make(chan struct{})
		go func() {
			defer close(done)
			s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
			for !stop.Load() {
				metrics.Read(s)
				v := s[0].Value.Uint64() - s[1].Value.Uint64()
				if v > max.Load() {
					max.Store(v)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		d := timeImport(t, e, benchFile(n), n, false)
		stop.Store(true)
		<-done
		t.Logf("%d rows: %s, peak Go memory %.1f MB", n, d, float64(max.Load())/(1<<20))
		return float64(max.Load()) / (1 << 20)
	}
	base := peak(100_000)
	big := peak(1_000_000)
	fmt.Printf("bench bulk_import_memory: %.1f MB (baseline %.1f MB, ratio %.2f)\n", big, base, big/base)
}
