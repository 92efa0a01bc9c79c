package mail

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultsRenderTheSampleModel(t *testing.T) {
	defs, err := loadDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{Invitation, InvitationToRegister, RegistrationConfirmation, LoginLink, Resend} {
		tmpl, ok := defs[name+"/en"]
		if !ok {
			t.Fatalf("no embedded default %s/en", name)
		}
		cp, err := compile(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		m := SampleModel(time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC))
		r, err := cp.render(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for part, body := range map[string]string{"html": r.HTML, "text": r.Text} {
			if !strings.Contains(body, m.Link) || !strings.Contains(body, "Gia Guest") {
				t.Errorf("%s %s lacks the link or the name:\n%s", name, part, body)
			}
		}
	}
}

func TestRenderEscapesHTMLButNotText(t *testing.T) {
	cp, err := compile(Template{Name: "x", Locale: "en", Subject: "Hi {{.Invitee.Name}}", HTML: "<p>{{.Invitee.Name}}</p><a href=\"{{.Link}}\">go</a>", Text: "{{.Invitee.Name}}"})
	if err != nil {
		t.Fatal(err)
	}
	m := SampleModel(time.Now())
	m.Invitee.Name = `<script>alert(1)</script> & co`
	m.Link = "javascript:alert(1)"
	r, err := cp.render(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<script>") || !strings.Contains(r.HTML, "&lt;script&gt;") {
		t.Errorf("HTML not escaped: %s", r.HTML)
	}
	if strings.Contains(r.HTML, `href="javascript:`) {
		t.Errorf("a javascript: link survived: %s", r.HTML)
	}
	if r.Text != m.Invitee.Name {
		t.Errorf("text body %q, want the name as is", r.Text)
	}
}

func TestSubjectIsOneLine(t *testing.T) {
	cp, _ := compile(Template{Name: "x", Locale: "en", Subject: "Hi\r\nBcc: evil@example.org {{.Invitee.Name}}", Text: "x"})
	m := SampleModel(time.Now())
	m.Invitee.Name = "a\nb"
	r, err := cp.render(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(r.Subject, "\r\n") {
		t.Fatalf("subject %q spans lines", r.Subject)
	}
}

func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Template
		want string
	}{
		{"parse error", Template{Name: "x", Locale: "en", Subject: "Hi {{.Invitee.Name", Text: "x"}, "subject"},
		{"unknown field", Template{Name: "x", Locale: "en", Subject: "Hi", HTML: "{{.Nope}}"}, "html"},
		{"no body", Template{Name: "x", Locale: "en", Subject: "Hi"}, "body"},
		{"no subject", Template{Name: "x", Locale: "en", Text: "x"}, "subject"},
		{"exec error", Template{Name: "x", Locale: "en", Subject: "Hi", Text: "{{index .Invitee.Name 99}}"}, "text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.t)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error about %s", err, tc.want)
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	start := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Minute)
	if got, want := Schedule(&start, &end, "Europe/Paris"), "Tuesday 1 December 2026, 14:00–15:30 (Europe/Paris)"; got != want {
		t.Fatalf("Schedule = %q, want %q", got, want)
	}
	if got := Schedule(nil, nil, ""); got != "" {
		t.Fatalf("no schedule = %q", got)
	}
}

func TestICS(t *testing.T) {
	start := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	in := &Invite{UID: "r1-abc@gw.test", Sequence: 7, Start: start, Summary: "Town hall; Q4, results",
		Details: "Line one\nJoin: https://gw.test/i/x", URL: "https://gw.test/i/x", Stamp: start,
		Organizer: Person{Name: "Olga", Email: "olga@example.org"}, Attendee: Person{Name: `Gia "G" Guest`, Email: "gia@example.org"}}
	ics := in.ICS()
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "METHOD:REQUEST\r\n", "UID:r1-abc@gw.test\r\n", "SEQUENCE:7\r\n",
		"DTSTART:20261201T130000Z\r\n", "DTEND:20261201T140000Z\r\n", `SUMMARY:Town hall\; Q4\, results`,
		"ORGANIZER;CN=\"Olga\":mailto:olga@example.org", "ATTENDEE;CN=\"Gia G Guest\"", "END:VCALENDAR\r\n"} {
		if !strings.Contains(ics, want) {
			t.Errorf("ICS lacks %q:\n%s", want, ics)
		}
	}
	for _, l := range strings.Split(ics, "\r\n") {
		if len(l) > 75 {
			t.Errorf("line longer than 75 octets: %q", l)
		}
	}
}
