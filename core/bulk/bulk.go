// Package bulk owns inviting people to an event from a CSV file: the file's
// format and template, reading it as a stream and checking every row, staging
// it in the database, the import job that adds or updates attendees in
// batches (with their invitation emails through the outbox), the downloadable
// error report, and the All users export.
//
// An import goes through three steps:
//
//  1. Upload reads the file once, as a stream: it copies the bytes into the
//     database in chunks (bulk_chunks) while reading and checking each row,
//     and answers with a Report: the first two rows as they will be read,
//     the number of people, and every problem with its line and column.
//     Nothing is added yet. While it reads, the upload holds its job under
//     a lease it renews; a job whose upload died with its process (kill -9)
//     is ended as interrupted by any gateway once the lease runs out
//     (EndInterrupted), its staged bytes deleted.
//  2. Confirm queues the job, with or without invitation emails.
//  3. A job runner (the gateway, or the CLI) imports the staged file in
//     batches. Each batch is one transaction holding the users, attendees,
//     outbox rows, audit entries and problems of its rows together with the
//     job's checkpoint (the byte offset and line reached), written only if
//     the checkpoint is still the one the batch started from. A runner that
//     dies loses at most its open batch; whoever resumes the job starts from
//     the last checkpoint, so every row is imported once and every
//     invitation email is queued once.
//
// Where the feature text is silent, this package decided:
//   - A file-level problem (not UTF-8, wrong delimiter or header, a CSV
//     syntax error, no rows, too large) refuses the whole file. Row problems
//     refuse only their rows: the organizer may fix the file, or confirm and
//     have those rows refused (they are in the error report).
//   - Column names match without regard to case, spaces, "-" and "_"
//     ("first_name", "FIRST NAME"); columns may come in any order; the
//     optional ones may be left out.
//   - Speaker and Moderator are Yes or No in any case; an empty cell means
//     "not given": No for a new attendee, unchanged for one already on the
//     event. An empty Title or Company likewise leaves the stored one.
//   - A person already on the event has their roles, title and company
//     updated (names stay: the person may have corrected them); an attendee
//     whose status does not allow Edit (Unregistered) is refused, and so is
//     a change that would leave speaker details without a speaker or
//     moderator role.
//   - Invitation emails go to new attendees only; updated people get none.
//   - Title and Company keep their line breaks (a title on two lines), each
//     stored as LF; names are one line. The import takes off the apostrophe
//     the export puts before formula-looking cells, so an export imports
//     back with the values it had.
//   - Duplicate emails are found with a keyed 64-bit hash of each address
//     (24 MB for a million rows instead of the addresses themselves); two
//     different addresses collide with a probability below one in ten
//     million for a million-row file.
package bulk

import (
	"strconv"
	"time"
)

// Columns of the file, as the template writes them.
const (
	ColEmail     = "Email"
	ColFirstName = "First Name"
	ColLastName  = "Last Name"
	ColTitle     = "Title"
	ColCompany   = "Company"
	ColSpeaker   = "Speaker"
	ColModerator = "Moderator"
)

// Columns lists the file's columns in template order; the first three are
// mandatory.
var Columns = []string{ColEmail, ColFirstName, ColLastName, ColTitle, ColCompany, ColSpeaker, ColModerator}

// Limits of an upload. A file beyond them is refused as a whole, before
// anything is imported.
const (
	// MaxRows is the most people one file may invite.
	MaxRows = 1_000_000
	// MaxBytes bounds the file: a million rows of long names fit.
	MaxBytes = 256 << 20
	// MaxLineBytes bounds one line (and one record): reading never holds
	// more than this of a line in memory, however long the line is.
	MaxLineBytes = 64 << 10
	// MaxReportProblems is how many problems a Report carries; all are in
	// the error report.
	MaxReportProblems = 1000
)

// Flag is a Yes/No cell; Unset is an empty cell.
type Flag int8

// Flag values.
const (
	Unset Flag = iota
	Yes
	No
)

// String is the cell as the file writes it.
func (f Flag) String() string {
	switch f {
	case Yes:
		return "Yes"
	case No:
		return "No"
	}
	return ""
}

// MarshalText writes Yes, No or "".
func (f Flag) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Row is one person as the file gives them, trimmed and, for the email,
// normalized.
type Row struct {
	// Line is the line of the file where the row starts.
	Line      int    `json:"line"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Title     string `json:"title"`
	Company   string `json:"company"`
	Speaker   Flag   `json:"speaker"`
	Moderator Flag   `json:"moderator"`
}

// Problem is one thing wrong with the file or one of its rows.
type Problem struct {
	// Line is the line of the file (1 is the header); 0 for the file as a
	// whole.
	Line int `json:"line"`
	// Column names the column at fault, when one is.
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
	// Fix is the likely intended value (an email domain typo).
	Fix string `json:"fix,omitempty"`
}

func (p Problem) String() string {
	s := ""
	switch {
	case p.Line > 0 && p.Column != "":
		s = "line " + strconv.Itoa(p.Line) + ", " + p.Column + ": "
	case p.Line > 0:
		s = "line " + strconv.Itoa(p.Line) + ": "
	case p.Column != "":
		s = p.Column + ": "
	}
	s += p.Message
	if p.Fix != "" {
		s += " (did you mean " + p.Fix + "?)"
	}
	return s
}

// Report is what checking a file found.
type Report struct {
	// Columns is the header as the file has it.
	Columns []string `json:"columns"`
	// Preview is the first two rows as they will be read.
	Preview []Row `json:"preview"`
	// Rows counts the people in the file (rows that are not empty), with or
	// without problems; Valid those without.
	Rows  int `json:"rows"`
	Valid int `json:"valid"`
	// Problems lists the first MaxReportProblems problems in file order;
	// ProblemCount counts them all.
	Problems     []Problem `json:"problems"`
	ProblemCount int       `json:"problem_count"`
	// Refused is true when the file as a whole cannot be imported; then
	// Problems says why (a problem with Line 0 or a file-level one).
	Refused bool `json:"refused"`

	// firstOffset and firstLine are where the first row starts.
	firstOffset int64
	firstLine   int
}

// Counts is what an import did, row by row.
type Counts struct {
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Refused   int `json:"refused"`
}

// Processed is every row the import went through.
func (c Counts) Processed() int { return c.Added + c.Updated + c.Unchanged + c.Refused }

// Import is the bulk-invite part of a job: what was uploaded for which
// event, and how far the import got.
type Import struct {
	JobID     string `gorm:"primaryKey;size:36"`
	AccountID string `gorm:"size:36;not null"`
	EventID   string `gorm:"size:36;not null;index"`
	FileName  string `gorm:"size:255"`
	// Size is the staged file's length in bytes.
	Size int64 `gorm:"not null"`
	// Header is the file's header line as read (its columns' order).
	Header    string `gorm:"type:text;not null"`
	SendEmail bool   `gorm:"not null"`
	// Offset and Line are the checkpoint: the byte offset in the staged
	// file where the next batch starts, and its line. A batch commits only
	// if the checkpoint is still the one it started from.
	Offset    int64 `gorm:"not null"`
	Line      int   `gorm:"not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName names the table.
func (Import) TableName() string { return "bulk_imports" }

// Chunk is a piece of a staged file. Every chunk but the last holds exactly
// ChunkBytes, so an offset finds its chunk by division.
type Chunk struct {
	JobID string `gorm:"primaryKey;size:36"`
	Seq   int    `gorm:"primaryKey;autoIncrement:false"`
	Data  []byte `gorm:"not null"`
}

// TableName names the table.
func (Chunk) TableName() string { return "bulk_chunks" }

// ChunkBytes is the size of a staged chunk.
const ChunkBytes = 1 << 20

// StoredProblem is one problem of a job's file, for the error report.
type StoredProblem struct {
	ID      int64  `gorm:"primaryKey;autoIncrement"`
	JobID   string `gorm:"size:36;not null;index:idx_bulk_problems_job_line,priority:1"`
	Line    int    `gorm:"not null;index:idx_bulk_problems_job_line,priority:2"`
	Column  string `gorm:"size:32"`
	Email   string `gorm:"size:254"`
	Message string `gorm:"type:text;not null"`
	Fix     string `gorm:"size:300"`
	// Phase is "check" (found at upload) or "import" (refused while
	// importing, e.g. an attendee whose status allows no edit).
	Phase string `gorm:"size:8;not null"`
}

// TableName names the table.
func (StoredProblem) TableName() string { return "bulk_problems" }
