package bulk

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// aliases maps a header cell, reduced by headerKey, to its column. Besides
// the template's names it takes the spellings spreadsheets and other
// systems' exports commonly use.
var aliases = map[string]int{
	"email": 0, "emailaddress": 0, "mail": 0,
	"firstname": 1, "givenname": 1,
	"lastname": 2, "surname": 2, "familyname": 2,
	"title": 3, "jobtitle": 3,
	"company": 4, "organization": 4, "organisation": 4,
	"speaker":   5,
	"moderator": 6,
}

// exportOnly are the columns the All users export adds after the import's
// own (ExportColumns): an exported file imports back as it is, with these
// read past. Status, roles beyond speaker and moderator, and dates are the
// gateway's to keep, not a file's to set.
var exportOnly = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range ExportColumns[len(Columns):] {
		m[headerKey(c)] = true
	}
	return m
}()

// headerKey lower-cases a header cell and drops spaces, "-", "_" and ".".
func headerKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch r {
		case ' ', '-', '_', '.', '\t':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// delimiters the header is checked for when it is not comma-separated.
var delimiters = []struct {
	r    rune
	name string
}{{';', `";" (semicolon, as spreadsheets set to many European languages save CSV)`}, {'\t', "tabs"}, {'|', `"|" (vertical bar)`}}

// useHeader maps the header's cells to Columns, reporting every problem of
// the header at once.
func (r *Reader) useHeader(rec []string, line int) error {
	r.header = make([]string, len(rec))
	for i, c := range rec {
		if !utf8.ValidString(c) {
			return r.notUTF8(rec, i)
		}
		r.header[i] = strings.TrimSpace(c)
	}
	for i := range r.cols {
		r.cols[i] = -1
	}
	found := strings.Join(r.header, ",")
	if strings.Contains(found, "\r") {
		return fileError(line, "", `the lines end with a carriage return alone (the old Mac format), so the whole file reads as one line; %s`, saveAs)
	}
	if len(r.header) == 1 {
		for _, d := range delimiters {
			if strings.ContainsRune(r.header[0], d.r) {
				return fileError(line, "", "the columns are separated by %s, not by commas: found %q; %s", d.name, clip(r.header[0], 120), saveAs)
			}
		}
	}
	r.named = len(r.header)
	for r.named > 0 && r.header[r.named-1] == "" {
		r.named--
	}
	var probs []Problem
	add := func(col, format string, args ...any) {
		probs = append(probs, Problem{Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	if r.named > 0 && strings.Contains(r.header[0], "@") {
		return fileError(line, "", "the first line is not a header: found %q; the first line must name the columns: %s", clip(found, 120), strings.Join(Columns, ","))
	}
	for i := 0; i < r.named; i++ {
		h := r.header[i]
		if h == "" {
			add("", "column %d has no name; the columns are %s", i+1, strings.Join(Columns, ", "))
			continue
		}
		k, ok := aliases[headerKey(h)]
		if !ok && exportOnly[headerKey(h)] {
			continue
		}
		if !ok {
			add(h, "unknown column %q (column %d); the columns are %s", clip(h, 60), i+1, strings.Join(Columns, ", "))
			continue
		}
		if prev := r.cols[k]; prev >= 0 {
			add(Columns[k], "the column %s appears twice (columns %d and %d)", Columns[k], prev+1, i+1)
			continue
		}
		r.cols[k] = i
	}
	for k := 0; k < 3; k++ {
		if r.cols[k] < 0 {
			add(Columns[k], "the header has no %s column; found %q; the first line must name the columns: %s", Columns[k], clip(found, 120), strings.Join(Columns, ","))
		}
	}
	if len(probs) > 0 {
		return &FileError{Problems: probs}
	}
	return nil
}
