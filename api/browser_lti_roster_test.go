package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/mail/mailtest"
	"github.com/invitegate/gateway/lti/ltitest"
)

// The invite dialog inside the LMS with the course roster: the tool in
// the platform's page (another site), an instructor types the start of a
// name, the course member the platform's NRPS endpoint lists is offered,
// picking them fills in their names, and the link goes out by email to a
// real SMTP server (maildev). A learner of the course has no invite
// option.
func TestBrowserLTIRosterInvite(t *testing.T) {
	md := mailtest.Start(t)
	e := newLTIEnv(t, apitest.Options{TLS: true, RealClock: true, Config: func(c *app.Config) {
		c.Mail.From = "Invitegate <noreply@gateway.test>"
		c.Mail.SMTP = mail.SMTPConfig{Host: "127.0.0.1", Port: md.SMTPPort, TLS: mail.TLSNone}
		c.Mail.Poll = 50 * time.Millisecond
	}})
	chooseTemplate(e.Env, mail.Invitation)
	plat := ltitest.New(t, ltitest.Options{ClientID: "roster-client", DeploymentID: "dep-roster", ToolURL: e.URL, Host: "localhost", ToolHTTP: e.HTTP.Client()})
	plat.PageSize = 2
	e.register(e.APIKey, plat)
	plat.AddUser("teacher", ltitest.User{Sub: "t-1", Email: "tina@uni.test", GivenName: "Tina", FamilyName: "Teach", Roles: []string{ltitest.RoleInstructor}})
	plat.AddUser("student", ltitest.User{Sub: "s-1", Email: "sid@uni.test", GivenName: "Sid", FamilyName: "Study", Roles: []string{ltitest.RoleLearner}})
	plat.AddLink("bio", ltitest.Link{ID: "rl-9", Title: "Live class", ContextID: "course-bio", ContextTitle: "Biology 101"})
	for _, m := range []ltitest.Member{
		{UserID: "t-1", Email: "tina@uni.test", GivenName: "Tina", FamilyName: "Teach", Roles: []string{ltitest.RoleInstructor}},
		{UserID: "s-1", Email: "sid@uni.test", GivenName: "Sid", FamilyName: "Study", Roles: []string{ltitest.RoleLearner}},
		{UserID: "g-1", Email: "guadalupe.ruiz@uni.test", GivenName: "Guadalupe", FamilyName: "Ruiz", Roles: []string{ltitest.RoleLearner}},
		{UserID: "g-2", Email: "gus@uni.test", GivenName: "Gus", FamilyName: "Grant", Roles: []string{ltitest.RoleLearner}},
	} {
		plat.AddMember("course-bio", m)
	}

	teacher := ltiFrame(t, e, plat, "teacher")
	teacher.waitFor(10*time.Second, "the Invite users button", `document.getElementById("open-invite")`)
	teacher.click("open-invite")
	teacher.waitFor(5*time.Second, "the invite dialog", `document.getElementById("invite-dialog").open`)
	teacher.do("type the start of the name", chromedp.SendKeys(chromedp.ID("invite-email"), "guad"))
	teacher.waitFor(10*time.Second, "the course member offered",
		`document.querySelector('#known-users option[value="guadalupe.ruiz@uni.test"]')`)
	if label := teacher.str(`document.querySelector('#known-users option[value="guadalupe.ruiz@uni.test"]').label`); label != "Guadalupe Ruiz" {
		t.Fatalf("the suggestion's label %q", label)
	}
	if n := teacher.str(`String(document.querySelectorAll("#known-users option").length)`); n != "1" {
		t.Fatalf("%s suggestions for guad, want 1", n)
	}
	// Picking a suggestion of the list replaces the field's text with its
	// value and fires an input event, as the browser does.
	teacher.do("pick the suggestion", chromedp.Evaluate[chromedp.Void](`(function () {
		var i = document.getElementById("invite-email");
		i.value = document.querySelector('#known-users option[value="guadalupe.ruiz@uni.test"]').value;
		i.dispatchEvent(new InputEvent("input", {bubbles: true, inputType: "insertReplacementText"}));
	})()`))
	teacher.waitFor(5*time.Second, "the names filled in", `document.getElementById("invite-first").value === "Guadalupe" && document.getElementById("invite-last").value === "Ruiz"`)
	if !teacher.truth(`document.getElementById("invite-send-email").checked`) {
		t.Fatal("Send the link by email is not offered, or not checked")
	}
	teacher.do("choose speaker", chromedp.SetValue(chromedp.ID("invite-role"), "speaker"))
	teacher.click("invite-submit")
	teacher.waitFor(10*time.Second, "the link", `!document.getElementById("link-confirm").hidden && document.getElementById("invite-link").value.includes("/i/")`)
	link := teacher.str(`document.getElementById("invite-link").value`)

	var inv invite.Invitation
	if err := e.DB.R.Where("email = 'guadalupe.ruiz@uni.test'").Take(&inv).Error; err != nil || inv.Role != "speaker" || inv.FirstName != "Guadalupe" || inv.LastName != "Ruiz" {
		t.Fatalf("invitation row %+v, %v", inv, err)
	}
	m := mailTo(t, md, "guadalupe.ruiz@uni.test", 20*time.Second)
	if !strings.Contains(m.Text+m.HTML, link) {
		t.Fatalf("the email does not carry the link %s: %s", link, m.Text)
	}
	if plat.TokenRequests() != 1 || plat.NRPSRequests() < 2 {
		t.Fatalf("the roster was not read through NRPS with one token: %d token requests, %d page reads", plat.TokenRequests(), plat.NRPSRequests())
	}

	student := ltiFrame(t, e, plat, "student")
	student.waitFor(10*time.Second, "the Join button", `document.getElementById("join")`)
	if student.truth(`document.getElementById("open-invite") || document.getElementById("invite-form")`) {
		t.Fatal("the learner is offered to invite")
	}
}
