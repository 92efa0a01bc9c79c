package api_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/store"
)

const bulkHeader = "Email,First Name,Last Name,Title,Company,Speaker,Moderator\r\n"

type bulkProblem struct {
	Line    int    `json:"line"`
	Column  string `json:"column"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

type bulkRow struct {
	Line      int    `json:"line"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Title     string `json:"title"`
	Company   string `json:"company"`
	Speaker   string `json:"speaker"`
	Moderator string `json:"moderator"`
}

type bulkJob struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	Status      string  `json:"status"`
	Total       int     `json:"total"`
	Processed   int     `json:"processed"`
	Progress    float64 `json:"progress"`
	Finished    bool    `json:"finished"`
	Error       string  `json:"error"`
	EventID     string  `json:"event_id"`
	EventName   string  `json:"event_name"`
	ErrorReport string  `json:"error_report"`
	Console     string  `json:"console"`
	CreatedBy   string  `json:"created_by_id"`
	FinishedAt  *string `json:"finished_at"`
	Counts      struct {
		Added     int `json:"added"`
		Updated   int `json:"updated"`
		Unchanged int `json:"unchanged"`
		Refused   int `json:"refused"`
	} `json:"counts"`
}

type bulkAnswer struct {
	Job    bulkJob `json:"job"`
	Report struct {
		Columns      []string      `json:"columns"`
		Preview      []bulkRow     `json:"preview"`
		Rows         int           `json:"rows"`
		Valid        int           `json:"valid"`
		Problems     []bulkProblem `json:"problems"`
		ProblemCount int           `json:"problem_count"`
		Refused      bool          `json:"refused"`
	} `json:"report"`
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field, Message string
		} `json:"details"`
	} `json:"error"`
}

// bulkForm is a multipart upload of a file in the field "file", as the
// console's form sends it.
func bulkForm(t testing.TB, name, content string) (string, *bytes.Buffer) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("note", "from the test")
	pw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write([]byte(content))
	mw.Close()
	return mw.FormDataContentType(), &body
}

// bulkUpload uploads a file with an API key ("" for none) and decodes the answer.
func bulkUpload(e *eventsEnv, key, eventID, name, content string) (*apitest.Response, bulkAnswer) {
	e.T.Helper()
	ct, body := bulkForm(e.T, name, content)
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/events/"+eventID+"/bulk-invites", body)
	req.Header.Set("Content-Type", ct)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	r := e.Send(http.DefaultClient, req)
	var a bulkAnswer
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		r.JSON(e.T, &a)
	}
	return r, a
}

func bulkRaw(e *eventsEnv, eventID, contentType, content string) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/events/"+eventID+"/bulk-invites", strings.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+e.APIKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.Send(http.DefaultClient, req)
}

func getJob(e *eventsEnv, id string) bulkJob {
	e.T.Helper()
	var j bulkJob
	e.Must(e.Do("GET", "/api/v1/jobs/"+id, e.APIKey, nil), http.StatusOK).JSON(e.T, &j)
	return j
}

// readCSV parses a CSV answer, checking it is RFC 4180 as sent: CRLF line ends.
func readCSV(t *testing.T, r *apitest.Response) [][]string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("Content-Type %q, want text/csv; charset=utf-8", ct)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment; filename=") {
		t.Fatalf("Content-Disposition %q, want an attachment", r.Header.Get("Content-Disposition"))
	}
	if bytes.Count(r.Body, []byte("\n")) != bytes.Count(r.Body, []byte("\r\n")) {
		t.Fatalf("not every line ends with CRLF: %q", r.Body)
	}
	recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v: %s", err, r.Body)
	}
	return recs
}

func TestBulkTemplateDownloadsAndImportsCleanly(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	ev := e.event(nil)["id"].(string)
	r := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/bulk-invites/template.csv", e.APIKey, nil), http.StatusOK)
	if got := r.Header.Get("Content-Disposition"); got != `attachment; filename=bulk-invite-template.csv` {
		t.Fatalf("Content-Disposition = %q", got)
	}
	recs := readCSV(t, r)
	if got := strings.Join(recs[0], ","); got != "Email,First Name,Last Name,Title,Company,Speaker,Moderator" {
		t.Fatalf("template header = %q", got)
	}
	if len(recs) < 3 {
		t.Fatalf("the template has %d example rows, want at least 2", len(recs)-1)
	}
	// The template as downloaded is a file the check accepts as it is.
	up, a := bulkUpload(e, e.APIKey, ev, "bulk-invite-template.csv", string(r.Body))
	e.Must(up, http.StatusCreated)
	if a.Report.Rows != len(recs)-1 || a.Report.Valid != a.Report.Rows || a.Report.ProblemCount != 0 || a.Job.Status != "ready" {
		t.Fatalf("template's check: %+v", a)
	}
}

func TestBulkUploadShowsEveryProblem(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	evm := e.event(nil)
	ev := evm["id"].(string)
	file := bulkHeader +
		"ann@example.org,Ann,Lee,,,No,No\r\n" +
		"bob@gmial.com,Bob,Ray,,,,\r\n" +
		",Cy,Fox,,,,\r\n" +
		"ANN@example.org,Ann,Again,,,,\r\n" +
		"dee@example.org,,Dee,,,,\r\n" +
		"eve@example.org,Eve,Ivy,,,Maybe,\r\n" +
		"sam@example.org,Sam,Speaker,CTO,\"Acme, Inc.\",Yes,No\r\n"
	r, a := bulkUpload(e, e.APIKey, ev, "people.csv", file)
	e.Must(r, http.StatusCreated)
	if a.Job.ID == "" || a.Job.Status != "ready" || a.Job.Total != 7 || a.Job.Kind != "bulk_invite" || a.Job.EventID != ev ||
		a.Job.EventName != evm["name"] || a.Job.ErrorReport != "/api/v1/jobs/"+a.Job.ID+"/errors.csv" {
		t.Fatalf("job = %+v", a.Job)
	}
	if a.Report.Rows != 7 || a.Report.Valid != 2 || a.Report.ProblemCount != 5 || a.Report.Refused {
		t.Fatalf("report counts = rows %d valid %d problems %d refused %v", a.Report.Rows, a.Report.Valid, a.Report.ProblemCount, a.Report.Refused)
	}
	wantPreview := []bulkRow{
		{Line: 2, Email: "ann@example.org", FirstName: "Ann", LastName: "Lee", Speaker: "No", Moderator: "No"},
		{Line: 3, Email: "bob@gmial.com", FirstName: "Bob", LastName: "Ray"},
	}
	if fmt.Sprint(a.Report.Preview) != fmt.Sprint(wantPreview) {
		t.Fatalf("preview = %+v, want %+v", a.Report.Preview, wantPreview)
	}
	want := []bulkProblem{
		{3, "Email", `email "bob@gmial.com": the domain gmial.com looks like a typo of gmail.com`, "bob@gmail.com"},
		{4, "Email", "Email is required", ""},
		{5, "Email", `email "ann@example.org" is already on line 2`, ""},
		{6, "First Name", "First Name is required", ""},
		{7, "Speaker", `Speaker must be Yes or No (or empty); found "Maybe"`, ""},
	}
	if fmt.Sprint(a.Report.Problems) != fmt.Sprint(want) {
		t.Fatalf("problems:\n%+v\nwant:\n%+v", a.Report.Problems, want)
	}
	// The error report has the same problems, with the row's email.
	recs := readCSV(t, e.Must(e.Do("GET", a.Job.ErrorReport, e.APIKey, nil), http.StatusOK))
	wantCSV := [][]string{
		{"Line", "Column", "Email", "Problem", "Suggested Fix"},
		{"3", "Email", "bob@gmial.com", want[0].Message, "bob@gmail.com"},
		{"4", "Email", "", "Email is required", ""},
		{"5", "Email", "ann@example.org", want[2].Message, ""},
		{"6", "First Name", "dee@example.org", "First Name is required", ""},
		{"7", "Speaker", "eve@example.org", want[4].Message, ""},
	}
	if fmt.Sprint(recs) != fmt.Sprint(wantCSV) {
		t.Fatalf("error report:\n%q\nwant:\n%q", recs, wantCSV)
	}
	// Nobody is added by an upload.
	if l := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees", e.APIKey, nil), http.StatusOK).Map(t); l["total"] != float64(0) {
		t.Fatalf("an upload added people: %v", l)
	}
	// A raw text/csv body works as the form does.
	raw := e.Must(bulkRaw(e, ev, "text/csv; charset=utf-8", bulkHeader+"zed@example.org,Zed,Zee,,,,\r\n"), http.StatusCreated)
	var ra bulkAnswer
	raw.JSON(t, &ra)
	if ra.Report.Rows != 1 || ra.Report.Valid != 1 || ra.Job.Status != "ready" {
		t.Fatalf("raw upload: %s", raw.Body)
	}
}

// TestBulkUploadRefusesUnreadableFiles: a file that cannot be imported at
// all is refused with 400 naming what was found, with the job and report.
func TestBulkUploadRefusesUnreadableFiles(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	ev := e.event(nil)["id"].(string)
	cases := []struct {
		name, file string
		want       []string
	}{
		{"semicolons", "Email;First Name;Last Name\r\nann@example.org;Ann;Lee\r\n",
			[]string{`line 1: the columns are separated by ";" (semicolon, as spreadsheets set to many European languages save CSV), not by commas: found "Email;First Name;Last Name"; save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`}},
		{"not UTF-8", bulkHeader + "ann@example.org,Ann,Lee,,,,\r\njose@example.org,Jos\xe9,Garc\xeda,,,,\r\n",
			[]string{`line 3, First Name: the file is not UTF-8 text: byte 0xE9 after "Jos" is not UTF-8 (the file may be Windows-1252 or Latin-1); save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"`}},
		{"wrong header", "Address,First Name,Last Name\r\nann@example.org,Ann,Lee\r\n",
			[]string{
				`line 1, Address: unknown column "Address" (column 1); the columns are Email, First Name, Last Name, Title, Company, Speaker, Moderator`,
				`line 1, Email: the header has no Email column; found "Address,First Name,Last Name"; the first line must name the columns: Email,First Name,Last Name,Title,Company,Speaker,Moderator`,
			}},
		{"header only", bulkHeader, []string{"the file has a header but no rows: add one line per person under the header"}},
		{"empty", "", []string{"the file is empty: it needs a header line (Email,First Name,Last Name,Title,Company,Speaker,Moderator) and one line per person"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, a := bulkUpload(e, e.APIKey, ev, tc.name+".csv", tc.file)
			if r.Status != http.StatusBadRequest || a.Error.Code != "file_refused" {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			var got []string
			for _, d := range a.Error.Details {
				got = append(got, d.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !strings.HasPrefix(a.Error.Message, "the file cannot be imported: "+tc.want[0]) {
				t.Fatalf("message = %q", a.Error.Message)
			}
			if !a.Report.Refused || a.Job.Status != "refused" || !a.Job.Finished {
				t.Fatalf("refused file's job %+v report refused %v", a.Job, a.Report.Refused)
			}
			if j := getJob(e, a.Job.ID); j.Status != "refused" {
				t.Fatalf("job after refusal = %+v", j)
			}
			r = e.Do("POST", "/api/v1/events/"+ev+"/bulk-invites/"+a.Job.ID+"/confirm", e.APIKey, map[string]any{"send_email": false})
			if r.Status != http.StatusConflict || r.ErrorCode() != "job_not_ready" {
				t.Fatalf("confirming a refused file: %d %s", r.Status, r.Body)
			}
			// A refused file can be discarded (Upload another file).
			e.Must(e.Do("DELETE", "/api/v1/events/"+ev+"/bulk-invites/"+a.Job.ID, e.APIKey, nil), http.StatusNoContent)
			if j := getJob(e, a.Job.ID); j.Status != "discarded" || !j.Finished {
				t.Fatalf("refused file after its discard = %+v", j)
			}
		})
	}

	// Requests that carry no CSV file at all.
	xlsx := "PK\x03\x04\x14\x00\x06\x00" + strings.Repeat("\x00", 40)
	for _, tc := range []struct {
		name, ct, body, want string
	}{
		{"no content type", "", bulkHeader, "send the CSV file as the multipart/form-data field"},
		{"JSON body", "application/json", `{"file":"x"}`, "content type application/json is not CSV"},
		{"Latin-1 declared", "text/csv; charset=iso-8859-1", bulkHeader, "the body is declared as iso-8859-1; the file must be UTF-8"},
		{"Excel workbook", "text/csv", xlsx, "this is a spreadsheet workbook (Excel or OpenDocument), not a CSV file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bulkRaw(e, ev, tc.ct, tc.body)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.want) || !strings.Contains(string(r.Body), `"field":"file"`) {
				t.Fatalf("%d %s, want 400 saying %q", r.Status, r.Body, tc.want)
			}
		})
	}
	t.Run("form without the file field", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("other", "x")
		mw.Close()
		r := bulkRaw(e, ev, mw.FormDataContentType(), body.String())
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `the form has no \"file\" field`) {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("larger than the limit", func(t *testing.T) {
		// The declared length is refused before the body is read.
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/events/%s/bulk-invites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s",
			ev, e.APIKey, bulk.MaxBytes+(2<<20), bulkHeader)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(b.String(), `"code":"file_too_large"`) ||
			!strings.Contains(b.String(), "the file is larger than 256 MB; split it into several files") {
			t.Fatalf("%d %s", resp.StatusCode, b.String())
		}
	})
	// The refused uploads added nobody.
	if l := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees", e.APIKey, nil), http.StatusOK).Map(t); l["total"] != float64(0) {
		t.Fatalf("refused uploads added people: %v", l)
	}
}

// TestBulkInviteRunsAsAJob: confirm, follow the job to its end, then the
// counts, the people on the list, their invitation emails and the error
// report.
func TestBulkInviteRunsAsAJob(t *testing.T) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) { testBulkInviteRunsAsAJob(t, dialect) })
	}
}

func testBulkInviteRunsAsAJob(t *testing.T, dialect string) {
	e := newEventsEnv(t, apitest.Options{HoldJobs: true, Dialect: dialect}, true)
	ev := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
	// Two people are on the event already: one gets roles from the file,
	// the other is listed as they are.
	old := e.invite(ev, "old@example.org")["id"].(string)
	same := e.invite(ev, "same@example.org")["id"].(string)
	file := bulkHeader +
		"new.one@example.org,New,One,,,,\r\n" +
		"old@example.org,Renamed,Person,Chair,Example Org,Yes,No\r\n" +
		"new.two@example.org,New,Two,Keynote,Acme,No,Yes\r\n" +
		"not-an-email,Bad,Row,,,,\r\n" +
		"same@example.org,Pat,Person,,,,\r\n"
	r, a := bulkUpload(e, e.APIKey, ev, "people.csv", file)
	e.Must(r, http.StatusCreated)
	if a.Report.Rows != 5 || a.Report.Valid != 4 {
		t.Fatalf("report: %+v", a.Report)
	}
	confirm := "/api/v1/events/" + ev + "/bulk-invites/" + a.Job.ID + "/confirm"
	var j bulkJob
	e.Must(e.Do("POST", confirm, e.APIKey, map[string]any{"send_email": true}), http.StatusAccepted).JSON(t, &j)
	if j.Status != "queued" || j.Total != 5 || j.Processed != 0 || j.Finished {
		t.Fatalf("confirmed job = %+v", j)
	}
	// While it waits for the runner, the API shows it as running work of
	// the account, at 0 of 5.
	if j = getJob(e, a.Job.ID); j.Status != "queued" || j.Progress != 0 || j.Processed != 0 {
		t.Fatalf("queued job = %+v", j)
	}
	var active struct{ Items []bulkJob }
	e.Must(e.Do("GET", "/api/v1/jobs?status=queued&status=running", e.APIKey, nil), http.StatusOK).JSON(t, &active)
	if len(active.Items) != 1 || active.Items[0].ID != a.Job.ID {
		t.Fatalf("active jobs = %+v", active.Items)
	}
	// Confirming twice or discarding now is refused.
	if r := e.Do("POST", confirm, e.APIKey, map[string]any{"send_email": true}); r.Status != http.StatusConflict || r.ErrorCode() != "job_not_ready" {
		t.Fatalf("second confirm: %d %s", r.Status, r.Body)
	}
	if r := e.Do("DELETE", "/api/v1/events/"+ev+"/bulk-invites/"+a.Job.ID, e.APIKey, nil); r.Status != http.StatusConflict {
		t.Fatalf("discard after confirm: %d %s", r.Status, r.Body)
	}

	if n := e.RunJobs(); n != 1 {
		t.Fatalf("ran %d jobs, want 1", n)
	}
	j = getJob(e, a.Job.ID)
	if j.Status != "done" || !j.Finished || j.Processed != 5 || j.Total != 5 || j.Progress != 1 || j.FinishedAt == nil || j.Error != "" {
		t.Fatalf("finished job = %+v", j)
	}
	if c := j.Counts; c.Added != 2 || c.Updated != 1 || c.Unchanged != 1 || c.Refused != 1 {
		t.Fatalf("counts = %+v, want 2 added, 1 updated, 1 unchanged, 1 refused", c)
	}
	e.Must(e.Do("GET", "/api/v1/jobs?status=queued&status=running", e.APIKey, nil), http.StatusOK).JSON(t, &active)
	if len(active.Items) != 0 {
		t.Fatalf("active jobs after the end = %+v", active.Items)
	}

	// The list: the two new people, invited with an email each; the one
	// already there updated (names kept), not duplicated; the other as it was.
	var list struct {
		Total int64 `json:"total"`
		Items []struct {
			ID        string         `json:"id"`
			Email     string         `json:"email"`
			FirstName string         `json:"first_name"`
			Speaker   bool           `json:"speaker"`
			Moderator bool           `json:"moderator"`
			Title     string         `json:"title"`
			Company   string         `json:"company"`
			Status    string         `json:"status"`
			LastEmail map[string]any `json:"last_email"`
		} `json:"items"`
	}
	e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees?sort=name&per_page=100", e.APIKey, nil), http.StatusOK).JSON(t, &list)
	if list.Total != 4 {
		t.Fatalf("attendees after the import: %d, want 4: %+v", list.Total, list.Items)
	}
	for _, it := range list.Items {
		switch it.Email {
		case "new.one@example.org", "new.two@example.org":
			if it.Status != "invited" || it.LastEmail == nil {
				t.Errorf("%s: status %s, last email %v; want invited with the invitation email queued", it.Email, it.Status, it.LastEmail)
			}
			if it.Email == "new.two@example.org" && (!it.Moderator || it.Speaker || it.Title != "Keynote" || it.Company != "Acme") {
				t.Errorf("new.two = %+v", it)
			}
		case "old@example.org":
			if it.ID != old || !it.Speaker || it.Moderator || it.Title != "Chair" || it.Company != "Example Org" || it.FirstName != "Pat" || it.LastEmail != nil {
				t.Errorf("updated attendee = %+v (want the same row, speaker, its names kept, no email)", it)
			}
		case "same@example.org":
			if it.ID != same || it.Speaker || it.LastEmail != nil {
				t.Errorf("unchanged attendee = %+v", it)
			}
		default:
			t.Errorf("unexpected attendee %s", it.Email)
		}
	}
	recs := readCSV(t, e.Must(e.Do("GET", j.ErrorReport, e.APIKey, nil), http.StatusOK))
	if len(recs) != 2 || strings.Join(recs[1], "|") != `5|Email||email "not-an-email" has no @|` {
		t.Fatalf("error report = %q", recs)
	}
	// Upload, confirmation and end are in the audit log.
	var audit struct {
		Entries []struct {
			Action   string `json:"action"`
			TargetID string `json:"target_id"`
		} `json:"entries"`
	}
	e.Must(e.Do("GET", "/api/v1/audit", e.APIKey, nil), http.StatusOK).JSON(t, &audit)
	seen := map[string]bool{}
	for _, en := range audit.Entries {
		if en.TargetID == a.Job.ID {
			seen[en.Action] = true
		}
	}
	for _, act := range []string{"bulk_invite.uploaded", "bulk_invite.confirmed", "bulk_invite.finished"} {
		if !seen[act] {
			t.Errorf("no audit entry %s for the job (have %v)", act, seen)
		}
	}
}

// TestBulkInviteInTheBackground: with the runner the gateway starts, a
// confirmed file is imported without anyone waiting on it; polling the job
// sees its progress only grow, up to the end.
func TestBulkInviteInTheBackground(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	ev := e.event(nil)["id"].(string)
	var b strings.Builder
	b.WriteString(bulkHeader)
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&b, "p%04d@example.org,Person,N%04d,,,,\r\n", i, i)
	}
	r, a := bulkUpload(e, e.APIKey, ev, "many.csv", b.String())
	e.Must(r, http.StatusCreated)
	e.Must(e.Do("POST", "/api/v1/events/"+ev+"/bulk-invites/"+a.Job.ID+"/confirm", e.APIKey, map[string]any{"send_email": false}), http.StatusAccepted)
	last := -1
	deadline := time.Now().Add(60 * time.Second)
	var j bulkJob
	for {
		j = getJob(e, a.Job.ID)
		if j.Processed < last || j.Processed > j.Total {
			t.Fatalf("progress went from %d to %d of %d", last, j.Processed, j.Total)
		}
		last = j.Processed
		if j.Finished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not end within a minute: %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if j.Status != "done" || j.Processed != 2500 || j.Counts.Added != 2500 || j.Progress != 1 {
		t.Fatalf("job = %+v", j)
	}
	if l := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees?per_page=1", e.APIKey, nil), http.StatusOK).Map(t); l["total"] != float64(2500) {
		t.Fatalf("attendees = %v", l["total"])
	}
}

func TestBulkDiscardAndConfirmErrors(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{HoldJobs: true}, false)
	ev := e.event(nil)["id"].(string)
	_, a := bulkUpload(e, e.APIKey, ev, "p.csv", bulkHeader+"ann@example.org,Ann,Lee,,,,\r\n")
	base := "/api/v1/events/" + ev + "/bulk-invites/" + a.Job.ID
	for _, tc := range []struct {
		name string
		body any
		code string
		want string
	}{
		{"no send_email", map[string]any{}, "invalid", "send_email is required"},
		{"send_email not a boolean", map[string]any{"send_email": "yes"}, "invalid", "send_email must be a bool"},
		{"unknown field", map[string]any{"send_email": true, "notify": true}, "invalid", `unknown field \"notify\"`},
		{"no body", nil, "bad_json", "request body is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Do("POST", base+"/confirm", e.APIKey, tc.body)
			if r.Status != http.StatusBadRequest || r.ErrorCode() != tc.code || !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("%d %s, want 400 %s saying %q", r.Status, r.Body, tc.code, tc.want)
			}
		})
	}
	// This gateway has no email: "Invite" is refused with the reason, and
	// the file stays waiting for "Invite without sending email".
	r := e.Do("POST", base+"/confirm", e.APIKey, map[string]any{"send_email": true})
	if r.Status != http.StatusConflict || r.ErrorCode() != "email_unavailable" {
		t.Fatalf("Invite without email configured: %d %s", r.Status, r.Body)
	}
	if j := getJob(e, a.Job.ID); j.Status != "ready" {
		t.Fatalf("job after a refused Invite = %+v", j)
	}
	// Discarded: gone for good, nobody added.
	e.Must(e.Do("DELETE", base, e.APIKey, nil), http.StatusNoContent)
	if j := getJob(e, a.Job.ID); j.Status != "discarded" || !j.Finished {
		t.Fatalf("discarded job = %+v", j)
	}
	if r := e.Do("POST", base+"/confirm", e.APIKey, map[string]any{"send_email": false}); r.Status != http.StatusConflict || r.ErrorCode() != "job_not_ready" {
		t.Fatalf("confirm after discard: %d %s", r.Status, r.Body)
	}
	if r := e.Do("DELETE", base, e.APIKey, nil); r.Status != http.StatusConflict {
		t.Fatalf("second discard: %d %s", r.Status, r.Body)
	}
	e.RunJobs()
	if l := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees", e.APIKey, nil), http.StatusOK).Map(t); l["total"] != float64(0) {
		t.Fatalf("a discarded file added people: %v", l)
	}
	// Unknown jobs and wrong job list parameters are named.
	if r := e.Do("GET", "/api/v1/jobs/not-a-job", e.APIKey, nil); r.Status != http.StatusNotFound {
		t.Fatalf("unknown job: %d", r.Status)
	}
	r = e.Do("GET", "/api/v1/jobs?status=finished&limit=0&sort=x", e.APIKey, nil)
	for _, want := range []string{`unknown status \"finished\"`, `limit \"0\" must be a whole number from 1 to 100`, `unknown query parameter \"sort\"`} {
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), want) {
			t.Fatalf("job list errors: %d %s, want %q", r.Status, r.Body, want)
		}
	}
}

func TestBulkExportIsFormulaSafeCSV(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{}, false)
	evm := e.event(map[string]any{"slug": "export-day"})
	ev := evm["id"].(string)
	e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey, map[string]any{"email": "mal@example.org",
		"first_name": `=HYPERLINK("http://evil.test","click")`, "last_name": "+1", "speaker": true, "company": `Quote "Co", Ltd`}), http.StatusCreated)
	e.Must(e.Do("POST", "/api/v1/events/"+ev+"/attendees", e.APIKey, map[string]any{"email": "ann@example.org",
		"first_name": "Ann", "last_name": "Lee"}), http.StatusCreated)
	r := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees.csv", e.APIKey, nil), http.StatusOK)
	if got := r.Header.Get("Content-Disposition"); got != "attachment; filename=export-day-all-users.csv" {
		t.Fatalf("Content-Disposition = %q", got)
	}
	recs := readCSV(t, r)
	if strings.Join(recs[0], ",") != strings.Join(bulk.ExportColumns, ",") || len(recs) != 3 {
		t.Fatalf("export = %q", recs)
	}
	mal := recs[1]
	if mal[0] != "mal@example.org" || mal[1] != `'=HYPERLINK("http://evil.test","click")` || mal[2] != "'+1" ||
		mal[4] != `Quote "Co", Ltd` || mal[5] != "Yes" || mal[6] != "No" || mal[8] != "Invited" {
		t.Fatalf("exported row = %q", mal)
	}
	// Quoting as RFC 4180 has it, on the wire.
	if !bytes.Contains(r.Body, []byte(`"'=HYPERLINK(""http://evil.test"",""click"")"`)) || !bytes.Contains(r.Body, []byte(`"Quote ""Co"", Ltd"`)) {
		t.Fatalf("quoting on the wire: %s", r.Body)
	}
	if recs[2][0] != "ann@example.org" || recs[2][1] != "Ann" {
		t.Fatalf("second row = %q", recs[2])
	}
	// Filters are refused, not ignored.
	if r := e.Do("GET", "/api/v1/events/"+ev+"/attendees.csv?role=speaker", e.APIKey, nil); r.Status != http.StatusBadRequest ||
		!strings.Contains(string(r.Body), "takes no query parameters") {
		t.Fatalf("export with a filter: %d %s", r.Status, r.Body)
	}
}

// TestBulkEndpointsRefuseOtherAccounts: another account's key gets 404 for
// every bulk endpoint, and a job is reached only through its own event.
func TestBulkEndpointsRefuseOtherAccounts(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{HoldJobs: true}, false)
	ev := e.event(nil)["id"].(string)
	ev2 := e.event(nil)["id"].(string)
	_, a := bulkUpload(e, e.APIKey, ev, "p.csv", bulkHeader+"ann@example.org,Ann,Lee,,,,\r\n")
	job := a.Job.ID
	_, otherKey := e.SecondAccount()
	p := "/api/v1/events/" + ev
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", p + "/bulk-invites/template.csv", nil},
		{"POST", p + "/bulk-invites/" + job + "/confirm", map[string]any{"send_email": false}},
		{"DELETE", p + "/bulk-invites/" + job, nil},
		{"GET", p + "/attendees.csv", nil},
		{"GET", "/api/v1/jobs/" + job, nil},
		{"GET", "/api/v1/jobs/" + job + "/errors.csv", nil},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if r := e.Do(tc.method, tc.path, otherKey, tc.body); r.Status != http.StatusNotFound {
				t.Fatalf("other account: %d %s, want 404", r.Status, r.Body)
			}
			if r := e.Do(tc.method, tc.path, "", tc.body); r.Status != http.StatusUnauthorized {
				t.Fatalf("no credentials: %d, want 401", r.Status)
			}
		})
	}
	if r, _ := bulkUpload(e, otherKey, ev, "p.csv", bulkHeader+"x@example.org,X,Y,,,,\r\n"); r.Status != http.StatusNotFound {
		t.Fatalf("other account's upload: %d %s", r.Status, r.Body)
	}
	var list struct{ Items []bulkJob }
	e.Must(e.Do("GET", "/api/v1/jobs", otherKey, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("other account lists this account's jobs: %+v", list.Items)
	}
	// The job of one event cannot be confirmed through another event.
	if r := e.Do("POST", "/api/v1/events/"+ev2+"/bulk-invites/"+job+"/confirm", e.APIKey, map[string]any{"send_email": false}); r.Status != http.StatusNotFound {
		t.Fatalf("job through another event: %d %s", r.Status, r.Body)
	}
	if j := getJob(e, job); j.Status != "ready" {
		t.Fatalf("the job changed: %+v", j)
	}
}

// TestBulkInviteByMember: a console member organizes events as an admin
// does (the events API's rule), so a member's session uploads, confirms
// and follows a bulk invite; the job names them as its creator.
func TestBulkInviteByMember(t *testing.T) {
	e := newEventsEnv(t, apitest.Options{HoldJobs: true}, false)
	ev := e.event(nil)["id"].(string)
	member, mc := e.ConsoleUser("member@org.test", "member")
	_, admin := e.ConsoleUser("second.admin@org.test", "admin")
	ct, body := bulkForm(t, "m.csv", bulkHeader+"ann@example.org,Ann,Lee,,,,\r\n")
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/events/"+ev+"/bulk-invites", body)
	req.Header.Set("Content-Type", ct)
	var a bulkAnswer
	e.Must(e.Send(mc, req), http.StatusCreated).JSON(t, &a)
	if a.Job.CreatedBy != member.ID {
		t.Fatalf("job created by %q, want the member %q", a.Job.CreatedBy, member.ID)
	}
	req, _ = http.NewRequest("POST", e.URL+"/api/v1/events/"+ev+"/bulk-invites/"+a.Job.ID+"/confirm", strings.NewReader(`{"send_email":false}`))
	req.Header.Set("Content-Type", "application/json")
	e.Must(e.Send(mc, req), http.StatusAccepted)
	e.RunJobs()
	// The admin (another console user of the account) sees the member's job.
	var j bulkJob
	e.Must(e.Get(admin, "/api/v1/jobs/"+a.Job.ID), http.StatusOK).JSON(t, &j)
	if j.Status != "done" || j.Counts.Added != 1 {
		t.Fatalf("member's job seen by the admin = %+v", j)
	}
	// Both see the console page of the job; a job of another event is 404.
	for _, c := range []*http.Client{mc, admin} {
		r := e.Must(e.Get(c, "/console/events/"+ev+"/bulk?job="+a.Job.ID), http.StatusOK)
		for _, want := range []string{`id="bulk-template"`, `data-job="` + a.Job.ID + `"`, `id="bulk-recent"`} {
			if !strings.Contains(string(r.Body), want) {
				t.Fatalf("bulk page lacks %s", want)
			}
		}
	}
	ev2 := e.event(nil)["id"].(string)
	if r := e.Get(mc, "/console/events/"+ev2+"/bulk?job="+a.Job.ID); r.Status != http.StatusNotFound {
		t.Fatalf("job through another event's page: %d", r.Status)
	}
	page := e.Must(e.Get(mc, "/console/events/"+ev), http.StatusOK)
	for _, want := range []string{`href="/console/events/` + ev + `/bulk" id="bulk-invite-link"`, `href="/api/v1/events/` + ev + `/attendees.csv" id="export-csv"`, `id="job-banner"`} {
		if !strings.Contains(string(page.Body), want) {
			t.Fatalf("All users page lacks %s", want)
		}
	}
}
