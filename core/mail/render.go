package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

// Rendered is an email ready for the outbox.
type Rendered struct {
	Subject string
	HTML    string
	Text    string
}

// compiled is a parsed template.
type compiled struct {
	src     Template
	subject *texttemplate.Template
	html    *htmltemplate.Template
	text    *texttemplate.Template
}

// MaxTemplateBytes bounds each part of a template, so a provider cannot make
// the gateway store or render something huge.
const MaxTemplateBytes = 256 << 10

// compile parses a template's three parts; any failure names the part.
func compile(t Template) (*compiled, error) {
	var errs []error
	if t.Name == "" || t.Locale == "" {
		errs = append(errs, errors.New("a template needs a name and a locale"))
	}
	if strings.TrimSpace(t.Subject) == "" {
		errs = append(errs, errors.New("subject: empty"))
	}
	if strings.TrimSpace(t.HTML) == "" && strings.TrimSpace(t.Text) == "" {
		errs = append(errs, errors.New("an HTML or a text body is required"))
	}
	for part, s := range map[string]string{"subject": t.Subject, "html": t.HTML, "text": t.Text} {
		if len(s) > MaxTemplateBytes {
			errs = append(errs, fmt.Errorf("%s: longer than %d bytes", part, MaxTemplateBytes))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &compiled{src: t}
	var err error
	if c.subject, err = texttemplate.New("subject").Option("missingkey=error").Parse(t.Subject); err != nil {
		errs = append(errs, fmt.Errorf("subject: %w", err))
	}
	if c.html, err = htmltemplate.New("html").Option("missingkey=error").Parse(t.HTML); err != nil {
		errs = append(errs, fmt.Errorf("html: %w", err))
	}
	if c.text, err = texttemplate.New("text").Option("missingkey=error").Parse(t.Text); err != nil {
		errs = append(errs, fmt.Errorf("text: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// renderSubject executes the subject against m, as one line.
func (c *compiled) renderSubject(m *Model) (string, error) {
	var sub bytes.Buffer
	if err := c.subject.Execute(&sub, m); err != nil {
		return "", fmt.Errorf("subject: %w", err)
	}
	subject := strings.Join(strings.Fields(sub.String()), " ")
	if subject == "" {
		return "", errors.New("subject: renders empty")
	}
	return subject, nil
}

// render executes the template against m. The subject becomes one line.
func (c *compiled) render(m *Model) (*Rendered, error) {
	subject, err := c.renderSubject(m)
	if err != nil {
		return nil, err
	}
	var html, text bytes.Buffer
	if strings.TrimSpace(c.src.HTML) != "" {
		if err := c.html.Execute(&html, m); err != nil {
			return nil, fmt.Errorf("html: %w", err)
		}
	}
	if strings.TrimSpace(c.src.Text) != "" {
		if err := c.text.Execute(&text, m); err != nil {
			return nil, fmt.Errorf("text: %w", err)
		}
	}
	return &Rendered{Subject: subject, HTML: html.String(), Text: text.String()}, nil
}

// Check parses t and renders it with the sample model: what a refresh
// accepts is what can be sent.
func Check(t Template) error {
	c, err := compile(t)
	if err != nil {
		return err
	}
	_, err = c.render(SampleModel(time.Now()))
	return err
}

// SampleModel is the model previews and test messages render: a guest
// invited as a speaker to a webcast tomorrow.
func SampleModel(now time.Time) *Model {
	start := now.UTC().Add(24 * time.Hour).Truncate(time.Hour)
	end := start.Add(time.Hour)
	m := &Model{
		Invitee: Person{Name: "Gia Guest", FirstName: "Gia", LastName: "Guest", Email: "gia.guest@example.org"},
		Role:    "Speaker", RoleID: "speaker",
		Resource: Resource{
			Title: "Quarterly town hall", Description: "Results, plans and your questions.",
			Type: "Webcast", TypeID: "webcast", Live: true, StartsAt: &start, EndsAt: &end, TimeZone: "UTC",
		},
		Link:      "https://invite.example.org/i/SAMPLE-LINK",
		ExpiresAt: start.Add(7 * 24 * time.Hour),
		Organizer: Person{Name: "Olga Organizer", FirstName: "Olga", LastName: "Organizer", Email: "olga@example.org"},
		Account:   "Example organization",
	}
	m.Resource.Schedule = Schedule(m.Resource.StartsAt, m.Resource.EndsAt, m.Resource.TimeZone)
	m.Expires = FormatTime(m.ExpiresAt, "UTC")
	return m
}

// Schedule writes a schedule the way an email states it, in the time zone
// tz (an IANA name; UTC when empty or unknown): "Tuesday 1 December 2026,
// 14:00–15:00 (Europe/Paris)".
func Schedule(start, end *time.Time, tz string) string {
	if start == nil {
		return ""
	}
	loc := location(tz)
	s := start.In(loc)
	out := s.Format("Monday 2 January 2006, 15:04")
	if end != nil && end.After(*start) {
		e := end.In(loc)
		if e.YearDay() == s.YearDay() && e.Year() == s.Year() {
			out += "–" + e.Format("15:04")
		} else {
			out += " – " + e.Format("Monday 2 January 2006, 15:04")
		}
	}
	return out + " (" + loc.String() + ")"
}

// FormatTime writes one instant in the time zone tz.
func FormatTime(t time.Time, tz string) string {
	loc := location(tz)
	return t.In(loc).Format("Monday 2 January 2006, 15:04") + " (" + loc.String() + ")"
}

func location(tz string) *time.Location {
	if tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return time.UTC
}
