package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// directoryEnv is a gateway running the real file group source process as
// the group source "campus" of the account, reading the CSV file it
// returns. The source names the account, which the first start makes: a
// first gateway makes it, and the one under test is a second on the same
// database, configured with it.
func directoryEnv(t *testing.T, dialect string, members int) (*apitest.Env, string) {
	t.Helper()
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	csv := filepath.Join(t.TempDir(), "groups.csv")
	writeGroupsCSV(t, csv, members, nil)
	first := apitest.New(t, apitest.Options{Dialect: dialect, RealClock: true})
	e := apitest.New(t, apitest.Options{ReplicaOf: first, RealClock: true, Config: func(c *app.Config) {
		c.Plugins = []host.Config{{Name: "campus", Kind: "groupsource", Path: bin, SHA256: sum, Schedule: "@yearly",
			Account: first.AccountID, Config: map[string]any{"path": csv}}}
	}})
	return e, csv
}

// writeGroupsCSV writes n members over groups g0..g9, leaving out skip.
func writeGroupsCSV(t testing.TB, path string, n int, skip func(i int) bool) {
	t.Helper()
	var b strings.Builder
	b.WriteString("group_id,group_name,member_id,member_email,member_name\n")
	for i := range 10 {
		fmt.Fprintf(&b, "g%d,Group %d,,,\n", i, i)
	}
	for i := range n {
		if skip == nil || !skip(i) {
			fmt.Fprintf(&b, "g%d,Group %d,u%d,user%03d@uni.test,User %d\n", i%10, i%10, i, i, i)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func groupMemberCount(t *testing.T, e *apitest.Env) int64 {
	t.Helper()
	var n int64
	if err := e.DB.R.Raw("SELECT COUNT(*) FROM group_members").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func auditCount(t *testing.T, e *apitest.Env, action string) int64 {
	t.Helper()
	var n int64
	if err := e.DB.R.Raw("SELECT COUNT(*) FROM audit_entries WHERE action = ?", action).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// runSync asks for a run now and waits for it to end; it returns the run.
func runSync(t *testing.T, e *apitest.Env) map[string]any {
	t.Helper()
	started := e.Must(e.Do("POST", "/api/v1/group-sources/campus/run", e.APIKey, nil), http.StatusAccepted).Map(t)
	runID := started["run_id"].(string)
	if run := started["run"].(map[string]any); run["id"] != runID || run["status"] != "running" || run["trigger"] != "manual" {
		t.Fatalf("run now answered %v", started)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		runs := e.Must(e.Do("GET", "/api/v1/group-sources/campus/runs?per_page=5", e.APIKey, nil), http.StatusOK).Map(t)
		for _, it := range runs["items"].([]any) {
			r := it.(map[string]any)
			if r["id"] == runID && r["status"] != "running" {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish", runID)
	return nil
}

// Directory sync through the API with the real plugin: Run now, the runs
// and the source's overview; a sync losing 30% is held, listed page by
// page, confirmed; another is discarded; a second Run now while one runs
// is 409; only admins see any of it.
func TestGroupSourcesAPI(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e, csv := directoryEnv(t, d, 100)
			first := runSync(t, e)
			if first["status"] != "ok" || first["members_added"] != float64(100) || first["groups_added"] != float64(10) ||
				first["members_seen"] != float64(100) || first["duration_ms"] == nil {
				t.Fatalf("first run = %v", first)
			}
			list := e.Must(e.Do("GET", "/api/v1/group-sources", e.APIKey, nil), http.StatusOK).Map(t)["items"].([]any)
			if len(list) != 1 {
				t.Fatalf("sources = %v", list)
			}
			src := list[0].(map[string]any)
			if src["name"] != "campus" || src["plugin"] != "gateway-plugin-file-groups" || src["schedule"] != "@yearly" ||
				src["max_removal_share"] != 0.2 || src["next_run"] == nil || src["last_run"].(map[string]any)["id"] != first["id"] || src["held_sync"] != nil {
				t.Fatalf("source = %v", src)
			}

			// 30 of 100 gone: held.
			writeGroupsCSV(t, csv, 100, func(i int) bool { return i%10 < 3 })
			held := runSync(t, e)
			if held["status"] != "held" || held["held"] != true || held["held_members"] != float64(30) || held["members_removed"] != float64(0) {
				t.Fatalf("held run = %v", held)
			}
			if n := groupMemberCount(t, e); n != 100 {
				t.Fatalf("members after the held sync = %d, want 100", n)
			}
			page := e.Must(e.Do("GET", "/api/v1/group-sources/campus/held?per_page=10&page=3", e.APIKey, nil), http.StatusOK).Map(t)
			hs := page["held_sync"].(map[string]any)
			items := page["items"].([]any)
			if page["total"] != float64(30) || len(items) != 10 || hs["reason"] != "share" || hs["members_remove"] != float64(30) || hs["run_id"] != held["id"] {
				t.Fatalf("held page 3 = %v", page)
			}
			if m := items[0].(map[string]any); m["group_name"] != "Group 2" || !strings.HasSuffix(m["email"].(string), "@uni.test") {
				t.Fatalf("first held member of page 3 = %v", m)
			}
			if r := e.Do("POST", "/api/v1/group-sources/campus/held/confirm", e.APIKey, map[string]any{"held_id": "0190d3a4-7b1c-7c3e-9f00-000000000001"}); r.Status != http.StatusNotFound || r.ErrorCode() != "no_held_sync" {
				t.Fatalf("confirm of another held id: %d %s", r.Status, r.Body)
			}
			done := e.Must(e.Do("POST", "/api/v1/group-sources/campus/held/confirm", e.APIKey, map[string]any{"held_id": hs["id"]}), http.StatusOK).Map(t)
			if done["members_removed"] != float64(30) || groupMemberCount(t, e) != 70 {
				t.Fatalf("confirm = %v, members %d", done, groupMemberCount(t, e))
			}
			if r := e.Do("GET", "/api/v1/group-sources/campus/held", e.APIKey, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "no_held_sync" {
				t.Fatalf("held after confirm: %d %s", r.Status, r.Body)
			}

			// The file emptied: held; discarded, nobody removed.
			writeGroupsCSV(t, csv, 0, nil)
			if r := runSync(t, e); r["status"] != "held" {
				t.Fatalf("empty answer run = %v", r)
			}
			e.Must(e.Do("POST", "/api/v1/group-sources/campus/held/discard", e.APIKey, nil), http.StatusNoContent)
			if n := groupMemberCount(t, e); n != 70 {
				t.Fatalf("members after discard = %d, want 70", n)
			}
			// Unreadable: the run fails with the reason, nothing removed.
			os.Remove(csv)
			if r := runSync(t, e); r["status"] != "failed" || !strings.Contains(r["error"].(string), "no such file") || groupMemberCount(t, e) != 70 {
				t.Fatalf("failing run = %v", r)
			}
			if a, c, x := auditCount(t, e, "group.sync_requested"), auditCount(t, e, "group.held_sync_confirmed"), auditCount(t, e, "group.held_sync_discarded"); a != 4 || c != 1 || x != 1 {
				t.Fatalf("audit: %d run now, %d confirmed, %d discarded", a, c, x)
			}
			runs := e.Must(e.Do("GET", "/api/v1/group-sources/campus/runs?per_page=2&page=2", e.APIKey, nil), http.StatusOK).Map(t)
			if runs["total"] != float64(4) || len(runs["items"].([]any)) != 2 || runs["items"].([]any)[1].(map[string]any)["id"] != first["id"] {
				t.Fatalf("runs page 2 = %v", runs)
			}

			// Not for members, nor for unknown sources, nor with bad paging.
			_, member := e.ConsoleUser("member@org.test", "member")
			if r := e.Call(member, "GET", "/api/v1/group-sources", "", nil); r.Status != http.StatusForbidden {
				t.Fatalf("member: %d", r.Status)
			}
			if r := e.Call(member, "GET", "/console/directory-sync/campus", "", nil); r.Status != http.StatusForbidden {
				t.Fatalf("member console page: %d", r.Status)
			}
			if r := e.Do("POST", "/api/v1/group-sources/nope/run", e.APIKey, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "group_source_not_found" {
				t.Fatalf("unknown source: %d %s", r.Status, r.Body)
			}
			if r := e.Do("GET", "/api/v1/group-sources/campus/runs?per_page=0", e.APIKey, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "per_page" {
				t.Fatalf("per_page=0: %d %s", r.Status, r.Body)
			}
		})
	}
}

// Run now while a sync of the source runs is refused with 409: here (a
// large directory still streaming), and on PostgreSQL when another replica
// holds the source's lock.
func TestGroupSourceRunNowWhileRunning(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e, _ := directoryEnv(t, d, 200_000)
			first := e.Must(e.Do("POST", "/api/v1/group-sources/campus/run", e.APIKey, nil), http.StatusAccepted).Map(t)
			r := e.Do("POST", "/api/v1/group-sources/campus/run", e.APIKey, nil)
			if r.Status != http.StatusConflict || r.ErrorCode() != "job_running" {
				t.Fatalf("second run now: %d %s", r.Status, r.Body)
			}
			// The page shows the run going on.
			page := e.Get(e.SignIn(e.Admin), "/console/directory-sync/campus")
			if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `id="run-now" disabled`) {
				t.Fatalf("page during a run: %d", page.Status)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for {
				runs := e.Must(e.Do("GET", "/api/v1/group-sources/campus/runs", e.APIKey, nil), http.StatusOK).Map(t)["items"].([]any)
				if last := runs[0].(map[string]any); last["id"] == first["run_id"] && last["status"] == "ok" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("first run did not finish: %v", runs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if d != store.Postgres {
				return
			}
			// The run's lock goes a moment after its record says "ok".
			var release func()
			for lockBy := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				rel, ok, err := e.DB.TryLock(context.Background(), "plugin-job:campus")
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					release = rel
					break
				}
				if time.Now().After(lockBy) {
					t.Fatal("the finished run still holds the source's lock after 5 s")
				}
			}
			defer release()
			if r := e.Do("POST", "/api/v1/group-sources/campus/run", e.APIKey, nil); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "another replica") {
				t.Fatalf("run now while another replica holds the lock: %d %s", r.Status, r.Body)
			}
		})
	}
}
