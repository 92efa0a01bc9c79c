package api_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/lti/ltitest"
)

// Deep linking in the browser: the instructor adds the tool from the
// course (the platform's page on another site frames it), creates a room
// in the picker, the tool's page posts the signed response back to the
// platform, which verifies it and shows the content added; the link it
// made then opens the new room in the course's frame.
func TestBrowserLTIDeepLinking(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{TLS: true, RealClock: true})
	plat := ltitest.New(t, ltitest.Options{ClientID: "dl-client", DeploymentID: "dep-dl", ToolURL: e.URL, Host: "localhost", ToolHTTP: e.HTTP.Client()})
	e.register(e.APIKey, plat)
	plat.AddUser("teacher", ltitest.User{Sub: "t-1", Email: "tina@uni.test", GivenName: "Tina", FamilyName: "Teach", Roles: []string{ltitest.RoleInstructor}})
	plat.AddLink("add", ltitest.Link{ID: "dl-9", Title: "Office hours", ContextID: "course-bio", ContextTitle: "Biology 101", DeepLinking: true})

	course, picker := courseFrame(t, e, plat, "teacher", "add", e.URL+"/lti/launch")
	picker.waitFor(10*time.Second, "the picker", `document.getElementById("deep-link-form")`)
	if v := picker.str(`document.getElementById("deep-link-title").value`); v != "Office hours" {
		t.Fatalf("the new room's title is prefilled with %q, want the LMS's suggestion", v)
	}
	picker.click("deep-link-new")
	picker.do("name the room", chromedp.Clear(chromedp.ID("deep-link-title")), chromedp.SendKeys(chromedp.ID("deep-link-title"), "Office hours with Tina"))
	picker.click("deep-link-submit")

	// The return page posts by itself to the platform, whose page (of the
	// course's own site) then shows in the frame.
	course.waitFor(15*time.Second, "the platform's answer in the frame",
		`(function () { try { return document.getElementById("tool").contentDocument.getElementById("dl-returned"); } catch (e) { return null; } })()`)
	if got := course.str(`document.getElementById("tool").contentDocument.querySelector(".item").textContent`); got != "Office hours with Tina" {
		t.Fatalf("the platform shows the item %q", got)
	}
	rets := plat.DeepLinkReturns()
	if len(rets) != 1 || len(rets[0].Items) != 1 || rets[0].Items[0].Type != "ltiResourceLink" || string(rets[0].Data) != `"dl-dl-9"` {
		t.Fatalf("the platform received %+v", rets)
	}
	item := rets[0].Items[0]
	var title string
	e.DB.R.Raw("SELECT title FROM resources WHERE id = ? AND account_id = ?", item.Custom["invitegate_room"], e.AccountID).Scan(&title)
	if title != "Office hours with Tina" {
		t.Fatalf("the room made: %q", title)
	}

	plat.AddLink("office", ltitest.Link{ID: "rl-office", Title: item.Title, ContextID: "course-bio", ContextTitle: "Biology 101", Custom: item.Custom})
	_, room := courseFrame(t, e, plat, "teacher", "office", e.URL+"/lti/rooms/"+item.Custom["invitegate_room"])
	room.waitFor(10*time.Second, "the room page", `document.getElementById("room-title")`)
	if got := room.str(`document.getElementById("room-title").textContent`); got != "Office hours with Tina" {
		t.Fatalf("the placed link opens %q", got)
	}
	if !room.truth(`document.getElementById("open-invite")`) {
		t.Fatal("the instructor who made the room cannot invite to it")
	}
}
