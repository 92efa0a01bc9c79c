package mail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"

	"github.com/emersion/go-message"
)

// DSN is what the gateway reads of a delivery status notification
// (RFC 3464): which message it is about and what became of it.
type DSN struct {
	// MessageID is the original message's Message-ID, from the report's
	// text/rfc822-headers or message/rfc822 part.
	MessageID  string
	Recipients []DSNRecipient
}

// DSNRecipient is one per-recipient block of the report.
type DSNRecipient struct {
	FinalRecipient string
	// Action is failed, delayed, delivered, relayed or expanded.
	Action string
	// Status is the enhanced status code (RFC 3463), e.g. 5.1.1.
	Status     string
	Diagnostic string
}

// ErrNotDSN is the answer for a message that is not a delivery status
// notification (a reply, an autoresponder's note).
var ErrNotDSN = errors.New("not a delivery status notification (multipart/report; report-type=delivery-status)")

// ParseDSN reads a delivery status notification.
func ParseDSN(r io.Reader) (*DSN, error) {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("read the message: %w", err)
	}
	t, params, _ := e.Header.ContentType()
	if t != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") {
		return nil, ErrNotDSN
	}
	mr := e.MultipartReader()
	if mr == nil {
		return nil, ErrNotDSN
	}
	d := &DSN{}
	sawStatus := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return nil, fmt.Errorf("read the report: %w", err)
		}
		pt, _, _ := p.Header.ContentType()
		switch pt {
		case "message/delivery-status", "message/global-delivery-status":
			rs, err := readStatusBlocks(p.Body)
			if err != nil {
				return nil, err
			}
			d.Recipients, sawStatus = rs, true
		case "text/rfc822-headers", "text/global-headers":
			h, err := textproto.NewReader(bufio.NewReader(p.Body)).ReadMIMEHeader()
			if err != nil && len(h) == 0 {
				return nil, fmt.Errorf("read the returned headers: %w", err)
			}
			d.MessageID = strings.TrimSpace(h.Get("Message-Id"))
		case "message/rfc822", "message/global":
			orig, err := message.Read(p.Body)
			if err != nil && orig == nil {
				return nil, fmt.Errorf("read the returned message: %w", err)
			}
			d.MessageID = strings.TrimSpace(orig.Header.Get("Message-Id"))
		}
	}
	if !sawStatus {
		return nil, ErrNotDSN
	}
	return d, nil
}

// readStatusBlocks reads the message/delivery-status body: header-like
// blocks separated by blank lines, the first about the message, each
// other about one recipient.
func readStatusBlocks(body io.Reader) ([]DSNRecipient, error) {
	tp := textproto.NewReader(bufio.NewReader(body))
	var out []DSNRecipient
	first := true
	for {
		h, err := tp.ReadMIMEHeader()
		if len(h) > 0 && first {
			first = false
		} else if len(h) > 0 {
			out = append(out, DSNRecipient{
				FinalRecipient: strings.TrimSpace(h.Get("Final-Recipient")),
				Action:         strings.ToLower(strings.TrimSpace(h.Get("Action"))),
				Status:         strings.TrimSpace(h.Get("Status")),
				Diagnostic:     strings.Join(strings.Fields(h.Get("Diagnostic-Code")), " "),
			})
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the delivery status: %w", err)
		}
	}
}

// Failure is what the report says went wrong, if anything: the first
// recipient whose action is failed (a 5.x.x status: Hard) or delayed
// (4.x.x: Soft). ok is false for a report of success (delivered,
// relayed, expanded).
func (d *DSN) Failure() (f Failure, ok bool) {
	for _, r := range d.Recipients {
		if r.Action != "failed" && r.Action != "delayed" {
			continue
		}
		kind := Soft
		if strings.HasPrefix(r.Status, "5.") || (r.Action == "failed" && !strings.HasPrefix(r.Status, "4.")) {
			kind = Hard
		}
		why := "bounce: " + r.Action + " " + r.Status
		if r.Diagnostic != "" {
			why += " (" + r.Diagnostic + ")"
		}
		return Failure{Kind: kind, Why: why}, true
	}
	return Failure{}, false
}
