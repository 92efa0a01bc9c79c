package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/api/browsertest"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/lti/ltitest"
)

// Dynamic Registration in a browser, as the admins do it: the account
// admin makes the URL on the console's LTI page; the LMS's
// admin page (http://localhost) frames the tool's registration URL with
// its configuration and token; the admin confirms in the frame; the page
// tells the LMS to close it (org.imsglobal.lti.close); the LMS is then
// registered, and a launch from its course page reaches the room.
func TestBrowserLTIDynamicRegistration(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{TLS: true, RealClock: true})
	plat := ltitest.New(t, ltitest.Options{ClientID: "dyn-browser", DeploymentID: "dep-dyn", ToolURL: e.URL, Host: "localhost"})
	plat.AddUser("teacher", ltitest.User{Sub: "t-1", Email: "tina@uni.test", GivenName: "Tina", FamilyName: "Teach", Roles: []string{ltitest.RoleInstructor}})
	plat.AddLink("bio", ltitest.Link{ID: "rl-9", Title: "Live class", ContextID: "course-bio", ContextTitle: "Biology 101"})
	// The account admin makes the URL on the console's LTI page.
	ctx := browsertest.New(t, chromedp.Flag("ignore-certificate-errors", true))
	ctx, cancel := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(cancel)
	console := &browserTab{t: t, ctx: ctx, env: e.Env}
	console.signInAsAdmin()
	console.open(e.URL + "/console/lti")
	console.click("lti-dynreg-create")
	console.waitFor(10*time.Second, "the registration URL", `!document.getElementById("lti-dynreg-made").hidden`)
	regURL := console.str(`document.getElementById("lti-dynreg-url").value`)
	if !strings.HasPrefix(regURL, e.URL+"/lti/register?token=") || console.str(`document.getElementById("lti-dynreg-expires").textContent`) == "" {
		t.Fatalf("the console's registration URL %q", regURL)
	}

	admin, frame := toolFrame(t, e, plat.RegisterPageURL(regURL), e.URL+"/lti/register")
	frame.waitFor(10*time.Second, "the confirmation", `document.getElementById("lti-register-form")`)
	if got := frame.str(`document.getElementById("lti-register-issuer").textContent`); got != plat.Issuer {
		t.Fatalf("the confirmation names issuer %q", got)
	}
	frame.do("name the tool", chromedp.SetValue(chromedp.ID("lti-register-name"), "Rooms"), chromedp.SetValue(chromedp.ID("lti-register-adapter"), "rooms"))
	frame.click("lti-register-submit")
	admin.waitFor(10*time.Second, "the LMS closing the registration", `document.getElementById("status").textContent === "closed"`)
	if got := plat.RegistrationClosedBy(); got != e.URL {
		t.Errorf("the close message came from %q, want the tool's origin", got)
	}
	var p lti.Platform
	if err := e.DB.R.Where("issuer = ? AND client_id = 'dyn-browser'", plat.Issuer).Take(&p).Error; err != nil || p.Adapter != "rooms" {
		t.Fatalf("the registration row %+v, %v", p, err)
	}
	if regs := plat.Registrations(); len(regs) != 1 || regs[0]["client_name"] != "Rooms" {
		t.Fatalf("the LMS received %v", regs)
	}

	teacher := ltiFrame(t, e, plat, "teacher")
	teacher.waitFor(10*time.Second, "the Invite users button", `document.getElementById("open-invite")`)
}
