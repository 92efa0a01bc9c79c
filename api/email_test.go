package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/mail/mailtest"
)

// emailEnv is a gateway whose outbox delivers to a real SMTP server
// (maildev), with the account's invitation template chosen.
func emailEnv(t *testing.T, opt apitest.Options) (*apitest.Env, *mailtest.Maildev) {
	t.Helper()
	md := mailtest.Start(t)
	prev := opt.Config
	opt.Config = func(c *app.Config) {
		c.Mail.From = "Invitegate <noreply@gateway.test>"
		c.Mail.SMTP = mail.SMTPConfig{Host: "127.0.0.1", Port: md.SMTPPort, TLS: mail.TLSNone}
		c.Mail.Poll = 50 * time.Millisecond
		if prev != nil {
			prev(c)
		}
	}
	env := apitest.New(t, opt)
	return env, md
}

func chooseTemplate(env *apitest.Env, name string) {
	env.T.Helper()
	env.Must(env.Do("PUT", "/api/v1/settings/invitations", env.APIKey, map[string]any{"email_template": name}), http.StatusOK)
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/i/[A-Za-z0-9_-]{43}`)

func TestInvitationEmailArrives(t *testing.T) {
	env, md := emailEnv(t, apitest.Options{RealClock: true})
	start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
	rid := env.Resource(map[string]any{"type": "webcast", "title": "Quarterly results", "description": "Numbers and questions.",
		"starts_at": start, "ends_at": start.Add(90 * time.Minute), "time_zone": "Europe/Paris"})

	// Not offered before the account chooses a template.
	r := env.Do("POST", "/api/v1/resources/"+rid+"/invitations", env.APIKey,
		map[string]any{"email": "gia@guest.test", "first_name": "Gia", "last_name": "Guest", "role": "speaker", "send_email": true})
	if r.Status != http.StatusConflict || r.ErrorCode() != "email_template_not_set" {
		t.Fatalf("send_email without a template: %d %s", r.Status, r.Body)
	}
	var set map[string]any
	env.Must(env.Do("GET", "/api/v1/settings/invitations", env.APIKey, nil), http.StatusOK).JSON(t, &set)
	if set["email_ready"] != false || set["email_unavailable"] == "" {
		t.Fatalf("settings before a template: %v", set)
	}
	if r := env.Do("PUT", "/api/v1/settings/invitations", env.APIKey, map[string]any{"email_template": "nope"}); r.ErrorCode() != "invalid" {
		t.Fatalf("unknown template accepted: %d %s", r.Status, r.Body)
	}
	chooseTemplate(env, mail.Invitation)
	env.Must(env.Do("GET", "/api/v1/settings/invitations", env.APIKey, nil), http.StatusOK).JSON(t, &set)
	if set["email_ready"] != true {
		t.Fatalf("settings with a template: %v", set)
	}
	// What GET answers can be sent back as is.
	env.Must(env.Do("PUT", "/api/v1/settings/invitations", env.APIKey, set), http.StatusOK)

	var created struct {
		ID        string `json:"id"`
		Link      string `json:"link"`
		LastEmail *struct {
			Status string `json:"status"`
		} `json:"last_email"`
	}
	env.Must(env.Do("POST", "/api/v1/resources/"+rid+"/invitations", env.APIKey,
		map[string]any{"email": "gia@guest.test", "first_name": "Gia", "last_name": "Guest", "role": "speaker", "send_email": true}),
		http.StatusCreated).JSON(t, &created)
	if created.LastEmail == nil || created.LastEmail.Status == "" {
		t.Fatalf("created invitation has no last_email: %+v", created)
	}

	got := md.Wait(1, 15*time.Second)
	m := got[0]
	if m.Subject != "Test org invited you to Quarterly results" {
		t.Errorf("subject = %q", m.Subject)
	}
	if len(m.To) != 1 || m.To[0].Address != "gia@guest.test" || m.To[0].Name != "Gia Guest" {
		t.Errorf("to = %+v", m.To)
	}
	for _, want := range []string{"Hello Gia Guest", "Your role: Speaker", "Quarterly results", "Numbers and questions.", created.Link,
		mail.Schedule(&start, ptr(start.Add(90*time.Minute)), "Europe/Paris")} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text body lacks %q:\n%s", want, m.Text)
		}
		if !strings.Contains(m.HTML, strings.ReplaceAll(want, "&", "&amp;")) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	if l := linkRE.FindString(m.Text); l != created.Link {
		t.Errorf("link in the email %q, want the invitation's %q", l, created.Link)
	}
	var ics string
	for _, a := range m.Attachments {
		if a.FileName == "invite.ics" {
			ics = md.Attachment(m, a)
			if !strings.HasPrefix(a.ContentType, "text/calendar") {
				t.Errorf("invite.ics content type %q", a.ContentType)
			}
		}
	}
	for _, want := range []string{"METHOD:REQUEST", "DTSTART:" + start.Format("20060102T150405Z"), "SUMMARY:Quarterly results", "mailto:gia@guest.test"} {
		if !strings.Contains(ics, want) {
			t.Errorf("calendar invitation lacks %q:\n%s", want, ics)
		}
	}

	// The invitation shows the email as sent.
	var inv struct {
		LastEmail struct {
			Status string     `json:"status"`
			SentAt *time.Time `json:"sent_at"`
		} `json:"last_email"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		env.Must(env.Do("GET", "/api/v1/resources/"+rid+"/invitations/"+created.ID, env.APIKey, nil), http.StatusOK).JSON(t, &inv)
		if inv.LastEmail.Status == mail.Sent || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if inv.LastEmail.Status != mail.Sent || inv.LastEmail.SentAt == nil {
		t.Fatalf("last_email after delivery: %+v", inv.LastEmail)
	}
	// The Message-ID received is the outbox's.
	var msg mail.Message
	var list struct {
		Messages []mail.Message `json:"messages"`
	}
	env.Must(env.Do("GET", "/api/v1/mail/messages?status=sent", env.APIKey, nil), http.StatusOK).JSON(t, &list)
	if len(list.Messages) != 1 {
		t.Fatalf("sent messages: %+v", list.Messages)
	}
	msg = list.Messages[0]
	if "<"+m.MessageID+">" != msg.MessageID || msg.ServerReply == "" {
		t.Fatalf("received Message-ID %q, outbox %q (reply %q)", m.MessageID, msg.MessageID, msg.ServerReply)
	}

	// Resend by email: the resend template with the new link.
	var resent struct {
		Link string `json:"link"`
	}
	env.Must(env.Do("POST", "/api/v1/resources/"+rid+"/invitations/"+created.ID+"/resend", env.APIKey, map[string]any{"send_email": true}),
		http.StatusCreated).JSON(t, &resent)
	got = md.Wait(2, 15*time.Second)
	var second *mailtest.Received
	for i := range got {
		if got[i].Subject == "Your new link to Quarterly results" {
			second = &got[i]
		}
	}
	if second == nil || !strings.Contains(second.Text, resent.Link) {
		t.Fatalf("no resend email with the new link %s: %+v", resent.Link, got)
	}

	// The console lists the email's state.
	page := env.Get(env.SignIn(env.Admin), "/console/resources/"+rid)
	if !strings.Contains(string(page.Body), `id="invite-send-email"`) || !strings.Contains(string(page.Body), "sent 20") {
		t.Fatalf("console resource page lacks the email checkbox or the sent state:\n%s", page.Body)
	}
}

func ptr[T any](v T) *T { return &v }

func TestEmailNotOfferedWithoutDelivery(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	rid := env.Resource(map[string]any{"type": "video", "title": "Lecture"})
	r := env.Do("POST", "/api/v1/resources/"+rid+"/invitations", env.APIKey,
		map[string]any{"email": "a@guest.test", "first_name": "A", "last_name": "B", "send_email": true})
	if r.Status != http.StatusConflict || r.ErrorCode() != "email_unavailable" {
		t.Fatalf("send_email on a gateway without mail: %d %s", r.Status, r.Body)
	}
	var list struct {
		Invitations []any `json:"invitations"`
	}
	env.Must(env.Do("GET", "/api/v1/resources/"+rid+"/invitations", env.APIKey, nil), http.StatusOK).JSON(t, &list)
	if len(list.Invitations) != 0 {
		t.Fatalf("a refused send_email left an invitation: %+v", list.Invitations)
	}
	page := env.Get(env.SignIn(env.Admin), "/console/resources/"+rid)
	if strings.Contains(string(page.Body), `id="invite-send-email"`) || !strings.Contains(string(page.Body), `id="email-unavailable"`) {
		t.Fatalf("console offers email without delivery:\n%s", page.Body)
	}
}

func TestTemplatePreviewAndTestMessage(t *testing.T) {
	env, md := emailEnv(t, apitest.Options{})
	var tl struct {
		Templates []mail.Listed `json:"templates"`
		Delivery  bool          `json:"delivery"`
	}
	env.Must(env.Do("GET", "/api/v1/mail/templates", env.APIKey, nil), http.StatusOK).JSON(t, &tl)
	names := map[string]bool{}
	for _, x := range tl.Templates {
		names[x.Name] = x.InService
	}
	for _, n := range []string{mail.Invitation, mail.InvitationToRegister, mail.RegistrationConfirmation, mail.LoginLink, mail.Resend} {
		if !names[n] {
			t.Errorf("template %s not listed in service: %+v", n, names)
		}
	}
	var p struct {
		Subject, HTML, Text, Source string
	}
	env.Must(env.Do("POST", "/api/v1/mail/templates/invitation/preview", env.APIKey, map[string]any{"locale": "fr-CA"}), http.StatusOK).JSON(t, &p)
	if p.Subject != "Olga Organizer invited you to Quarterly town hall" || !strings.Contains(p.HTML, "Gia Guest") || p.Source != mail.DefaultSource {
		t.Fatalf("preview = %+v", p)
	}
	if r := env.Do("POST", "/api/v1/mail/templates/nope/preview", env.APIKey, nil); r.Status != http.StatusNotFound {
		t.Fatalf("preview of an unknown template: %d %s", r.Status, r.Body)
	}
	var msg mail.Message
	env.Must(env.Do("POST", "/api/v1/mail/templates/login_link/test", env.APIKey, map[string]any{"to": "admin@org.test"}), http.StatusAccepted).JSON(t, &msg)
	got := md.Wait(1, 15*time.Second)
	if got[0].Subject != "[Test] Your sign-in link for Example organization" || got[0].To[0].Address != "admin@org.test" {
		t.Fatalf("test message: %+v", got[0])
	}
	// The console's preview frame: the rendered HTML under a sandboxing policy.
	c := env.SignIn(env.Admin)
	r := env.Get(c, "/console/email/preview/invitation")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Gia Guest") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("preview frame: %d %v %s", r.Status, r.Header, r.Body)
	}
	if r := env.Get(c, "/console/email"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "login_link") {
		t.Fatalf("console email page: %d", r.Status)
	}
	// Members may not.
	_, member := env.ConsoleUser("m@org.test", "member")
	if r := env.Get(member, "/console/email"); r.Status != http.StatusForbidden {
		t.Fatalf("member on the email page: %d", r.Status)
	}
}

// The invitee opens the link from the email they received and enters the
// demo room: the owner invites from the console with "Send the link by
// email" ticked.
func TestBrowserGuestEntersFromTheEmail(t *testing.T) {
	env, md := emailEnv(t, apitest.Options{RealClock: true})
	chooseTemplate(env, mail.Invitation)
	start := time.Now().UTC().Add(-time.Minute)
	rid := env.Resource(map[string]any{"type": "webcast", "title": "Open webcast", "starts_at": start, "ends_at": start.Add(time.Hour)})

	owner := newBrowserProfile(t, env)
	owner.signInAsAdmin()
	owner.open(env.URL + "/console/resources/" + rid)
	if !owner.truth(`document.getElementById("invite-send-email").checked`) {
		t.Fatal("send by email is not offered ticked")
	}
	owner.do("fill and submit the invite form",
		chromedp.SendKeys(chromedp.ID("invite-email"), "lin@guest.test"),
		chromedp.SendKeys(chromedp.ID("invite-first"), "Lin"),
		chromedp.SendKeys(chromedp.ID("invite-last"), "Guest"),
		chromedp.SetValue(chromedp.ID("invite-role"), "moderator"),
		chromedp.Click(chromedp.ID("invite-submit")),
	)
	owner.waitFor(10*time.Second, "the confirmation saying the link is emailed", `!document.getElementById("link-emailed").hidden`)

	got := md.Wait(1, 15*time.Second)
	link := linkRE.FindString(got[0].Text)
	if link == "" {
		t.Fatalf("no link in the email:\n%s", got[0].Text)
	}
	guest := newBrowserProfile(t, env)
	guest.enterThroughLobby(link, "lin@guest.test")
	guest.waitRoom(rid)
	if r := guest.room(); r.Role != "moderator" || !strings.Contains(r.Who, "Lin Guest") {
		t.Fatalf("in the room as %+v", r)
	}

	// The owner's table shows the email as sent.
	owner.open(env.URL + "/console/resources/" + rid)
	owner.waitFor(5*time.Second, "the Email column", `document.querySelector("#invitations .email-status")`)
	if s := owner.str(`document.querySelector("#invitations .email-status").textContent`); !strings.HasPrefix(strings.TrimSpace(s), "sent") {
		t.Fatalf("Email column = %q", s)
	}
}
