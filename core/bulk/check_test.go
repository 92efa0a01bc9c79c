package bulk_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/bulk"
)

const hdr = "Email,First Name,Last Name,Title,Company,Speaker,Moderator\n"

// TestCheckFiles: every problem a file can have, with the exact words the
// organizer reads, and files that are fine however they are written.
func TestCheckFiles(t *testing.T) {
	longLine := "Email,First Name,Last Name\n" + strings.Repeat("x", 10<<20)
	cases := []struct {
		name    string
		file    string
		refused bool
		rows    int
		valid   int
		want    []string // Problem.String() of every problem, in order
	}{
		{name: "empty file", file: "", refused: true,
			want: []string{"the file is empty: it needs a header line (Email,First Name,Last Name,Title,Company,Speaker,Moderator) and one line per person"}},
		{name: "only a byte-order mark and blank lines", file: "\ufeff\r\n\r\n", refused: true,
			want: []string{"the file is empty: it needs a header line (Email,First Name,Last Name,Title,Company,Speaker,Moderator) and one line per person"}},
		{name: "header only", file: hdr, refused: true,
			want: []string{"the file has a header but no rows: add one line per person under the header"}},
		{name: "10 MB single line", file: longLine, refused: true,
			want: []string{"line 2: the line is longer than 65536 bytes (a quote that is never closed makes the rest of the file one value); the longest line of a valid file is far shorter"}},
		{name: "CRLF line ends", file: strings.ReplaceAll(hdr+"ann@example.org,Ann,Lee,,,,\nbob@example.org,Bob,Ray,,,,\n", "\n", "\r\n"), rows: 2, valid: 2},
		{name: "LF line ends and no final line break", file: hdr + "ann@example.org,Ann,Lee,,,,\nbob@example.org,Bob,Ray,,,,", rows: 2, valid: 2},
		{name: "UTF-8 byte-order mark", file: "\ufeff" + hdr + "zoë@example.org,Zoë,Åström,,,,\n", rows: 1,
			want: []string{`line 2, Email: email "zoë@example.org" contains the character 'ë' (U+00EB); only plain ASCII letters, digits and . _ - + are accepted`}},
		{name: "quoted fields with commas, quotes and line breaks", rows: 3, valid: 3,
			file: hdr + "ann@example.org,Ann,Lee,\"Head of R&D, EMEA\",\"Acme \"\"Labs\"\", Inc.\",Yes,No\n" +
				"bob@example.org,Bob,Ray,\"two\nlines\",\"Acme\r\nLabs\",Yes,No\n" +
				"cat@example.org,Cat,Fox,,,,\n"},
		{name: "line numbers count line breaks inside quotes", rows: 3, valid: 0,
			file: hdr + "ann@example.org,Ann,\"Lee\nSmith\nJones\",,,,\nbad,Bob,Ray,,,,\n" +
				"cy@example.org,\"Cy\",Oak,\"Head\r\nof\r\nsales\",,No,\"Maybe\"\r\n",
			want: []string{"line 2, Last Name: Last Name contains a line break; it must be one line", `line 5, Email: email "bad" has no @`,
				`line 6, Moderator: Moderator must be Yes or No (or empty); found "Maybe"`,
				"line 6, Title: Title is for speakers and moderators: set Speaker or Moderator to Yes, or leave Title empty"}},
		{name: "a line break in a first name", rows: 1, file: hdr + "ann@example.org,\"Ann\r\nMarie\",Lee,,,,\n",
			want: []string{"line 2, First Name: First Name contains a line break; it must be one line"}},
		{name: "a quote never closed over many short lines", refused: true,
			file: hdr + "ann@example.org,Ann,Lee,,,,\nbob@example.org,Bob,\"Ray,,,,\n" + strings.Repeat("cat@example.org,Cat,Fox,,,,\n", 5000),
			want: []string{`line 3: the row that starts here is longer than 65536 bytes: a quoted value that is never closed makes the rest of the file one value; close it with a quote (a quote inside a value is doubled: "")`}},
		{name: "Excel semicolon export", refused: true,
			file: "\ufeffEmail;First Name;Last Name;Title;Company;Speaker;Moderator\r\nann@example.org;Ann;Lee;;;No;No\r\n",
			want: []string{`line 1: the columns are separated by ";" (semicolon, as spreadsheets set to many European languages save CSV), not by commas: found "Email;First Name;Last Name;Title;Company;Speaker;Moderator"; save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`}},
		{name: "tab separated", refused: true, file: "Email\tFirst Name\tLast Name\nann@example.org\tAnn\tLee\n",
			want: []string{`line 1: the columns are separated by tabs, not by commas: found "Email\tFirst Name\tLast Name"; save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`}},
		{name: "not UTF-8 (Windows-1252)", refused: true, file: hdr + "ann@example.org,Ann,Lee,,,,\njose@example.org,Jos\xe9,Garc\xeda,,,,\n",
			want: []string{`line 3, First Name: the file is not UTF-8 text: byte 0xE9 after "Jos" is not UTF-8 (the file may be Windows-1252 or Latin-1); save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`}},
		{name: "UTF-16", refused: true, file: "\xff\xfeE\x00m\x00",
			want: []string{`line 1: the file is UTF-16 text (a spreadsheet's "Unicode Text"), not UTF-8; save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`}},
		{name: "wrong header", refused: true, file: "Mail Address,Vorname,Last Name,Phone\nann@example.org,Ann,Lee,123\n",
			want: []string{
				`line 1, Mail Address: unknown column "Mail Address" (column 1); the columns are Email, First Name, Last Name, Title, Company, Speaker, Moderator`,
				`line 1, Vorname: unknown column "Vorname" (column 2); the columns are Email, First Name, Last Name, Title, Company, Speaker, Moderator`,
				`line 1, Phone: unknown column "Phone" (column 4); the columns are Email, First Name, Last Name, Title, Company, Speaker, Moderator`,
				`line 1, Email: the header has no Email column; found "Mail Address,Vorname,Last Name,Phone"; the first line must name the columns: Email,First Name,Last Name,Title,Company,Speaker,Moderator`,
				`line 1, First Name: the header has no First Name column; found "Mail Address,Vorname,Last Name,Phone"; the first line must name the columns: Email,First Name,Last Name,Title,Company,Speaker,Moderator`,
			}},
		{name: "carriage returns alone", refused: true, file: "Email,First Name,Last Name\rann@example.org,Ann,Lee\r",
			want: []string{`line 1: the lines end with a carriage return alone (the old Mac format), so the whole file reads as one line; save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`}},
		{name: "no header", refused: true, file: "ann@example.org,Ann,Lee\n",
			want: []string{`line 1: the first line is not a header: found "ann@example.org,Ann,Lee"; the first line must name the columns: Email,First Name,Last Name,Title,Company,Speaker,Moderator`}},
		{name: "column twice", refused: true, file: "Email,First Name,Last Name,E-mail\n",
			want: []string{"line 1, Email: the column Email appears twice (columns 1 and 4)"}},
		{name: "header spellings and order", file: "last_name,FIRST NAME,e-mail\nLee,Ann,ann@example.org\n", rows: 1, valid: 1},
		{name: "stray quote", refused: true, file: hdr + "ann@example.org,Ann,O\"Brien,,,,\n",
			want: []string{`line 2: character 22: a quote (") inside a value that does not start with one; put the whole value in quotes and double the quote inside ("")`}},
		{name: "quote never closed", refused: true, file: hdr + "ann@example.org,\"Ann,Lee,,,,\nbob@example.org,Bob,Ray,,,,\n",
			want: []string{`line 3: a quoted value that starts on line 2 is not closed properly: a quote inside it must be doubled ("") and the closing quote followed by a comma or the end of the line`}},
		{name: "every row problem", rows: 13, valid: 1,
			file: hdr +
				"good@example.org,Good,Row,,,,\n" +
				"ann@example,Ann,Lee,,,,\n" +
				"ann 😀@example.org,Ann,Lee,,,,\n" +
				"ann😀@example.org,Ann,Lee,,,,\n" +
				"ann@example.con,Ann,Lee,,,,\n" +
				"ann@gmial.com,Ann,Lee,,,,\n" +
				"Ann <ann@example.org>,Ann,Lee,,,,\n" +
				"ann@@example.org,Ann,Lee,,,,\n" +
				",Ann,Lee,,,,\n" +
				"GOOD@example.org,,  ,,,,\n" +
				"bob@example.org,Bob,Ray,,,Maybe,yes\n" +
				"cat@example.org,Cat,Fox,CTO,Acme,No,\n" +
				"dan@example.org,Dan,Oak\n",
			want: []string{
				`line 3, Email: email "ann@example" has no valid domain`,
				`line 4, Email: email "ann 😀@example.org" contains a space`,
				`line 5, Email: email "ann😀@example.org" contains the emoji 😀; addresses are plain ASCII`,
				`line 6, Email: email "ann@example.con": the domain example.con looks like a typo of example.com (did you mean ann@example.com?)`,
				`line 7, Email: email "ann@gmial.com": the domain gmial.com looks like a typo of gmail.com (did you mean ann@gmail.com?)`,
				`line 8, Email: email "Ann <ann@example.org>" contains a space`,
				`line 9, Email: email "ann@@example.org" has more than one @`,
				`line 10, Email: Email is required`,
				`line 11, First Name: First Name is required`,
				`line 11, Last Name: Last Name is required`,
				`line 11, Email: email "good@example.org" is already on line 2`,
				`line 12, Speaker: Speaker must be Yes or No (or empty); found "Maybe"`,
				`line 13, Title: Title is for speakers and moderators: set Speaker or Moderator to Yes, or leave Title empty`,
				`line 13, Company: Company is for speakers and moderators: set Speaker or Moderator to Yes, or leave Company empty`,
				`line 14: the line has 3 values; the header has 7 columns`,
			}},
		{name: "too many values", rows: 1, file: hdr + "ann@example.org,Ann,Lee,,,No,No,extra\n",
			want: []string{`line 2: value "extra" is in column 8, no column (the header has 7); is a value with a comma not in quotes?`}},
		{name: "empty rows and trailing unnamed columns are ignored", rows: 1, valid: 1,
			file: "Email,First Name,Last Name,,\nann@example.org,Ann,Lee,,\n,,,,\n\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := bulk.Check(strings.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if rep.Refused != tc.refused || (!tc.refused && (rep.Rows != tc.rows || rep.Valid != tc.valid)) || rep.ProblemCount != len(tc.want) {
				t.Errorf("refused %v rows %d valid %d problems %d; want refused %v rows %d valid %d problems %d",
					rep.Refused, rep.Rows, rep.Valid, rep.ProblemCount, tc.refused, tc.rows, tc.valid, len(tc.want))
			}
		})
	}
}

func TestCheckPreviewIsTheFirstTwoRowsAsRead(t *testing.T) {
	rep, err := bulk.Check(strings.NewReader("\ufeffmoderator,email,last name,first name,speaker,title\r\n" +
		"YES, Ann@Example.ORG ,Lee,Ann,no,\r\n\"\",\"bob@example.org\",\"Ray\",\"Bob\",Yes,\"Dr, PhD\"\r\ncat@example.org,x,Fox,Cat,,\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []bulk.Row{
		{Line: 2, Email: "ann@example.org", FirstName: "Ann", LastName: "Lee", Speaker: bulk.No, Moderator: bulk.Yes},
		{Line: 3, Email: "bob@example.org", FirstName: "Bob", LastName: "Ray", Title: "Dr, PhD", Speaker: bulk.Yes},
	}
	if len(rep.Preview) != 2 || rep.Preview[0] != want[0] || rep.Preview[1] != want[1] {
		t.Fatalf("preview %+v", rep.Preview)
	}
	if rep.Rows != 3 || strings.Join(rep.Columns, "|") != "moderator|email|last name|first name|speaker|title" {
		t.Fatalf("rows %d columns %q", rep.Rows, rep.Columns)
	}
}

func TestTemplateChecksClean(t *testing.T) {
	var b bytes.Buffer
	if err := bulk.WriteTemplate(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "Email,First Name,Last Name,Title,Company,Speaker,Moderator\r\n") || !strings.Contains(b.String(), `"Example Corp, Inc."`) {
		t.Fatalf("template:\n%s", b.String())
	}
	rep, err := bulk.Check(&b)
	if err != nil || rep.Refused || rep.ProblemCount != 0 || rep.Rows != 3 {
		t.Fatalf("the template does not check clean: %+v %v", rep, err)
	}
}
