package bulk

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/invitegate/gateway/core/user"
)

// checkRow fills row from the cells of its record and returns what is wrong
// with it. The limits are event.Profile's, so a row that passes here is one
// the console's invite form would accept.
func checkRow(row *Row, cells *[7]string, present *[7]bool) []Problem {
	var probs []Problem
	add := func(col, msg, fix string) {
		probs = append(probs, Problem{Line: row.Line, Column: col, Message: msg, Fix: fix})
	}
	email, msg, fix := CheckEmail(cells[0])
	if msg != "" {
		add(ColEmail, msg, fix)
	}
	row.Email = email
	row.FirstName = text(add, ColFirstName, cells[1], 100, true, false)
	row.LastName = text(add, ColLastName, cells[2], 100, true, false)
	row.Title = text(add, ColTitle, cells[3], 200, false, true)
	row.Company = text(add, ColCompany, cells[4], 200, false, true)
	row.Speaker = flag(add, ColSpeaker, cells[5])
	row.Moderator = flag(add, ColModerator, cells[6])
	if row.Speaker != Yes && row.Moderator != Yes {
		for _, c := range []struct{ col, v string }{{ColTitle, row.Title}, {ColCompany, row.Company}} {
			if c.v != "" {
				add(c.col, c.col+" is for speakers and moderators: set Speaker or Moderator to Yes, or leave "+c.col+" empty", "")
			}
		}
	}
	return probs
}

// text trims a cell and checks its length and characters. A name is one
// line; a title or a company (lines) may have line breaks, as a speaker's
// title written on two lines does. Each is kept as LF: CSV writes a break
// inside quotes as CRLF and the csv reader gives it back as LF, so a lone
// CR (an old Mac break) is read as LF too, and what the All users export
// writes reads back the same.
func text(add func(col, msg, fix string), col, s string, max int, required, lines bool) string {
	s = strings.TrimSpace(s)
	if lines && strings.IndexByte(s, '\r') >= 0 {
		s = oneBreak(s)
	}
	if s == "" {
		if required {
			add(col, col+" is required", "")
		}
		return ""
	}
	if n := utf8.RuneCountInString(s); n > max {
		add(col, fmt.Sprintf("%s is %d characters long; at most %d are allowed", col, n, max), "")
		return s
	}
	for _, r := range s {
		if r == '\n' && lines {
			continue
		}
		if r == '\n' || r == '\r' {
			add(col, col+" contains a line break; it must be one line", "")
			break
		}
		if unicode.IsControl(r) {
			add(col, fmt.Sprintf("%s contains the control character %U", col, r), "")
			break
		}
	}
	return s
}

// oneBreak writes every line break of s (CRLF, CR or LF) as LF.
func oneBreak(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// flag reads a Yes/No cell: Yes or No in any case, or empty.
func flag(add func(col, msg, fix string), col, s string) Flag {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return Unset
	case "yes":
		return Yes
	case "no":
		return No
	}
	add(col, fmt.Sprintf("%s must be Yes or No (or empty); found %q", col, clip(s, 40)), "")
	return Unset
}

// CheckEmail normalizes an address as the gateway stores it and says what
// is wrong with it, if anything: syntax, characters other than plain ASCII
// (emoji included), or a domain that is an obvious typo of a common one, in
// which case fix is the address as probably meant.
func CheckEmail(s string) (email, problem, fix string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "Email is required", ""
	}
	for _, r := range s {
		switch {
		case r > unicode.MaxASCII && isEmoji(r):
			return "", fmt.Sprintf("email %q contains the emoji %c; addresses are plain ASCII", clip(s, 80), r), ""
		case r > unicode.MaxASCII:
			return "", fmt.Sprintf("email %q contains the character %q (%U); only plain ASCII letters, digits and . _ - + are accepted", clip(s, 80), r, r), ""
		case r == ' ' || r == '\t':
			return "", fmt.Sprintf("email %q contains a space", clip(s, 80)), ""
		case unicode.IsControl(r):
			return "", fmt.Sprintf("email %q contains the control character %U", clip(s, 80), r), ""
		}
	}
	if strings.Count(s, "@") != 1 {
		if !strings.Contains(s, "@") {
			return "", fmt.Sprintf("email %q has no @", clip(s, 80)), ""
		}
		return "", fmt.Sprintf("email %q has more than one @", clip(s, 80)), ""
	}
	if i := strings.IndexAny(s, `<>()[]\,;:"`); i >= 0 {
		return "", fmt.Sprintf("email %q contains the special character %q; write the address alone, e.g. ann@example.org", clip(s, 80), s[i]), ""
	}
	e, err := user.NormalizeEmail(s)
	if err != nil {
		return "", "email " + err.Error(), ""
	}
	at := strings.LastIndexByte(e, '@')
	if strings.Contains(e[at+1:], "..") || strings.HasPrefix(e[at+1:], ".") || strings.HasPrefix(e, ".") || strings.Contains(e[:at], "..") {
		return "", fmt.Sprintf("email %q has two dots in a row or a dot at the start", e), ""
	}
	if d, ok := domainTypo(e[at+1:]); ok {
		return e, fmt.Sprintf("email %q: the domain %s looks like a typo of %s", e, e[at+1:], d), e[:at+1] + d
	}
	return e, "", ""
}

// isEmoji reports the pictographic ranges people paste into addresses.
func isEmoji(r rune) bool {
	return r >= 0x1F000 && r <= 0x1FAFF || r >= 0x2600 && r <= 0x27BF || r == 0xFE0F || r == 0x200D ||
		unicode.Is(unicode.So, r)
}
