package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (go-smtp) whose answers a test decides:
// it keeps what it accepts and can refuse with any reply.
type smtpServer struct {
	Addr string
	Port int

	mu       sync.Mutex
	received []receivedMsg
	// refuse, when set, answers RCPT TO with this error.
	refuse *smtp.SMTPError
	// refuseTo answers RCPT TO of one address with its error, the first
	// times tries (every try when times is 0).
	refuseTo map[string]*refusal
	// queueIDs, when set, makes the answer to DATA name a queue id the way
	// Postfix does ("Ok: queued as Q1").
	queueIDs bool
	queued   int
	// user/pass require AUTH PLAIN when set.
	user, pass string
	authed     int
	conns      int
	closed     bool
	stop       func()
}

type receivedMsg struct {
	From, To string
	Data     []byte
}

type tlsMode int

const (
	plainSMTP tlsMode = iota
	startTLS
	implicitTLS
)

func newSMTPServer(t *testing.T, mode tlsMode) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = mode == plainSMTP
	var ln net.Listener
	var err error
	switch mode {
	case implicitTLS:
		ln, err = tls.Listen("tcp", "127.0.0.1:0", selfSigned(t))
	default:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if mode == startTLS {
			srv.TLSConfig = selfSigned(t)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	s.stop = func() { srv.Close() }
	t.Cleanup(func() { srv.Close() })
	return s
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func (s *smtpServer) setRefuse(e *smtp.SMTPError) { s.mu.Lock(); s.refuse = e; s.mu.Unlock() }

// refusal is how refuseTo answers one address.
type refusal struct {
	err   *smtp.SMTPError
	times int
	tries int
}

// refuseAddr refuses to with e, the first times tries (0: always).
func (s *smtpServer) refuseAddr(to string, e *smtp.SMTPError, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseTo == nil {
		s.refuseTo = map[string]*refusal{}
	}
	s.refuseTo[to] = &refusal{err: e, times: times}
}

func (s *smtpServer) messages() []receivedMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMsg(nil), s.received...)
}

func (s *smtpServer) connections() int { s.mu.Lock(); defer s.mu.Unlock(); return s.conns }

func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &smtpSession{s: s}, nil
}

type smtpSession struct {
	s        *smtpServer
	from, to string
	authed   bool
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.authed++
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	refuse := ss.s.refuse
	if r := ss.s.refuseTo[to]; r != nil && refuse == nil {
		r.tries++
		if r.times == 0 || r.tries <= r.times {
			refuse = r.err
		}
	}
	ss.s.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	ss.to = to
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.received = append(ss.s.received, receivedMsg{From: ss.from, To: ss.to, Data: b})
	ss.s.queued++
	n, withID := ss.s.queued, ss.s.queueIDs
	ss.s.mu.Unlock()
	if withID {
		// A 250 "error" is how go-smtp lets a server choose its answer.
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: fmt.Sprintf("Ok: queued as 4F1A2B%d", n)}
	}
	return nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", "" }
func (ss *smtpSession) Logout() error { return nil }

// closeServer stops a server; its port then refuses connections.
func closeServer(t *testing.T, s *smtpServer) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err == nil {
		c.Close()
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
}
