package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
)

// The Event access tab of a closed event in a real browser: the organizer
// finds it from All users, pages through the groups, searches by name with
// Enter, filters, grants and removes access (each confirmed in a dialog,
// then said done), and switches additional users off.
func TestBrowserEventAccessTab(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	e := &eventsEnv{Env: env}
	ev := e.event(map[string]any{"closed": true, "slug": "closed-by-browser"})
	evID := ev["id"].(string)
	for _, g := range []string{"Alumni", "Faculty", "Staff", "Students", "Visitors"} {
		env.DirectoryGroup(g, strings.ToLower(g)+"1@uni.edu", strings.ToLower(g)+"2@uni.edu")
	}
	granted := func() []string {
		t.Helper()
		m := env.Must(env.Do("GET", "/api/v1/events/"+evID+"/access/groups?filter=granted", env.APIKey, nil), http.StatusOK).Map(t)
		var out []string
		for _, it := range m["items"].([]any) {
			out = append(out, it.(map[string]any)["name"].(string))
		}
		return out
	}
	names := `[...document.querySelectorAll("#groups tbody tr")].map(r => r.dataset.name + "=" + r.querySelector("td.granted").textContent.trim()).join(",")`

	org := newBrowserProfile(t, env)
	org.signInAsAdmin()
	org.open(env.URL + "/console/events/" + evID)
	org.waitFor(10*time.Second, "the All users page", `document.getElementById("attendees")`)
	if got := org.str(`document.getElementById("closed-event").textContent`); got != "🔒 Closed event" {
		t.Fatalf("closed badge %q", got)
	}
	if got := org.str(`[...document.querySelectorAll("#tabs a")].map(a => a.textContent).join(",")`); got != "All users,Event access,Speakers,Moderators" {
		t.Fatalf("tabs %q", got)
	}
	org.do("open the Event access tab", chromedp.Click(chromedp.CSS(`#tabs a[href$="/access"]`)))
	org.waitFor(10*time.Second, "the Event access tab", `location.pathname.endsWith("/access") && document.getElementById("groups")`)
	if got := org.str(`document.getElementById("group-count").textContent.trim()`); !strings.HasPrefix(got, "5 Groups") {
		t.Fatalf("count %q", got)
	}
	if got := org.str(`document.getElementById("granted-banner").innerText.trim()`); got != "Access granted to 0 groups · View all" {
		t.Fatalf("banner %q", got)
	}

	// Pages of two.
	org.open(env.URL + "/console/events/" + evID + "/access?per_page=2")
	org.waitFor(10*time.Second, "page 1", `document.querySelectorAll("#groups tbody tr").length === 2`)
	if got := org.str(names); got != "Alumni=No,Faculty=No" {
		t.Fatalf("page 1: %s", got)
	}
	org.click("next-page")
	org.waitFor(10*time.Second, "page 2", `location.search.includes("page=2")`)
	if got := org.str(names); got != "Staff=No,Students=No" {
		t.Fatalf("page 2: %s", got)
	}
	org.click("next-page")
	org.waitFor(10*time.Second, "page 3", `location.search.includes("page=3")`)
	if got := org.str(names); got != "Visitors=No" || org.truth(`document.getElementById("next-page")`) {
		t.Fatalf("page 3: %s", got)
	}

	// Search by name: Enter applies it.
	org.do("search for stu", chromedp.SendKeys(chromedp.ID("group-search"), "stu\r"))
	org.waitFor(10*time.Second, "the search", `location.search.includes("search=stu")`)
	if got := org.str(names); got != "Students=No" {
		t.Fatalf("search stu: %s", got)
	}
	if got := org.str(`document.getElementById("group-count").textContent.trim()`); !strings.HasPrefix(got, "1 Group") {
		t.Fatalf("count after search %q", got)
	}

	// Grant access: asked, then said done.
	row := `#groups tr[data-name="Students"]`
	org.do("press Grant access", chromedp.Click(chromedp.CSS(row+` button[data-access="grant"]`)))
	org.waitFor(5*time.Second, "the grant dialog", `document.getElementById("grant-dialog").open`)
	if got := org.str(`document.querySelector("#grant-dialog h2").textContent`); got != "Grant access to Students?" {
		t.Fatalf("dialog %q", got)
	}
	if len(granted()) != 0 {
		t.Fatal("granted before the confirmation")
	}
	org.click("grant-confirm")
	org.waitFor(10*time.Second, "the confirmation", `document.getElementById("access-notice").textContent === "Access granted to Students."`)
	if got := org.str(names); got != "Students=Yes" || org.str(`document.getElementById("granted-count").textContent`) != "1" {
		t.Fatalf("after granting: %s", got)
	}
	if got := granted(); fmt.Sprint(got) != "[Students]" {
		t.Fatalf("granted in the gateway: %v", got)
	}

	// The filter, and View all.
	org.open(env.URL + "/console/events/" + evID + "/access")
	org.waitFor(10*time.Second, "the tab", `document.getElementById("group-filter")`)
	org.do("choose No access", chromedp.SetValue(chromedp.ID("group-filter"), "not_granted"))
	browserEval[bool](org, `document.getElementById("group-filter").dispatchEvent(new Event("change"))`)
	org.waitFor(10*time.Second, "the filter", `location.search.includes("filter=not_granted")`)
	if got := org.str(names); got != "Alumni=No,Faculty=No,Staff=No,Visitors=No" {
		t.Fatalf("not granted: %s", got)
	}
	org.click("view-all-granted")
	org.waitFor(10*time.Second, "View all", `location.search.includes("filter=granted") && !location.search.includes("not_granted")`)
	if got := org.str(names); got != "Students=Yes" || org.str(`document.getElementById("group-filter").value`) != "granted" {
		t.Fatalf("view all: %s", got)
	}

	// Remove access: asked, cancelled once, then done.
	org.do("press Remove access", chromedp.Click(chromedp.CSS(row+` button[data-access="revoke"]`)))
	org.waitFor(5*time.Second, "the remove dialog", `document.getElementById("revoke-dialog").open`)
	org.do("cancel", chromedp.Click(chromedp.CSS(`#revoke-dialog [data-close]`)))
	if len(granted()) != 1 {
		t.Fatal("cancelled, yet access was removed")
	}
	org.do("press Remove access again", chromedp.Click(chromedp.CSS(row+` button[data-access="revoke"]`)))
	org.waitFor(5*time.Second, "the remove dialog", `document.getElementById("revoke-dialog").open`)
	org.click("revoke-confirm")
	org.waitFor(10*time.Second, "the confirmation", `document.getElementById("access-notice").textContent === "Access removed from Students."`)
	if got := org.str(names); got != "Students=No" || org.str(`document.getElementById("granted-count").textContent`) != "0" {
		t.Fatalf("after removing: %s", got)
	}
	if got := granted(); len(got) != 0 {
		t.Fatalf("still granted: %v", got)
	}

	// Additional users off, saved as switched.
	if !org.truth(`document.getElementById("additional-users").checked`) {
		t.Fatal("additional users are off by default")
	}
	org.click("additional-users")
	org.waitFor(10*time.Second, "the save", `document.getElementById("settings-saved").textContent === "Saved: additional users off."`)
	s := env.Must(env.Do("GET", "/api/v1/events/"+evID+"/access/settings", env.APIKey, nil), http.StatusOK).Map(t)
	if s["additional_users"] != false || s["closed"] != true {
		t.Fatalf("settings %v", s)
	}
	org.open(env.URL + "/console/events/" + evID + "/access")
	org.waitFor(10*time.Second, "the tab", `document.getElementById("additional-users")`)
	if org.truth(`document.getElementById("additional-users").checked`) {
		t.Fatal("the setting did not stay off")
	}
}
