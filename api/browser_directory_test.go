package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/core/store"
)

// The Directory sync page in a real browser, with the real file group
// source process: the admin finds it in the navigation, presses Run now and
// sees the last run; a sync losing 30% shows as held with the members it
// would remove, and Confirm (asked in a dialog) removes them; a large
// directory's run shows its progress bar moving before the page shows the
// finished run.
func TestBrowserDirectorySync(t *testing.T) {
	env, csv := directoryEnv(t, store.SQLite, 100)
	admin := newBrowserProfile(t, env)
	admin.signInAsAdmin()
	admin.do("open Directory sync from the navigation", chromedp.Click(chromedp.CSS(`header nav a[href="/console/directory-sync"]`)))
	admin.waitFor(10*time.Second, "the list of sources", `document.querySelector('#group-sources tr[data-source="campus"] a')`)
	admin.do("open the source", chromedp.Click(chromedp.CSS(`#group-sources tr[data-source="campus"] a`)))
	admin.waitFor(10*time.Second, "the source's page", `document.getElementById("no-runs") && document.getElementById("run-now")`)
	if got := admin.str(`document.getElementById("source-schedule").textContent + " " + document.getElementById("removal-share").textContent`); got != "@yearly 20 %" {
		t.Fatalf("schedule and share %q", got)
	}

	admin.click("run-now")
	admin.waitFor(30*time.Second, "the finished first run", `document.getElementById("last-run-status") && document.getElementById("last-run-status").textContent === "ok"`)
	if got := admin.str(`document.getElementById("last-run-members").textContent.trim() + " | " + document.getElementById("last-run-groups").textContent.trim()`); got != "+100 added, 0 updated, −0 removed | +10 added, 0 renamed, −0 removed" {
		t.Fatalf("last run %q", got)
	}
	if admin.str(`document.getElementById("last-run-duration").textContent`) == "" {
		t.Fatal("the last run shows no duration")
	}

	// 30 of 100 gone: the run is held, nothing removed.
	writeGroupsCSV(t, csv, 100, func(i int) bool { return i%10 < 3 })
	admin.click("run-now")
	admin.waitFor(30*time.Second, "the held sync", `document.getElementById("held-sync")`)
	if got := admin.str(`document.getElementById("last-run-status").textContent + " " + document.getElementById("held-count").textContent + " " + document.querySelectorAll("#held-members tbody tr").length`); got != "held 30 30" {
		t.Fatalf("held run, count, rows: %q", got)
	}
	if got := admin.str(`document.querySelector("#held-members tbody tr td:nth-child(2)").textContent`); !strings.HasSuffix(got, "@uni.test") {
		t.Fatalf("first member to remove %q", got)
	}
	if n := groupMemberCount(t, env); n != 100 {
		t.Fatalf("members while held = %d", n)
	}
	admin.click("held-confirm")
	admin.waitFor(5*time.Second, "the confirmation dialog", `document.getElementById("confirm-dialog").open`)
	if n := groupMemberCount(t, env); n != 100 {
		t.Fatalf("opening the dialog removed members: %d", n)
	}
	admin.click("confirm-yes")
	admin.waitFor(10*time.Second, "the confirmation", `!document.getElementById("held-notice").hidden && !document.getElementById("held-sync")`)
	if got := admin.str(`document.getElementById("held-notice").textContent`); got != "Held sync confirmed: 30 members and 0 groups removed." {
		t.Fatalf("notice %q", got)
	}
	if n := groupMemberCount(t, env); n != 70 {
		t.Fatalf("members after confirm = %d, want 70", n)
	}
	env.Must(env.Do("GET", "/api/v1/group-sources/campus/held", env.APIKey, nil), http.StatusNotFound)

	// A large directory: the progress bar moves while the run goes.
	writeGroupsCSV(t, csv, 300_000, nil)
	admin.open(env.URL + "/console/directory-sync/campus")
	admin.click("run-now")
	admin.waitFor(60*time.Second, "progress during the run", `+document.getElementById("progress-seen").textContent > 0 && !document.getElementById("sync-progress").hidden`)
	admin.waitFor(120*time.Second, "the finished large run", `document.getElementById("last-run-status") && document.getElementById("last-run-status").textContent === "ok" && document.getElementById("sync-progress").hidden`)
	if got := admin.str(`document.getElementById("last-run-members").textContent.trim()`); got != "+299930 added, 0 updated, −0 removed" {
		t.Fatalf("large run %q", got)
	}
}
