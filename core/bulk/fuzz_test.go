package bulk_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/bulk"
)

// FuzzCheck feeds arbitrary files to the reader and the checks (seed
// corpus in testdata/fuzz/FuzzCheck; the normal test run executes the
// seeds). Whatever the bytes: no panic and no error but a *FileError; every
// problem names a line of the file; a duplicate points at an earlier line
// with the same address; and resuming at any row boundary a Reader
// reported reads exactly the rows that follow it, with the same lines and
// problems, which is what an interrupted import relies on.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("Email,First Name,Last Name\nann@example.org,Ann,Lee\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := bulk.Check(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range rep.Problems {
			if p.Line < 0 || p.Line > lines {
				t.Fatalf("problem on line %d of a %d-line file: %s", p.Line, lines, p)
			}
			if p.Message == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}
		if rep.Valid > rep.Rows || len(rep.Preview) > 2 || (rep.Refused && rep.ProblemCount == 0) {
			t.Fatalf("inconsistent report: %+v", rep)
		}
		if rep.Refused {
			return
		}

		type read struct {
			row    bulk.Row
			probs  string
			offset int64
			next   int
		}
		rd, err := bulk.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("NewReader on a file Check accepted: %v", err)
		}
		header := append([]string(nil), rd.Header()...)
		var all []read
		for {
			row, probs, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Next on a file Check accepted: %v", err)
			}
			all = append(all, read{row, problemsString(probs), rd.Offset(), rd.NextLine()})
		}
		if len(all) != rep.Rows {
			t.Fatalf("Reader read %d rows, Check counted %d", len(all), rep.Rows)
		}
		byLine := map[int]string{}
		for _, r := range all {
			byLine[r.row.Line] = r.row.Email
		}
		for _, p := range rep.Problems {
			var email string
			var prev int
			if n, _ := fmtSscanf(p.Message, &email, &prev); n == 2 && byLine[prev] != email {
				t.Fatalf("line %d is called a duplicate of line %d, which holds %q", p.Line, prev, byLine[prev])
			}
		}
		for cut := 0; cut < len(all)-1; cut += 1 + len(all)/4 {
			rest, err := bulk.Resume(bytes.NewReader(data[all[cut].offset:]), header, all[cut].offset, all[cut].next)
			if err != nil {
				t.Fatalf("Resume: %v", err)
			}
			for i := cut + 1; i < len(all); i++ {
				row, probs, err := rest.Next()
				if err != nil {
					t.Fatalf("resumed read of row %d: %v", i, err)
				}
				if row != all[i].row || problemsString(probs) != all[i].probs || rest.Offset() != all[i].offset || rest.NextLine() != all[i].next {
					t.Fatalf("resumed at row %d, row %d reads %+v %q, first read %+v %q", cut, i, row, problemsString(probs), all[i].row, all[i].probs)
				}
			}
			if _, _, err := rest.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("resumed read goes on past the last row: %v", err)
			}
		}
	})
}

func problemsString(ps []bulk.Problem) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// fmtSscanf reads a duplicate message: email "x" is already on line N.
func fmtSscanf(msg string, email *string, line *int) (int, error) {
	const mid = `" is already on line `
	if !strings.HasPrefix(msg, `email "`) || !strings.Contains(msg, mid) {
		return 0, nil
	}
	i := strings.Index(msg, mid)
	*email = msg[len(`email "`):i]
	n := 0
	for _, c := range msg[i+len(mid):] {
		if c < '0' || c > '9' {
			return 1, nil
		}
		n = n*10 + int(c-'0')
	}
	*line = n
	return 2, nil
}
