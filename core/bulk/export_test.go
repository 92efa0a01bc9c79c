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

// TestExportImportsBack: an exported list, as it is, checks clean as an
// import file with the same people, the export's own extra columns read past.
func TestExportImportsBack(t *testing.T) {
	e := newEnv(t, store.SQLite, event.RegistrationOpen)
	ctx := context.Background()
	for _, in := range []event.InviteInput{
		{Email: "ada@example.org", Profile: event.Profile{FirstName: "Ada", LastName: "Lovelace", Speaker: true, Title: "Analyst", Company: "Engines, Ltd"}},
		{Email: "alan@example.org", Profile: event.Profile{FirstName: "Alan", LastName: "Turing", Moderator: true}},
	} {
		if _, err := e.events.Invite(ctx, e.caller, e.ev.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := bulk.Export(ctx, e.db, e.caller, e.ev.ID, &b); err != nil {
		t.Fatal(err)
	}
	rep, err := bulk.Check(&b)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refused || rep.Rows != 2 || rep.Valid != 2 || len(rep.Problems) != 0 {
		t.Fatalf("the export does not import back: %+v", rep)
	}
	got := map[string]bulk.Row{}
	for _, r := range rep.Preview {
		got[r.Email] = r
	}
	if a := got["ada@example.org"]; a.Title != "Analyst" || a.Company != "Engines, Ltd" || a.Speaker != bulk.Yes {
		t.Errorf("Ada read back as %+v", a)
	}

	// Columns nobody exports are still refused.
	rep, err = bulk.Check(strings.NewReader("Email,First Name,Last Name,Phone\r\nx@example.org,X,Y,123\r\n"))
	if err != nil || !rep.Refused {
		t.Fatalf("an unknown column was accepted: %+v %v", rep, err)
	}
}
