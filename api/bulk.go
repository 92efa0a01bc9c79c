package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/problem"
)

// bulkRoutes serves bulk invites by CSV file, the jobs that import them and
// the All users export. Like the events API, every console user of the
// account organizes its events (API keys act as its admin); events and jobs
// of other accounts are "not found".
func (s *Server) bulkRoutes(v1 *gin.RouterGroup) {
	v1.GET("/events/:id/bulk-invites/template.csv", s.bulkTemplate)
	v1.POST("/events/:id/bulk-invites", s.bulkUpload)
	v1.POST("/events/:id/bulk-invites/:job/confirm", s.bulkConfirm)
	v1.DELETE("/events/:id/bulk-invites/:job", s.bulkDiscard)
	v1.GET("/events/:id/attendees.csv", s.exportAttendees)
	v1.GET("/jobs", s.listJobs)
	v1.GET("/jobs/:id", s.getJob)
	v1.GET("/jobs/:id/errors.csv", s.jobErrors)
}

// bulkUploadSlack is what a multipart upload may carry beyond the file
// itself (boundaries, part headers, a small field or two).
const bulkUploadSlack = 1 << 20

// bulkTransferTime bounds reading an upload and writing an export: a large
// file over a slow link takes longer than the server's usual deadlines.
const bulkTransferTime = 30 * time.Minute

var (
	errBulkTooLarge = problem.New(problem.Invalid, "file_too_large",
		fmt.Sprintf("the file is larger than %d MB; split it into several files", bulk.MaxBytes>>20))
	errBulkNoFile  = problem.Field("file", `send the CSV file as the multipart/form-data field "file", or as the request body with Content-Type text/csv`)
	errSpreadsheet = problem.Field("file", `this is a spreadsheet workbook (Excel or OpenDocument), not a CSV file; save it from the spreadsheet as "CSV UTF-8 (Comma delimited)" and upload that`)
)

// csvTypes are the content types a raw CSV body may be sent with; browsers
// on Windows label .csv files application/vnd.ms-excel.
var csvTypes = map[string]bool{"text/csv": true, "application/csv": true, "text/plain": true, "application/vnd.ms-excel": true}

// jobView is a job as the API shows it: the row, its progress, and for a
// bulk invite its event, its counts and where its error report is.
type jobView struct {
	*job.Job
	Progress float64 `json:"progress"`
	Finished bool    `json:"finished"`
	// Counts replaces the row's raw counts: a bulk invite always has the
	// four, zero until rows are imported.
	Counts      any    `json:"counts"`
	EventID     string `json:"event_id,omitempty"`
	EventName   string `json:"event_name,omitempty"`
	ErrorReport string `json:"error_report,omitempty"`
	// Console is the console page that follows the job.
	Console string `json:"console,omitempty"`
}

// viewJob decorates a job; evName is the event's name when the caller has
// it already ("" looks it up).
func (s *Server) viewJob(c *gin.Context, j *job.Job, evName string) (*jobView, error) {
	v := &jobView{Job: j, Progress: j.Progress(), Finished: j.Finished(), Counts: j.Counts}
	if j.Kind != bulk.Kind {
		return v, nil
	}
	var counts bulk.Counts
	if j.Counts != "" {
		if err := json.Unmarshal([]byte(j.Counts), &counts); err != nil {
			return nil, fmt.Errorf("job %s counts: %w", j.ID, err)
		}
	}
	v.Counts = counts
	v.EventID = j.SubjectID
	v.ErrorReport = "/api/v1/jobs/" + j.ID + "/errors.csv"
	v.Console = "/console/events/" + j.SubjectID + "/bulk?job=" + j.ID
	if evName == "" {
		ev, err := event.GetEvent(c.Request.Context(), s.cfg.DB, j.AccountID, j.SubjectID)
		if err != nil && problem.KindOf(err) != problem.NotFound {
			return nil, err
		}
		if ev != nil {
			evName = ev.Name
		}
	}
	v.EventName = evName
	return v, nil
}

// csvDownload starts a CSV attachment answer.
func csvDownload(c *gin.Context, name string) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
}

func (s *Server) bulkTemplate(c *gin.Context) {
	if _, err := event.GetEvent(c.Request.Context(), s.cfg.DB, who(c).AccountID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	var b bytes.Buffer
	if err := bulk.WriteTemplate(&b); err != nil {
		s.fail(c, err)
		return
	}
	csvDownload(c, "bulk-invite-template.csv")
	c.Writer.Write(b.Bytes())
}

// uploadBody is the file being uploaded, counted as it is read, with the
// first read failure kept: a body cut off or over the limit is the
// client's doing and answered as such, unlike a database failure.
type uploadBody struct {
	r   io.Reader
	n   int64
	err error
}

func (u *uploadBody) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && u.err == nil {
		u.err = err
	}
	return n, err
}

// clientError says what went wrong with reading an upload.
func (u *uploadBody) clientError() error {
	var mbe *http.MaxBytesError
	if errors.As(u.err, &mbe) || u.n > bulk.MaxBytes {
		return errBulkTooLarge
	}
	return problem.Field("file", "the upload was cut off or malformed: "+u.err.Error())
}

// csvUpload finds the file in the request: the multipart field "file" (a
// form's file input) or the raw body sent as CSV. Nothing is read beyond
// the part headers: the file streams on to the check.
func csvUpload(c *gin.Context) (string, io.Reader, error) {
	ct := c.GetHeader("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return "", nil, errBulkNoFile
	}
	if mt == "multipart/form-data" {
		mr, err := c.Request.MultipartReader()
		if err != nil {
			return "", nil, problem.Field("file", "the multipart body cannot be read: "+err.Error())
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return "", nil, problem.Field("file", `the form has no "file" field: send the CSV file in a field named "file"`)
			}
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return "", nil, errBulkTooLarge
				}
				return "", nil, problem.Field("file", "the multipart body cannot be read: "+err.Error())
			}
			if part.FormName() != "file" {
				part.Close()
				continue
			}
			if part.FileName() == "" && part.Header.Get("Content-Type") == "" {
				// A text field named "file": the form sent no file.
				return "", nil, problem.Field("file", `the "file" field holds no file: choose a CSV file`)
			}
			return part.FileName(), part, nil
		}
	}
	if !csvTypes[mt] {
		return "", nil, problem.Field("file", fmt.Sprintf("content type %s is not CSV: send the file as the multipart/form-data field \"file\", or as the body with Content-Type text/csv", mt))
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return "", nil, problem.Field("file", fmt.Sprintf("the body is declared as %s; the file must be UTF-8 (save it as \"CSV UTF-8 (Comma delimited)\")", cs))
	}
	name := ""
	if _, p, err := mime.ParseMediaType(c.GetHeader("Content-Disposition")); err == nil {
		name = p["filename"]
	}
	return name, c.Request.Body, nil
}

// refuseWorkbook looks at the first bytes of the file: an Excel or
// OpenDocument workbook (a zip, or an OLE compound file) is refused with
// what to do instead of a confusing "not UTF-8" about binary bytes.
func refuseWorkbook(br *bufio.Reader) error {
	head, _ := br.Peek(8)
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}) {
		return errSpreadsheet
	}
	return nil
}

// extendDeadlines gives a long transfer the time it needs; the server's
// usual deadlines suit ordinary requests.
func extendDeadlines(c *gin.Context) {
	rc := http.NewResponseController(c.Writer)
	at := time.Now().Add(bulkTransferTime)
	rc.SetReadDeadline(at)
	rc.SetWriteDeadline(at)
}

// bulkUpload checks an uploaded file and stages it for confirmation. The
// file streams from the request through the check into the database; it
// is never held whole in memory. A file that cannot be imported at all
// (not UTF-8, wrong delimiter or header...) is refused with 400, the
// report and the job still in the answer so a page shows the same view.
func (s *Server) bulkUpload(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if c.Request.ContentLength > bulk.MaxBytes+bulkUploadSlack {
		// Refused before a byte of the body is read.
		c.Header("Connection", "close")
		s.failStatus(c, http.StatusRequestEntityTooLarge, errBulkTooLarge)
		return
	}
	extendDeadlines(c)
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, bulk.MaxBytes+bulkUploadSlack)
	name, r, err := csvUpload(c)
	if err != nil {
		s.failUpload(c, err)
		return
	}
	body := &uploadBody{r: r}
	br := bufio.NewReaderSize(body, 4096)
	if err := refuseWorkbook(br); err != nil {
		s.fail(c, err)
		return
	}
	up, err := s.cfg.Bulk.Upload(ctx, p.eventCaller(), ev.ID, name, br)
	if err != nil {
		if body.err != nil {
			err = body.clientError()
		}
		s.failUpload(c, err)
		return
	}
	if body.n > bulk.MaxBytes {
		c.Header("Connection", "close")
		s.failStatus(c, http.StatusRequestEntityTooLarge, errBulkTooLarge)
		return
	}
	v, err := s.viewJob(c, up.Job, ev.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	if up.Report.Refused {
		var fs []problem.FieldError
		for _, pr := range up.Report.Problems {
			fs = append(fs, problem.FieldError{Field: "file", Message: pr.String()})
		}
		msg := "the file cannot be imported"
		if len(fs) > 0 {
			msg += ": " + fs[0].Message
			if len(fs) > 1 {
				msg += fmt.Sprintf(" (and %d more problems)", len(fs)-1)
			}
		}
		refused := &problem.Error{Kind: problem.Invalid, Code: "file_refused", Field: "file", Message: msg, Details: fs}
		c.JSON(statusOf(refused), gin.H{"error": describe(c, refused), "job": v, "report": up.Report})
		return
	}
	c.JSON(http.StatusCreated, gin.H{"job": v, "report": up.Report})
}

// failUpload answers an upload's failure; too large is 413.
func (s *Server) failUpload(c *gin.Context, err error) {
	if errors.Is(err, errBulkTooLarge) {
		c.Header("Connection", "close")
		s.failStatus(c, http.StatusRequestEntityTooLarge, err)
		return
	}
	s.fail(c, err)
}

// failStatus answers a refusal whose HTTP status is the transport's own
// (413: the body is over the limit), not one of core's kinds.
func (s *Server) failStatus(c *gin.Context, status int, err error) {
	c.AbortWithStatusJSON(status, gin.H{"error": describe(c, err)})
}

// eventBulkJob loads the bulk-invite job of the URL, which must belong to
// the URL's event in the caller's account.
func (s *Server) eventBulkJob(c *gin.Context) (*event.Event, *job.Job, error) {
	ctx := c.Request.Context()
	p := who(c)
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		return nil, nil, err
	}
	j, err := s.cfg.Bulk.Job(ctx, p.eventCaller(), c.Param("job"))
	if err != nil {
		return nil, nil, err
	}
	if j.SubjectID != ev.ID {
		return nil, nil, problem.ErrNotFound
	}
	return ev, j, nil
}

// bulkConfirm starts the import: "Invite" (send_email true) or "Invite
// without sending email" (false). The answer is 202: the job runs in the
// background; GET /jobs/{id} follows it.
func (s *Server) bulkConfirm(c *gin.Context) {
	ev, j, err := s.eventBulkJob(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var in struct {
		SendEmail *bool `json:"send_email"`
	}
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if in.SendEmail == nil {
		s.fail(c, problem.Field("send_email", `send_email is required: true for "Invite" (an invitation email to each new person), false for "Invite without sending email"`))
		return
	}
	j, err = s.cfg.Bulk.Confirm(c.Request.Context(), who(c).eventCaller(), j.ID, *in.SendEmail)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.viewJob(c, j, ev.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, v)
}

// bulkDiscard drops a checked file instead of importing it.
func (s *Server) bulkDiscard(c *gin.Context) {
	_, j, err := s.eventBulkJob(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.cfg.Bulk.Discard(c.Request.Context(), who(c).eventCaller(), j.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// exportAttendees writes the event's whole All users list as CSV, a page
// of rows at a time. It takes no filters: a query parameter is refused
// rather than ignored, so nobody mistakes the whole list for a filtered one.
func (s *Server) exportAttendees(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	for k := range c.Request.URL.Query() {
		s.fail(c, problem.Field(k, fmt.Sprintf("the export holds every attendee of the event and takes no query parameters (found %q)", k)))
		return
	}
	extendDeadlines(c)
	csvDownload(c, ev.Slug+"-all-users.csv")
	if err := bulk.Export(ctx, s.cfg.DB, p.eventCaller(), ev.ID, c.Writer); err != nil {
		// The header is out: the cut-off file is all the client gets; the
		// log says why.
		reqLog(c).Error("export cut off", "event", ev.ID, "error", err.Error())
	}
}

// listJobs lists the account's jobs, newest first: the console's banner
// asks for the running ones.
func (s *Server) listJobs(c *gin.Context) {
	q := c.Request.URL.Query()
	var fs problem.Fields
	f := job.Filter{}
	for k := range q {
		switch k {
		case "status", "event_id", "limit":
		default:
			fs.Add(k, fmt.Sprintf("unknown query parameter %q: use status, event_id or limit", k))
		}
	}
	for _, st := range q["status"] {
		switch st {
		case job.Checking, job.Ready, job.Refused, job.Queued, job.Running, job.Done, job.Failed, job.Discarded:
			f.Statuses = append(f.Statuses, st)
		default:
			fs.Add("status", fmt.Sprintf("unknown status %q: use checking, ready, refused, queued, running, done, failed or discarded", st))
		}
	}
	if e := q.Get("event_id"); e != "" {
		f.Kind, f.SubjectID = bulk.Kind, e
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			fs.Add("limit", fmt.Sprintf("limit %q must be a whole number from 1 to 100", l))
		}
		f.Limit = n
	}
	if err := fs.Err(); err != nil {
		s.fail(c, err)
		return
	}
	jobs, err := job.List(c.Request.Context(), s.cfg.DB, who(c).AccountID, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]*jobView, 0, len(jobs))
	names := map[string]string{}
	for i := range jobs {
		v, err := s.viewJob(c, &jobs[i], names[jobs[i].SubjectID])
		if err != nil {
			s.fail(c, err)
			return
		}
		names[jobs[i].SubjectID] = v.EventName
		items = append(items, v)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) getJob(c *gin.Context) {
	j, err := job.Get(c.Request.Context(), s.cfg.DB, who(c).AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.viewJob(c, j, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// jobErrors writes a bulk invite's error report: every problem of the file
// found when it was checked or refused while importing, in line order.
func (s *Server) jobErrors(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	j, err := s.cfg.Bulk.Job(ctx, p.eventCaller(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	csvDownload(c, "bulk-invite-errors-"+j.ID+".csv")
	if err := s.cfg.Bulk.WriteErrorReport(ctx, p.eventCaller(), j.ID, c.Writer); err != nil {
		reqLog(c).Error("error report cut off", "job", j.ID, "error", err.Error())
	}
}
