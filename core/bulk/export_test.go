package bulk_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/store"
)

// TestExportNeutralizesFormulas: names that a spreadsheet would run as
// formulas come out as text, quoting follows RFC 4180, and the file reads
// back with the import's columns.
func TestExportNeutralizesFormulas(t *testing.T) {
	e := newEnv(t, store.SQLite, event.RegistrationOpen)
	ctx := context.Background()
	for _, in := range []event.InviteInput{
		{Email: "eve@example.org", Profile: event.Profile{FirstName: "=HYPERLINK(\"http://x\")", LastName: "+1", Speaker: true, Title: "-2", Company: "@SUM(A1)"}},
		{Email: "tab@example.org", Profile: event.Profile{FirstName: "Tab", LastName: "O'Neil, \"Jr\""}},
	} {
		if _, err := e.events.Invite(ctx, e.caller, e.ev.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := bulk.Export(ctx, e.db, e.caller, e.ev.ID, &b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\r\n")
	if lines[0] != "Email,First Name,Last Name,Title,Company,Speaker,Moderator,Organizer,Status,Detailed Status,Registration,Blocked From Chat,Added" {
		t.Fatalf("header %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], `eve@example.org,"'=HYPERLINK(""http://x"")",'+1,'-2,'@SUM(A1),Yes,No,No,Invited,Invited to register,invited,No,`) {
		t.Fatalf("row 1 %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], `tab@example.org,Tab,"O'Neil, ""Jr""",,,No,No,No,Invited,`) {
		t.Fatalf("row 2 %q", lines[2])
	}
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || len(recs) != 3 || recs[2][2] != `O'Neil, "Jr"` {
		t.Fatalf("export does not read back: %v %q", err, recs)
	}
	if bulk.SafeCell("\tx") != "'\tx" || bulk.SafeCell("a=b") != "a=b" || bulk.SafeCell("") != "" {
		t.Fatal("SafeCell")
	}
}
