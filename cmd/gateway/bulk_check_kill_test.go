package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
)

// TestUploadKilledWhileChecking: `gateway serve` is killed with SIGKILL
// while it checks a large upload (45 MB, sent in parts). The restarted
// gateway ends the job once the dead one's hold on it has run out: failed,
// saying the upload was interrupted, finished, with nothing of it left in
// bulk_chunks, and it can be discarded. A second upload killed the same way
// is discarded at once after the restart, before anyone ended it.
func TestUploadKilledWhileChecking(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 during a 45 MB upload: not in -short")
	}
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { testUploadKilled(t, d) })
	}
}

func testUploadKilled(t *testing.T, dialect string) {
	dsn, db, ev, boot := bulkEvent(t, dialect)
	env := []string{"GATEWAY_DATABASE_DSN=" + dsn, "GATEWAY_ADMIN_EMAIL=owner@org.test"}
	api := func(g *started, method, path string, body io.Reader) (*http.Response, error) {
		req, _ := http.NewRequest(method, g.base+"/api/v1"+path, body)
		req.Header.Set("Authorization", "Bearer "+boot.APIKey)
		req.Header.Set("Content-Type", "text/csv")
		return http.DefaultClient.Do(req)
	}
	chunks := func(jobID string) int64 {
		var n int64
		if err := db.R.Model(&bulk.Chunk{}).Where("job_id = ?", jobID).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	// killDuringCheck uploads a file a part at a time and kills g once
	// 17 MB of it are staged; it returns the job.
	killDuringCheck := func(g *started) *job.Job {
		t.Helper()
		before := currentJob(t, db)
		r, w := io.Pipe()
		answered := make(chan error, 1)
		go func() {
			resp, err := api(g, "POST", "/events/"+ev.ID+"/bulk-invites", r)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				err = fmt.Errorf("the killed gateway answered %d %s", resp.StatusCode, b)
			}
			r.CloseWithError(err)
			answered <- err
		}()
		go func() {
			// 45 MB in all; the gateway is killed before the end.
			fmt.Fprint(w, "Email,First Name,Last Name,Title,Company,Speaker,Moderator\r\n")
			row := 0
			for sent := 0; sent < 45<<20; {
				var b strings.Builder
				for range 1000 {
					fmt.Fprintf(&b, "person%07d@example.org,First%d,Last%d,\"Lead,\r\nteam %d\",,Yes,No\r\n", row, row, row, row)
					row++
				}
				n, err := io.WriteString(w, b.String())
				if err != nil {
					return
				}
				sent += n
			}
			w.Close()
		}()
		var j *job.Job
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			j = currentJob(t, db)
			if j != nil && (before == nil || j.ID != before.ID) && (j.Status != job.Checking || chunks(j.ID) >= 17) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no upload with 17 MB staged within a minute: %+v", j)
			}
		}
		if j.Status != job.Checking {
			t.Fatalf("the upload ended before the kill: %+v", j)
		}
		g.cmd.Process.Kill() // SIGKILL
		g.cmd.Wait()
		w.CloseWithError(io.ErrClosedPipe)
		if err := <-answered; err == nil || strings.Contains(err.Error(), "answered") {
			t.Fatalf("the upload to the killed gateway: %v", err)
		}
		// What the dead gateway left: a job still checking, its file
		// staged.
		left := currentJob(t, db)
		if left.ID != j.ID || left.Status != job.Checking || left.Finished() || chunks(j.ID) < 17 {
			t.Fatalf("after the kill: %+v with %d chunks", left, chunks(j.ID))
		}
		t.Logf("killed while checking job %s with %d MB staged", j.ID, chunks(j.ID))
		return left
	}
	type jobView struct {
		Status   string
		Finished bool
		Error    string
	}
	getJob := func(g *started, id string) jobView {
		t.Helper()
		resp, err := api(g, "GET", "/jobs/"+id, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v jobView
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /jobs/%s: %d %v", id, resp.StatusCode, err)
		}
		return v
	}
	discard := func(g *started, id string) {
		t.Helper()
		resp, err := api(g, "DELETE", "/events/"+ev.ID+"/bulk-invites/"+id, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("discard %s: %d %s", id, resp.StatusCode, b)
		}
	}

	g := startGateway(t, env...)
	first := killDuringCheck(g)
	killedAt := time.Now()
	g = startGateway(t, env...)
	waitJob(t, db, func(j *job.Job) bool { return j.Finished() }, time.Minute, nil)
	if v := getJob(g, first.ID); v.Status != job.Failed || !v.Finished || v.Error != bulk.Interrupted {
		t.Fatalf("the interrupted upload after the restart: %+v", v)
	}
	t.Logf("ended %s after the kill", time.Since(killedAt).Round(time.Second))
	if n := chunks(first.ID); n != 0 {
		t.Fatalf("%d chunks of the interrupted upload left in bulk_chunks", n)
	}
	discard(g, first.ID)
	if v := getJob(g, first.ID); v.Status != job.Failed || v.Error != bulk.Interrupted {
		t.Fatalf("the interrupted upload after its discard: %+v", v)
	}

	second := killDuringCheck(g)
	g = startGateway(t, env...)
	discard(g, second.ID)
	if v := getJob(g, second.ID); v.Status != job.Discarded || !v.Finished {
		t.Fatalf("the second interrupted upload after its discard: %+v", v)
	}
	var n int64
	if err := db.R.Model(&bulk.Chunk{}).Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("%d chunks left in bulk_chunks (%v)", n, err)
	}
	var attendees int64
	db.R.Table("attendees").Where("event_id = ?", ev.ID).Count(&attendees)
	if attendees != 0 {
		t.Fatalf("interrupted uploads added %d attendees", attendees)
	}
}
