package bulk

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// FileError is a problem that stops reading: what follows it in the file
// cannot be read reliably, so the file is refused as a whole.
type FileError struct {
	Problems []Problem
}

func (e *FileError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

func fileError(line int, column, format string, args ...any) *FileError {
	return &FileError{Problems: []Problem{{Line: line, Column: column, Message: fmt.Sprintf(format, args...)}}}
}

// saveAs is the advice for every encoding and delimiter problem.
const saveAs = `save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`

// Reader reads the rows of a bulk-invite file one at a time, holding at
// most one row (MaxLineBytes) of it in memory. It accepts RFC 4180 quoting
// (fields with commas, quotes and line breaks), CRLF or LF line ends, and a
// UTF-8 byte-order mark. A row is one record, which a quoted value with
// line breaks spreads over several lines: rows start and end on record
// boundaries (Offset, NextLine), and a row's Line is the line it starts on.
type Reader struct {
	cr  *csv.Reader
	lim *lineLimit
	// cols[i] is the record index of Columns[i], -1 when the file has no
	// such column.
	cols [7]int
	// named is how many leading header cells have names; trailing unnamed
	// cells (spreadsheets leave them) are ignored if their cells are empty.
	named  int
	header []string
	// start is the offset of the csv reader's first byte in the file; base
	// the number of lines before it.
	start int64
	base  int
	next  int // the line where the next record starts
	rows  int
}

// NewReader reads the header of a file and returns a Reader positioned on
// its first row. A *FileError says what is wrong with the file as a whole.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 4096)
	start := int64(0)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
		start = 3
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, fileError(1, "", `the file is UTF-16 text (a spreadsheet's "Unicode Text"), not UTF-8; %s`, saveAs)
	}
	rd := newReader(br, start, 0)
	rec, err := rd.cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fileError(0, "", "the file is empty: it needs a header line (%s) and one line per person", strings.Join(Columns, ","))
	}
	if err != nil {
		return nil, rd.readError(err)
	}
	if err := rd.useHeader(rec, rd.base+1); err != nil {
		return nil, err
	}
	rd.next = rd.endLine(rec) + 1
	return rd, nil
}

// Resume returns a Reader over the rest of a file: r starts at byte offset
// (a record boundary a Reader reported), which is line line of the file,
// and header is the file's header as Header returned it.
func Resume(r io.Reader, header []string, offset int64, line int) (*Reader, error) {
	rd := newReader(r, offset, line-1)
	if err := rd.useHeader(header, 1); err != nil {
		return nil, err
	}
	rd.next = line
	return rd, nil
}

func newReader(r io.Reader, start int64, base int) *Reader {
	lim := &lineLimit{r: r, max: MaxLineBytes}
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &Reader{cr: cr, lim: lim, start: start, base: base, next: base + 1}
}

// Header is the file's header as read.
func (r *Reader) Header() []string { return r.header }

// Offset is the byte offset in the file just after the last row read: a
// place Resume can start from.
func (r *Reader) Offset() int64 { return r.start + r.cr.InputOffset() }

// NextLine is the line where the row after the last one read starts.
func (r *Reader) NextLine() int { return r.next }

// Next returns the next row and the problems found in it (the row is then
// refused), io.EOF after the last row, or a *FileError. Rows whose cells
// are all empty are skipped.
func (r *Reader) Next() (Row, []Problem, error) {
	for {
		r.lim.from = r.cr.InputOffset()
		rec, err := r.cr.Read()
		if err != nil {
			return Row{}, nil, r.readError(err)
		}
		line := r.lineOf(0)
		r.next = r.endLine(rec) + 1
		empty := true
		for _, f := range rec {
			if strings.TrimSpace(f) != "" {
				empty = false
				break
			}
		}
		if empty {
			continue
		}
		for i, f := range rec {
			if !utf8.ValidString(f) {
				return Row{}, nil, r.notUTF8(rec, i)
			}
		}
		r.rows++
		// The limit is the upload's; a resumed reader counts from the
		// checkpoint, and the file was checked whole before.
		if r.base == 0 && r.rows > MaxRows {
			return Row{}, nil, fileError(line, "", "the file has more than %d rows; split it into several files", MaxRows)
		}
		row, probs := r.row(rec, line)
		return row, probs, nil
	}
}

// row maps a record to a Row and checks it.
func (r *Reader) row(rec []string, line int) (Row, []Problem) {
	var cells [7]string
	var present [7]bool
	for i, c := range r.cols {
		if c >= 0 && c < len(rec) {
			cells[i], present[i] = plainCell(rec[c]), true
		}
	}
	row := Row{Line: line}
	var probs []Problem
	if len(rec) < r.named {
		probs = append(probs, Problem{Line: line, Message: fmt.Sprintf("the line has %d values; the header has %d columns", len(rec), r.named)})
	}
	for i := r.named; i < len(rec); i++ {
		if strings.TrimSpace(rec[i]) != "" {
			what := "a column with no name in the header"
			if i >= len(r.header) {
				what = fmt.Sprintf("no column (the header has %d); is a value with a comma not in quotes?", r.named)
			}
			probs = append(probs, Problem{Line: line, Message: fmt.Sprintf("value %q is in column %d, %s", clip(rec[i], 40), i+1, what)})
			break
		}
	}
	probs = append(probs, checkRow(&row, &cells, &present)...)
	return row, probs
}

// lineOf is the file line where field i of the last record starts.
func (r *Reader) lineOf(i int) int {
	l, _ := r.cr.FieldPos(i)
	return r.base + l
}

// endLine is the file line where the last record (rec) ends: its last
// field's line plus the line breaks inside that field.
func (r *Reader) endLine(rec []string) int {
	if len(rec) == 0 {
		return r.lineOf(0)
	}
	last := len(rec) - 1
	return r.lineOf(last) + strings.Count(rec[last], "\n")
}

func (r *Reader) notUTF8(rec []string, i int) error {
	f := rec[i]
	bad := 0
	for bad < len(f) {
		c, n := utf8.DecodeRuneInString(f[bad:])
		if c == utf8.RuneError && n <= 1 {
			break
		}
		bad += n
	}
	line := r.lineOf(i) + strings.Count(f[:bad], "\n")
	col := r.columnName(i)
	before := f[:bad]
	if j := strings.LastIndexByte(before, '\n'); j >= 0 {
		before = before[j+1:]
	}
	if len(before) > 20 {
		before = before[len(before)-20:]
	}
	return fileError(line, col, "the file is not UTF-8 text: byte 0x%02X after %q is not UTF-8 (the file may be Windows-1252 or Latin-1); %s",
		f[bad], before, saveAs)
}

// columnName names record index i for messages.
func (r *Reader) columnName(i int) string {
	for k, c := range r.cols {
		if c == i {
			return Columns[k]
		}
	}
	if i < len(r.header) && strings.TrimSpace(r.header[i]) != "" {
		return strings.TrimSpace(r.header[i])
	}
	return fmt.Sprintf("column %d", i+1)
}

// readError turns a read failure into a *FileError, or passes io.EOF and
// failures of the underlying reader through.
func (r *Reader) readError(err error) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, errLineTooLong):
		return fileError(r.base+r.lim.line, "", "the line is longer than %d bytes (a quote that is never closed makes the rest of the file one value); the longest line of a valid file is far shorter", MaxLineBytes)
	case errors.Is(err, errRowTooLong):
		return fileError(r.next, "", `the row that starts here is longer than %d bytes: a quoted value that is never closed makes the rest of the file one value; close it with a quote (a quote inside a value is doubled: "")`, MaxLineBytes)
	case errors.As(err, &pe):
		line := r.base + pe.Line
		switch {
		case errors.Is(pe.Err, csv.ErrBareQuote):
			return fileError(line, "", `character %d: a quote (") inside a value that does not start with one; put the whole value in quotes and double the quote inside ("")`, pe.Column)
		case errors.Is(pe.Err, csv.ErrQuote):
			if pe.StartLine != pe.Line {
				return fileError(line, "", `a quoted value that starts on line %d is not closed properly: a quote inside it must be doubled ("") and the closing quote followed by a comma or the end of the line`, r.base+pe.StartLine)
			}
			return fileError(line, "", `character %d: a quoted value is not closed properly: a quote inside it must be doubled ("") and the closing quote followed by a comma or the end of the line`, pe.Column)
		}
		return fileError(line, "", "the line is not valid CSV: %v", pe.Err)
	}
	return err
}

// lineLimit passes a reader through, failing once a line grows beyond max
// bytes, so a file without line breaks cannot fill the memory, or once a
// record does: a quoted value that is never closed makes the rest of the
// file, however many short lines it has, one record, which the csv reader
// would hold whole. It counts the line breaks it has passed.
type lineLimit struct {
	r    io.Reader
	max  int
	run  int // bytes since the last line break
	line int // 1 + line breaks passed
	read int64
	// from is where the record being read starts (the csv reader's
	// InputOffset before it), set by the Reader.
	from int64
}

// csvReadAhead is how far the csv reader's buffer reads past the record
// it is on: a record is too long only once more than max+csvReadAhead
// bytes were read since its start, so no record of max bytes is refused.
const csvReadAhead = 4096

var (
	errLineTooLong = errors.New("line too long")
	errRowTooLong  = errors.New("row too long")
)

func (l *lineLimit) Read(p []byte) (int, error) {
	if l.line == 0 {
		l.line = 1
	}
	n, err := l.r.Read(p)
	buf := p[:n]
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			l.run += len(buf)
			break
		}
		if l.run+i > l.max {
			return n, errLineTooLong
		}
		l.run = 0
		l.line++
		buf = buf[i+1:]
	}
	if l.run > l.max {
		return n, errLineTooLong
	}
	l.read += int64(n)
	if l.read-l.from > int64(l.max+csvReadAhead) {
		return n, errRowTooLong
	}
	return n, err
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
