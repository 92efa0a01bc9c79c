package mail

import (
	"regexp"
	"strings"
)

// queueIDPatterns find the accepting server's queue id in its answer to
// the message's data, in the forms the common servers write it:
//
//	250 2.0.0 Ok: queued as 4F1A2B3C4D                 (Postfix)
//	250 OK id=1qXyZa-0003Ab-Cd                          (Exim)
//	250 2.0.0 x12si345.67 - gsmtp                        (Gmail)
//	250 2.6.0 <...> [InternalId=123, Hostname=...] Queued mail for delivery (Exchange)
//	250 2.0.0 4A5B6C7D Message accepted for delivery     (Sendmail)
var queueIDPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)queued as ([^\s;,]+)`),
	regexp.MustCompile(`(?i)\bid=([^\s;,]+)`),
	regexp.MustCompile(`(?i)InternalId=([^\s;,\]]+)`),
	regexp.MustCompile(`^\d{3}(?: \d\.\d{1,3}\.\d{1,3})? ([^\s]+) - gsmtp`),
	regexp.MustCompile(`^\d{3}(?: \d\.\d{1,3}\.\d{1,3})? ([A-Za-z0-9]{6,}) (?i:message accepted)`),
}

// QueueID is the queue id in an SMTP server's answer, "" when it names none.
func QueueID(reply string) string {
	reply = strings.TrimSpace(reply)
	for _, p := range queueIDPatterns {
		if m := p.FindStringSubmatch(reply); m != nil {
			return strings.Trim(m[1], "<>.")
		}
	}
	return ""
}
