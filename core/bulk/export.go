package bulk

import (
	"context"
	"encoding/csv"
	"io"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/store"
)

// ExportColumns are the columns of the All users export. The first seven
// are the import's, so an exported file can be edited and imported back.
var ExportColumns = append(append([]string{}, Columns...), "Organizer", "Status", "Detailed Status", "Registration", "Blocked From Chat", "Added")

// SafeCell neutralizes a cell a spreadsheet would run as a formula: one
// starting with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe, which spreadsheets show as text and do not evaluate. So that
// the import can take the apostrophe off again (plainCell) and an export
// reads back as it was, a cell that already looks escaped (an apostrophe
// before one of those characters or before another apostrophe) gets one
// too.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	if formulaStart(s[0]) || looksEscaped(s) {
		return "'" + s
	}
	return s
}

// plainCell trims a cell of the file and takes off the apostrophe SafeCell
// puts before a formula-looking value: "'=SUM(A1)" reads as "=SUM(A1)". A
// spreadsheet reads a leading apostrophe the same way.
func plainCell(s string) string {
	s = strings.TrimSpace(s)
	if looksEscaped(s) {
		return s[1:]
	}
	return s
}

// exportCell is a cell of the export: SafeCell, and every line break as
// LF, which the CSV writer puts out as CRLF inside quotes and the import
// reads back as LF. (The writer would drop a lone CR, and turn a break
// stored as CRLF into one that reads back as LF anyway.)
func exportCell(s string) string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = oneBreak(s)
	}
	return SafeCell(s)
}

func formulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

func looksEscaped(s string) bool {
	return len(s) > 1 && s[0] == '\'' && (formulaStart(s[1]) || s[1] == '\'')
}

// Export writes an event's All users list as CSV (RFC 4180: CRLF line ends,
// quotes where needed, every cell passed through exportCell), reading the
// attendees a page at a time so any list size streams. What it writes
// imports back with the same values (see plainCell and text).
func Export(ctx context.Context, db *store.DB, c event.Caller, eventID string, w io.Writer) error {
	ev, err := event.GetEvent(ctx, db, c.AccountID, eventID)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(ExportColumns); err != nil {
		return err
	}
	yes := func(b bool) string {
		if b {
			return "Yes"
		}
		return "No"
	}
	var after struct {
		at time.Time
		id string
	}
	rec := make([]string, len(ExportColumns))
	for first := true; ; first = false {
		q := db.R.WithContext(ctx).Where("event_id = ?", ev.ID)
		if !first {
			q = q.Where("created_at > ? OR (created_at = ? AND id > ?)", after.at, after.at, after.id)
		}
		var page []event.Attendee
		if err := q.Order("created_at, id").Limit(1000).Find(&page).Error; err != nil {
			return err
		}
		for i := range page {
			a := &page[i]
			rec = append(rec[:0], string(a.Email), a.FirstName, a.LastName, a.Title, a.Company, yes(a.Speaker), yes(a.Moderator),
				yes(a.Organizer), a.Status.Label(), a.Detail.Label(), a.RegistrationType, yes(a.BlockedFromChat),
				a.CreatedAt.UTC().Format(time.RFC3339))
			for j := range rec {
				rec[j] = exportCell(rec[j])
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if len(page) < 1000 {
			return nil
		}
		last := page[len(page)-1]
		after.at, after.id = last.CreatedAt, last.ID
	}
}
