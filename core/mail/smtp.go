package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of the SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which must be offered (port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no encryption: only for a relay on loopback or a trusted network
)

// SMTPConfig says how to reach the SMTP server.
type SMTPConfig struct {
	Host string `yaml:"host"`
	// Port defaults to 587 (starttls), 465 (tls) or 25 (none).
	Port int `yaml:"port"`
	// TLS is starttls (default), tls or none.
	TLS string `yaml:"tls"`
	// Username and Password enable SMTP AUTH; Auth picks the mechanism:
	// auto (the strongest the server offers, default), plain, login,
	// cram-md5, scram-sha-256.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Auth     string `yaml:"auth"`
	// InsecureSkipVerify accepts any server certificate. Never in
	// production: anyone on the path could read the links.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Helo is the name the gateway gives in EHLO (default: the host name).
	Helo string `yaml:"helo"`
	// Timeout bounds connecting and each SMTP command (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

var authTypes = map[string]gomail.SMTPAuthType{
	"": gomail.SMTPAuthAutoDiscover, "auto": gomail.SMTPAuthAutoDiscover, "plain": gomail.SMTPAuthPlain,
	"login": gomail.SMTPAuthLogin, "cram-md5": gomail.SMTPAuthCramMD5, "scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
}

// Problems lists every mistake in the SMTP configuration (prefix names the
// config path).
func (c *SMTPConfig) Problems(prefix string) []string {
	var out []string
	if strings.TrimSpace(c.Host) == "" {
		out = append(out, prefix+"host: required")
	}
	if c.Port < 0 || c.Port > 65535 {
		out = append(out, fmt.Sprintf("%sport: %d is not a port", prefix, c.Port))
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		out = append(out, fmt.Sprintf("%stls: %q must be starttls, tls or none", prefix, c.TLS))
	}
	if _, ok := authTypes[strings.ToLower(c.Auth)]; !ok {
		out = append(out, fmt.Sprintf("%sauth: %q must be auto, plain, login, cram-md5 or scram-sha-256", prefix, c.Auth))
	}
	if (c.Username == "") != (c.Password == "") {
		out = append(out, prefix+"username and password: set both or neither")
	}
	if c.Timeout < 0 {
		out = append(out, prefix+"timeout: must not be negative")
	}
	return out
}

func (c *SMTPConfig) port() int {
	if c.Port != 0 {
		return c.Port
	}
	switch c.TLS {
	case TLSImplicit:
		return 465
	case TLSNone:
		return 25
	}
	return 587
}

// NewClient builds a go-mail client for the configuration. It does not
// connect.
func (c *SMTPConfig) NewClient() (*gomail.Client, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(c.port()), gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify})}
	switch c.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(authTypes[strings.ToLower(c.Auth)]), gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	if c.Helo != "" {
		opts = append(opts, gomail.WithHELO(c.Helo))
	}
	return gomail.NewClient(c.Host, opts...)
}

// ParseFrom checks a From address ("Name <addr@example.org>").
func ParseFrom(s string) (*netmail.Address, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an email address: %v", s, err)
	}
	return a, nil
}

// Domain is the domain of an address, for Message-IDs.
func Domain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

// sender holds one SMTP connection and reuses it across messages.
type sender struct {
	cfg  *SMTPConfig
	from *netmail.Address
	// envelope is the envelope sender when it is not from's address.
	envelope string
	client   *gomail.Client
	open     bool
	last     time.Time
}

// send delivers one message over the held connection, dialling first when
// there is none. reply is the server's answer to the message's data.
func (s *sender) send(ctx context.Context, m *Message) (reply string, err error) {
	if !s.open {
		if err := s.dial(ctx); err != nil {
			return "", err
		}
	}
	msg, err := buildMsg(s.from, m)
	if err == nil && s.envelope != "" {
		err = msg.EnvelopeFrom(s.envelope)
	}
	if err != nil {
		return "", &permanentError{err}
	}
	err = s.client.Send(msg)
	s.last = time.Now()
	if err != nil {
		var se *gomail.SendError
		if !errors.As(err, &se) || se.ErrorCode() == 0 {
			// Not the server's answer: the connection broke; the next
			// message starts a new one.
			s.close()
		}
		return "", err
	}
	return msg.ServerResponse(), nil
}

func (s *sender) dial(ctx context.Context) error {
	if s.client == nil {
		c, err := s.cfg.NewClient()
		if err != nil {
			return &permanentError{err}
		}
		s.client = c
	}
	if err := s.client.DialWithContext(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w", s.client.ServerAddr(), err)
	}
	s.open = true
	return nil
}

// close ends the connection (politely if it still works).
func (s *sender) close() {
	if s.client != nil && s.open {
		s.client.Close()
	}
	s.open = false
}

// buildMsg turns an outbox row into a MIME message: text and HTML as
// alternatives, the calendar invitation as invite.ics, the row's
// Message-ID and creation date, so every attempt sends the same message.
func buildMsg(from *netmail.Address, m *Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.FromFormat(from.Name, from.Address); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.AddToFormat(m.ToName, m.ToEmail); err != nil {
		return nil, fmt.Errorf("to %s: %w", m.ToEmail, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(strings.Trim(m.MessageID, "<>"))
	msg.SetDateWithValue(m.CreatedAt)
	msg.SetUserAgent("Invitegate")
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	if m.ICS != "" {
		if err := msg.AttachReader("invite.ics", strings.NewReader(m.ICS),
			gomail.WithFileContentType(gomail.ContentType("text/calendar; method=REQUEST"))); err != nil {
			return nil, fmt.Errorf("calendar invitation: %w", err)
		}
	}
	return msg, nil
}

// permanentError is a failure no retry can fix (a malformed address).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// temporary reports whether a retry may succeed: network trouble and 4xx
// answers are temporary; 5xx answers and malformed messages are not.
func temporary(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode() < 500
	}
	return true
}
