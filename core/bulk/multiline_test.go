package bulk_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
)

// TestCheckKeepsLineBreaksInTitleAndCompany: a quoted title or company
// written on several lines reads with its line breaks, each as LF whether
// the file wrote CRLF, LF or CR; the rows after it keep their own lines.
func TestCheckKeepsLineBreaksInTitleAndCompany(t *testing.T) {
	rep, err := bulk.Check(strings.NewReader(strings.ReplaceAll(hdr, "\n", "\r\n") +
		"ann@example.org,Ann,Lee,\"Head of R&D,\r\nEMEA\",\"Acme\rLabs\",Yes,\r\n" +
		"bob@example.org,Bob,Ray,,\"  Two\n\nbreaks  \",,Yes\r\n" +
		"bad@example,Cat,Fox,,,,\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []bulk.Row{
		{Line: 2, Email: "ann@example.org", FirstName: "Ann", LastName: "Lee", Title: "Head of R&D,\nEMEA", Company: "Acme\nLabs", Speaker: bulk.Yes},
		{Line: 4, Email: "bob@example.org", FirstName: "Bob", LastName: "Ray", Company: "Two\n\nbreaks", Moderator: bulk.Yes},
	}
	if len(rep.Preview) != 2 || rep.Preview[0] != want[0] || rep.Preview[1] != want[1] {
		t.Fatalf("preview %+v\nwant %+v", rep.Preview, want)
	}
	if rep.Rows != 3 || rep.Valid != 2 || len(rep.Problems) != 1 || rep.Problems[0].Line != 7 {
		t.Fatalf("report %+v", rep)
	}
}

// TestCheckReadsTheExportsApostrophe: a cell the export wrote with an
// apostrophe before a formula-looking value reads without it; any other
// apostrophe is the value's own.
func TestCheckReadsTheExportsApostrophe(t *testing.T) {
	rep, err := bulk.Check(strings.NewReader(hdr +
		"'-ann@example.org,\"'=HYPERLINK(\"\"x\"\")\",'+1,'@SUM(A1),\"''=2\",Yes,\n" +
		"bob@example.org,O'Neil,'Brien,'',\"'\",,Yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []bulk.Row{
		{Line: 2, Email: "-ann@example.org", FirstName: `=HYPERLINK("x")`, LastName: "+1", Title: "@SUM(A1)", Company: "'=2", Speaker: bulk.Yes},
		{Line: 3, Email: "bob@example.org", FirstName: "O'Neil", LastName: "'Brien", Title: "'", Company: "'", Moderator: bulk.Yes},
	}
	if rep.ProblemCount != 0 || len(rep.Preview) != 2 || rep.Preview[0] != want[0] || rep.Preview[1] != want[1] {
		t.Fatalf("preview %+v problems %+v\nwant %+v", rep.Preview, rep.Problems, want)
	}
	// What the export writes (SafeCell) reads back as it was.
	for _, v := range []string{"'", "''", "'x", "''x", "'=x", "=x", "-", "a'b", "@", "'@", "'''-"} {
		var b bytes.Buffer
		cw := csv.NewWriter(&b)
		cw.Write([]string{"Email", "First Name", "Last Name", "Title", "Speaker"})
		cw.Write([]string{"ann@example.org", bulk.SafeCell(v), "Lee", bulk.SafeCell(v), "Yes"})
		cw.Flush()
		rep, err := bulk.Check(&b)
		if err != nil || rep.ProblemCount != 0 || len(rep.Preview) != 1 {
			t.Fatalf("%q: %v %+v", v, err, rep)
		}
		if r := rep.Preview[0]; r.FirstName != v || r.Title != v {
			t.Errorf("%q exported as %q reads back as %q and %q", v, bulk.SafeCell(v), r.FirstName, r.Title)
		}
	}
}

// TestResumeAtEveryRowOfMultiLineRows: a Reader resumed at any row
// boundary it reported, including those just after a quoted value with
// line breaks, reads the same rows on the same lines as one read through.
func TestResumeAtEveryRowOfMultiLineRows(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(hdr, "\n", "\r\n"))
	for i := range 40 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "p%02d@example.org,P,%d,\"Lead,\r\nteam %d\",\"Acme\r\n\r\nLabs\",Yes,No\r\n", i, i, i)
		case 1:
			fmt.Fprintf(&b, "p%02d@example.org,P,%d,,\"ends with a break\n\",,\"Yes\"\n\n", i, i)
		case 2:
			fmt.Fprintf(&b, "p%02d@example.con,P,\"%d\nbad\",,,,\r\n", i, i)
		default:
			fmt.Fprintf(&b, "p%02d@example.org,P,%d,,,,\r\n", i, i)
		}
	}
	data := []byte(b.String())
	type read struct {
		row    bulk.Row
		probs  string
		offset int64
		next   int
	}
	rd, err := bulk.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	header := append([]string(nil), rd.Header()...)
	starts := []read{{offset: rd.Offset(), next: rd.NextLine()}}
	var all []read
	for {
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r := read{row, problemsString(probs), rd.Offset(), rd.NextLine()}
		all = append(all, r)
		starts = append(starts, r)
	}
	// Each row's Line is the line it starts on: one more than the line
	// breaks before it, past the blank lines the reader skips.
	for i, r := range all {
		off := starts[i].offset
		for bytes.HasPrefix(data[off:], []byte("\n")) || bytes.HasPrefix(data[off:], []byte("\r\n")) {
			off += int64(bytes.IndexByte(data[off:], '\n') + 1)
		}
		if want := bytes.Count(data[:off], []byte("\n")) + 1; r.row.Line != want {
			t.Fatalf("row %d reads as line %d, starts on line %d", i, r.row.Line, want)
		}
	}
	if all[2].row.Line != 9 || all[2].probs != "line 9, Email: email \"p02@example.con\": the domain example.con looks like a typo of example.com (did you mean p02@example.com?)\nline 9, Last Name: Last Name contains a line break; it must be one line" {
		t.Fatalf("row 2: %+v %q", all[2].row, all[2].probs)
	}
	if all[0].row.Title != "Lead,\nteam 0" || all[0].row.Company != "Acme\n\nLabs" || all[1].row.Company != "ends with a break" {
		t.Fatalf("values: %+v %+v", all[0].row, all[1].row)
	}
	for cut := range starts[:len(starts)-1] {
		rest, err := bulk.Resume(bytes.NewReader(data[starts[cut].offset:]), header, starts[cut].offset, starts[cut].next)
		if err != nil {
			t.Fatal(err)
		}
		for i := cut; i < len(all); i++ {
			row, probs, err := rest.Next()
			if err != nil {
				t.Fatalf("resumed at row %d, row %d: %v", cut, i, err)
			}
			if row != all[i].row || problemsString(probs) != all[i].probs || rest.Offset() != all[i].offset || rest.NextLine() != all[i].next {
				t.Fatalf("resumed at row %d, row %d reads %+v %q at %d/%d; read through: %+v %q at %d/%d", cut, i,
					row, problemsString(probs), rest.Offset(), rest.NextLine(), all[i].row, all[i].probs, all[i].offset, all[i].next)
			}
		}
		if _, _, err := rest.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("resumed at row %d: %v after the last row", cut, err)
		}
	}
}

// TestImportKeepsLineBreaksAcrossResumes: a file whose titles and companies
// have line breaks is imported by runners that each stop after one batch
// (of two rows), so every resume starts from a checkpoint just after a
// multi-line row. The titles arrive with their line breaks, the rows the
// check refused are refused (the import finds them by their lines), and a
// row refused while importing is reported on the line it starts on.
func TestImportKeepsLineBreaksAcrossResumes(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationInviteOnly)
			e.tune(func(b *bulk.Service) { b.BatchRows = 2 })
			ctx := context.Background()
			if _, err := e.events.Invite(ctx, e.caller, e.ev.ID, event.InviteInput{Email: "has@example.org",
				Profile: event.Profile{FirstName: "Has", LastName: "Details", Speaker: true, Title: "Keynote"}}); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString(strings.ReplaceAll(hdr, "\n", "\r\n"))
			line := 2
			var badLines []int
			hasLine := 0
			for i := range 15 {
				switch i % 5 {
				case 0, 3:
					fmt.Fprintf(&b, "p%02d@example.org,P,%d,\"Head of R&D,\r\nEMEA %d\",\"Acme\r\nLabs\",Yes,No\r\n", i, i, i)
					line += 3
				case 1:
					badLines = append(badLines, line)
					fmt.Fprintf(&b, "p%02d@example.con,P,%d,\"Two\r\nlines\",,Yes,\r\n", i, i)
					line += 2
				case 2:
					if i == 7 {
						hasLine = line
						b.WriteString("has@example.org,Has,Details,,,No,No\r\n")
						line++
						continue
					}
					fmt.Fprintf(&b, "p%02d@example.org,P,%d,,,,\r\n", i, i)
					line++
				default:
					fmt.Fprintf(&b, "p%02d@example.org,P,%d,,\"Three\nline\ncompany\",,Yes\r\n", i, i)
					line += 3
				}
			}
			up, err := e.bulk.Upload(ctx, e.caller, e.ev.ID, "p.csv", strings.NewReader(b.String()))
			if err != nil || up.Report.Rows != 15 || up.Report.ProblemCount != 3 {
				t.Fatalf("%v %+v", err, up.Report)
			}
			for i, p := range up.Report.Problems {
				if p.Line != badLines[i] || p.Column != bulk.ColEmail {
					t.Fatalf("check problem %d: %+v, want line %d", i, p, badLines[i])
				}
			}
			if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, false); err != nil {
				t.Fatal(err)
			}
			stopped, cancel := context.WithCancel(ctx)
			cancel()
			runs := 0
			for ; runs < 20; runs++ {
				at := time.Now().UTC().Add(time.Duration(runs) * time.Minute)
				r := &job.Runner{DB: e.db, Handlers: map[string]job.Handler{bulk.Kind: e.bulk.Handler()}, ID: fmt.Sprint("runner", runs),
					Now: func() time.Time { return at }}
				if ok, err := r.Run(stopped, up.Job.ID); ok || err == nil {
					// The last batch ends the job before the stop is seen.
					if j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID); j.Finished() {
						break
					}
					t.Fatalf("run %d: %v %v", runs, ok, err)
				}
			}
			j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID)
			if j.Status != job.Done || string(j.Counts) != `{"added":11,"updated":0,"unchanged":0,"refused":4}` || j.Attempts != 8 {
				t.Fatalf("job %s after %d runs: %d attempts, counts %s, error %q", j.Status, runs+1, j.Attempts, j.Counts, j.Error)
			}
			var got []event.Attendee
			e.db.R.Where("event_id = ? AND email LIKE 'p%'", e.ev.ID).Order("email").Find(&got)
			if len(got) != 11 {
				t.Fatalf("%d attendees from the file, want 11", len(got))
			}
			for _, a := range got {
				var i int
				fmt.Sscanf(string(a.Email), "p%02d@", &i)
				want := [2]string{}
				switch i % 5 {
				case 0, 3:
					want = [2]string{fmt.Sprintf("Head of R&D,\nEMEA %d", i), "Acme\nLabs"}
				case 4:
					want = [2]string{"", "Three\nline\ncompany"}
				}
				if a.Title != want[0] || a.Company != want[1] || a.LastName != fmt.Sprint(i) {
					t.Errorf("%s: title %q company %q last name %q; want %q", a.Email, a.Title, a.Company, a.LastName, want)
				}
			}
			var probs []bulk.StoredProblem
			e.db.R.Where("job_id = ? AND phase = 'import'", up.Job.ID).Find(&probs)
			if len(probs) != 1 || probs[0].Line != hasLine || probs[0].Email != "has@example.org" {
				t.Fatalf("import problems %+v, want has@example.org on line %d", probs, hasLine)
			}
		})
	}
}

// TestExportRoundTrip: an export of attendees whose names, titles and
// companies hold line breaks, commas, quotes, apostrophes and
// formula-looking values imports into another event with every value as
// it was, and back into its own event with every row unchanged.
func TestExportRoundTrip(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationOpen)
			ctx := context.Background()
			people := []event.InviteInput{
				{Email: "ada@example.org", Profile: event.Profile{FirstName: "Ada", LastName: "Lovelace", Speaker: true,
					Title: "Head of R&D,\nEMEA", Company: "Acme \"Labs\", Inc.\nLondon"}},
				{Email: "eve@example.org", Profile: event.Profile{FirstName: `=HYPERLINK("http://x")`, LastName: "+1", Speaker: true,
					Title: "-2\nlines", Company: "@SUM(A1)"}},
				{Email: "-dash@example.org", Profile: event.Profile{FirstName: "'=already", LastName: "''x", Moderator: true,
					Title: "'", Company: "'plain"}},
				{Email: "tom@example.org", Profile: event.Profile{FirstName: "O'Neil", LastName: `Smith, "Jr"`}},
				{Email: "kim@example.org", Profile: event.Profile{FirstName: "Kim", LastName: "Lee", Speaker: true, Moderator: true,
					Title: "Line one\n\nline three, \"quoted\"", Company: "=1+1\n+2"}},
			}
			for _, in := range people {
				if _, err := e.events.Invite(ctx, e.caller, e.ev.ID, in); err != nil {
					t.Fatalf("%s: %v", in.Email, err)
				}
			}
			var file bytes.Buffer
			if err := bulk.Export(ctx, e.db, e.caller, e.ev.ID, &file); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(file.String(), "\"Head of R&D,\r\nEMEA\"") || !strings.Contains(file.String(), "\"'=1+1\r\n+2\"") {
				t.Fatalf("export:\n%q", file.String())
			}

			start := time.Now().Add(40 * 24 * time.Hour).UTC().Truncate(time.Hour)
			other, err := e.events.CreateEvent(ctx, e.caller, event.EventInput{Name: "Other", StartsAt: start, EndsAt: start.Add(time.Hour),
				TimeZone: "UTC", Registration: event.RegistrationOpen})
			if err != nil {
				t.Fatal(err)
			}
			importInto := func(evID string) *job.Job {
				up, err := e.bulk.Upload(ctx, e.caller, evID, "all-users.csv", bytes.NewReader(file.Bytes()))
				if err != nil || up.Report.Refused || up.Report.ProblemCount != 0 || up.Report.Rows != len(people) {
					t.Fatalf("the export does not check clean: %v %+v", err, up.Report)
				}
				if _, err := e.bulk.Confirm(ctx, e.caller, up.Job.ID, false); err != nil {
					t.Fatal(err)
				}
				if _, err := e.runner.RunPending(ctx); err != nil {
					t.Fatal(err)
				}
				j, _ := e.bulk.Job(ctx, e.caller, up.Job.ID)
				return j
			}
			if j := importInto(other.ID); j.Status != job.Done || string(j.Counts) != `{"added":5,"updated":0,"unchanged":0,"refused":0}` {
				t.Fatalf("import into another event: %s %s %q", j.Status, j.Counts, j.Error)
			}
			for _, in := range people {
				var a event.Attendee
				if err := e.db.R.Where("event_id = ? AND email = ?", other.ID, in.Email).Take(&a).Error; err != nil {
					t.Fatalf("%s: %v", in.Email, err)
				}
				p := in.Profile
				if a.FirstName != p.FirstName || a.LastName != p.LastName || a.Title != p.Title || a.Company != p.Company ||
					a.Speaker != p.Speaker || a.Moderator != p.Moderator {
					t.Errorf("%s came back as %q %q %q %q speaker %v moderator %v; exported %+v", in.Email,
						a.FirstName, a.LastName, a.Title, a.Company, a.Speaker, a.Moderator, p)
				}
			}
			if j := importInto(e.ev.ID); j.Status != job.Done || string(j.Counts) != `{"added":0,"updated":0,"unchanged":5,"refused":0}` {
				t.Fatalf("import into its own event: %s %s %q", j.Status, j.Counts, j.Error)
			}
		})
	}
}
