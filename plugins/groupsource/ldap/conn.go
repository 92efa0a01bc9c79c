package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/invitegate/gateway/plugins"
)

// connect opens one connection for one listing, upgraded to TLS and bound
// as configured. A sync is rare and long, so a connection per sync is
// simpler than a pool and never hands a listing a connection the directory
// has dropped. The connection is closed when ctx ends, which also ends a
// request in flight.
func connect(ctx context.Context, c *Config) (*goldap.Conn, func(), error) {
	u, _ := url.Parse(c.URL) // checked by Configure
	tlsConf := &tls.Config{RootCAs: c.roots, ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = u.Hostname()
	}
	d := &net.Dialer{Timeout: c.timeout()}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	conn, err := goldap.DialURL(c.URL, goldap.DialWithDialer(d), goldap.DialWithTLSConfig(tlsConf))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: cannot connect to the directory at %s: %v", plugins.ErrUnavailable, c.URL, explainTLS(err))
	}
	conn.SetTimeout(c.timeout())
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	done := func() { stop(); conn.Close() }
	if c.StartTLS {
		if err := conn.StartTLS(tlsConf); err != nil {
			done()
			return nil, nil, fmt.Errorf("StartTLS with %s failed: %v", c.URL, explainTLS(err))
		}
	}
	if c.BindDN == "" {
		err = conn.UnauthenticatedBind("")
	} else {
		err = conn.Bind(c.BindDN, c.password)
	}
	if err != nil {
		done()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		who := "anonymous bind"
		if c.BindDN != "" {
			who = fmt.Sprintf("bind as %q", c.BindDN)
		}
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return nil, nil, fmt.Errorf("the directory at %s refused the %s: wrong DN or password (%v)", c.URL, who, err)
		}
		return nil, nil, fmt.Errorf("the directory at %s refused the %s: %v", c.URL, who, err)
	}
	return conn, done, nil
}

// explainTLS says what to change when a certificate is not trusted: the
// raw x509 message does not name the setting. go-ldap's StartTLS keeps only
// the text of the handshake's error, hence the text checks.
func explainTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	msg := err.Error()
	switch {
	case errors.As(err, &unknown) || strings.Contains(msg, "certificate signed by unknown authority"):
		return fmt.Errorf("TLS: the directory's certificate is not signed by a trusted CA (set ca_file to the CA that signs it): %v", err)
	case errors.As(err, &host) || strings.Contains(msg, "certificate is valid for") || strings.Contains(msg, "doesn't contain any IP SANs"):
		return fmt.Errorf("TLS: the directory's certificate does not name this host (check the URL's host or set server_name): %v", err)
	}
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) {
		return fmt.Errorf("TLS: the server did not answer in TLS (ldaps:// to a plain LDAP port?): %v", err)
	}
	return err
}
