package bulk

import (
	"encoding/csv"
	"io"
)

// templateRows are the example rows of the downloadable template: one
// attendee, one speaker with speaker details, one moderator, and a value
// with a comma to show quoting.
var templateRows = [][]string{
	{"ann.attendee@example.org", "Ann", "Attendee", "", "", "No", "No"},
	{"sam.speaker@example.org", "Sam", "Speaker", "Head of Research", "Example Corp, Inc.", "Yes", "No"},
	{"max.moderator@example.org", "Max", "Moderator", "", "", "No", "Yes"},
}

// WriteTemplate writes the CSV template: the header and example rows, UTF-8
// with CRLF line ends as RFC 4180 has them.
func WriteTemplate(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	cw.Write(Columns)
	cw.WriteAll(templateRows)
	return cw.Error()
}
