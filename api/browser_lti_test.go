package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/lti/ltitest"
)

// The tool inside the LMS: the platform's course page (on another site,
// http://localhost) frames the gateway (https://127.0.0.1, a test
// certificate, so its cookies can be SameSite=None; Secure as in
// production). The frame starts the login, the platform answers with its
// auto-posted form, the launch lands on the room page in the frame. An
// instructor sees Invite users and creates a link from its dialog; a
// learner sees the room and Join only.
func TestBrowserLTILaunchInIframe(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{TLS: true, RealClock: true})
	// The test platform's own site: another host than the gateway's.
	plat := ltitest.New(t, ltitest.Options{ClientID: "iframe-client", DeploymentID: "dep-iframe", ToolURL: e.URL, Host: "localhost", ToolHTTP: e.HTTP.Client()})
	e.register(e.APIKey, plat)
	plat.AddUser("teacher", ltitest.User{Sub: "t-1", Email: "tina@uni.test", GivenName: "Tina", FamilyName: "Teach", Roles: []string{ltitest.RoleInstructor}})
	plat.AddUser("student", ltitest.User{Sub: "s-1", Email: "sid@uni.test", GivenName: "Sid", FamilyName: "Study", Roles: []string{ltitest.RoleLearner}})
	plat.AddLink("bio", ltitest.Link{ID: "rl-9", Title: "Live class", ContextID: "course-bio", ContextTitle: "Biology 101"})

	teacher := ltiFrame(t, e, plat, "teacher")
	teacher.waitFor(10*time.Second, "the Invite users button", `document.getElementById("open-invite")`)
	if r := teacher.str(`document.getElementById("room-title").textContent`); r != "Biology 101 live" {
		t.Fatalf("room title %q", r)
	}
	teacher.click("open-invite")
	teacher.waitFor(5*time.Second, "the invite dialog", `document.getElementById("invite-dialog").open`)
	teacher.do("fill the invitation",
		chromedp.SendKeys(chromedp.ID("invite-email"), "guest@else.test"),
		chromedp.SendKeys(chromedp.ID("invite-first"), "Gail"),
		chromedp.SendKeys(chromedp.ID("invite-last"), "Guest"),
		chromedp.SetValue(chromedp.ID("invite-role"), "speaker"),
	)
	teacher.click("invite-submit")
	teacher.waitFor(10*time.Second, "the link", `!document.getElementById("link-confirm").hidden && document.getElementById("invite-link").value.includes("/i/")`)
	link := teacher.str(`document.getElementById("invite-link").value`)
	var inv invite.Invitation
	if err := e.DB.R.Where("email = 'guest@else.test'").Take(&inv).Error; err != nil || inv.Role != "speaker" || inv.FirstName != "Gail" {
		t.Fatalf("invitation row %+v, %v", inv, err)
	}
	if !strings.HasPrefix(link, e.URL+"/i/") {
		t.Fatalf("link %q", link)
	}

	student := ltiFrame(t, e, plat, "student")
	student.waitFor(10*time.Second, "the Join button", `document.getElementById("join")`)
	if student.truth(`document.getElementById("open-invite") || document.getElementById("invite-form")`) {
		t.Fatal("the learner is offered to invite")
	}
}

// ltiFrame opens the platform's course page as the person in a browser of
// their own and returns the tool's frame once it shows the room page.
func ltiFrame(t *testing.T, e *ltiEnv, plat *ltitest.Platform, who string) *browserTab {
	t.Helper()
	_, frame := courseFrame(t, e, plat, who, "bio", e.URL+"/lti/rooms/")
	return frame
}

// courseFrame opens the platform's course page as the person, its tool
// frame started from the link (hint), in a browser of their own; it
// returns the course page and the tool's frame once the frame's address
// starts with prefix.
func courseFrame(t *testing.T, e *ltiEnv, plat *ltitest.Platform, who, link, prefix string) (*browserTab, *browserTab) {
	t.Helper()
	return toolFrame(t, e, plat.Issuer+"/course?user="+who+"&link="+link, prefix)
}
