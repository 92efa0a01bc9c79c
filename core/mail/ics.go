package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Invite is a calendar invitation (RFC 5545, METHOD:REQUEST) for one
// attendee of a scheduled session.
type Invite struct {
	// UID identifies the event in the attendee's calendar: the same UID with
	// a higher Sequence updates it instead of adding another.
	UID       string
	Sequence  int64
	Start     time.Time
	End       time.Time
	Summary   string
	Details   string
	URL       string
	Organizer Person
	Attendee  Person
	Stamp     time.Time
}

// CalendarUID is the stable UID of a resource's session in one person's
// calendar.
func CalendarUID(resourceID, email, domain string) string {
	h := sha256.Sum256([]byte(strings.ToLower(email)))
	return resourceID + "-" + hex.EncodeToString(h[:6]) + "@" + domain
}

// ICS writes the invitation as an iCalendar object.
func (in *Invite) ICS() string {
	end := in.End
	if !end.After(in.Start) {
		end = in.Start.Add(time.Hour)
	}
	var b strings.Builder
	line := func(s string) { b.WriteString(fold(s)); b.WriteString("\r\n") }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Invitegate//Invitegate//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:REQUEST")
	line("BEGIN:VEVENT")
	line("UID:" + escapeText(in.UID))
	line("SEQUENCE:" + itoa(in.Sequence))
	line("DTSTAMP:" + icsTime(in.Stamp))
	line("DTSTART:" + icsTime(in.Start))
	line("DTEND:" + icsTime(end))
	line("SUMMARY:" + escapeText(in.Summary))
	if in.Details != "" {
		line("DESCRIPTION:" + escapeText(in.Details))
	}
	if in.URL != "" {
		line("URL:" + in.URL)
		line("LOCATION:" + escapeText(in.URL))
	}
	if in.Organizer.Email != "" {
		line("ORGANIZER;CN=" + paramText(in.Organizer.Name) + ":mailto:" + in.Organizer.Email)
	}
	line("ATTENDEE;CN=" + paramText(in.Attendee.Name) + ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:" + in.Attendee.Email)
	line("STATUS:CONFIRMED")
	line("TRANSP:OPAQUE")
	line("END:VEVENT")
	line("END:VCALENDAR")
	return b.String()
}

func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

func itoa(n int64) string {
	if n < 0 {
		n = 0
	}
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(buf[i:])
}

// textEscaper escapes a TEXT value (RFC 5545 3.3.11). A Replacer is safe
// for concurrent use and costly to build, so there is one.
var textEscaper = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)

func escapeText(s string) string { return textEscaper.Replace(s) }

// paramText makes a parameter value safe: quoted, without quotes or
// control characters.
func paramText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return `"` + s + `"`
}

// fold splits a content line into 75-octet pieces (RFC 5545 3.1) without
// cutting a UTF-8 character.
func fold(s string) string {
	if len(s) <= 75 {
		return s
	}
	var b strings.Builder
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(s)
	return b.String()
}
