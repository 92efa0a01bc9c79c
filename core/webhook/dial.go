package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// MaxResponseBody is how much of an endpoint's answer is read; the rest
// is never read.
const MaxResponseBody = 64 << 10

// Resolver finds a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrRefusedTarget is a delivery refused because the endpoint's address
// is one deliveries may not reach.
var ErrRefusedTarget = errors.New("refused address")

// cloudMetadata are the instance metadata services of the clouds, which
// hand out credentials to whoever asks from the machine.
var cloudMetadata = [...]netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}

// refusedAddr says why a delivery may not reach ip ("" when it may):
// loopback, private (RFC 1918, fc00::/7), link-local, shared (CGNAT),
// unspecified, multicast and the cloud metadata addresses are the
// gateway's own network, not the receivers'.
func refusedAddr(ip netip.Addr) string {
	ip = ip.Unmap()
	for _, m := range cloudMetadata {
		if ip == m {
			return fmt.Sprintf("%s is the cloud metadata address", ip)
		}
	}
	switch {
	case ip.IsLoopback():
		return fmt.Sprintf("%s is a loopback address", ip)
	case ip.IsPrivate(), netip.MustParsePrefix("100.64.0.0/10").Contains(ip):
		return fmt.Sprintf("%s is a private address", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Sprintf("%s is a link-local address", ip)
	case ip.IsUnspecified(), ip.IsMulticast(), netip.MustParsePrefix("0.0.0.0/8").Contains(ip):
		return fmt.Sprintf("%s is not a unicast address", ip)
	}
	return ""
}

// refusedHost says why an endpoint URL's host may not be saved: an
// address, or a name resolving to one, that deliveries may not reach. A
// name that does not resolve now is accepted: the dialer checks again
// at every delivery.
func (s *Service) refusedHost(ctx context.Context, host string) string {
	if s.cfg.AllowPrivateTargets {
		return ""
	}
	const allow = " (allow private targets with webhooks.allow_private_targets)"
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := refusedAddr(ip); why != "" {
			return "the URL's host " + why + allow
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := s.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return ""
	}
	for _, ip := range ips {
		if why := refusedAddr(ip); why != "" {
			return fmt.Sprintf("the URL's host %s resolves to %s%s", host, why, allow)
		}
	}
	return ""
}

func (s *Service) resolver() Resolver {
	if s.cfg.Resolver != nil {
		return s.cfg.Resolver
	}
	return net.DefaultResolver
}

// newClient is the HTTP client of deliveries: it follows no redirect
// (a 3xx is a failed attempt), gives up after Timeout, and dials only
// addresses refusedAddr allows unless private targets are. The check is
// on the address dialled, after resolution, so a name that resolves to a
// private address (or is changed to, after the URL was saved) is refused.
func newClient(cfg *Config) *http.Client {
	d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivateTargets {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrRefusedTarget, address)
			}
			if why := refusedAddr(ap.Addr()); why != "" {
				return fmt.Errorf("%w: %s", ErrRefusedTarget, why)
			}
			return nil
		}
	}
	dial := d.DialContext
	if r := cfg.Resolver; r != nil {
		dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			if _, err := netip.ParseAddr(host); err == nil {
				return d.DialContext(ctx, network, address)
			}
			ips, err := r.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, err
			}
			var last error = &net.DNSError{Err: "no addresses", Name: host}
			for _, ip := range ips {
				c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		}
	}
	t := &http.Transport{
		DialContext:           dial,
		Proxy:                 nil, // a proxy would dial for us, past the check
		MaxIdleConnsPerHost:   cfg.Workers,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func replicaName() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", h, os.Getpid())
}
