//go:build bench

package host_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/static"
)

var benchRooms = map[string]any{
	"join_url": "https://video.example.org/join/{resource}?role={role}&u={user}",
	"rooms":    []any{map[string]any{"id": "bio-101", "type": "room", "title": "Biology 101"}},
}

// TestBench_plugin_unary: the round trip of one room adapter call through the
// host to the real plugin process (gRPC over a Unix socket with mutual TLS),
// beside the same call on the same adapter in-process, and beside the same
// call over bare gRPC (testdata/baregrpc: same socket, TLS and settings, no
// go-plugin, no host), the floor the host can reach on this machine.
func TestBench_plugin_unary(t *testing.T) {
	const warmup, n = 1000, 20000
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	h, err := host.New([]host.Config{{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum, Config: benchRooms}}, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer h.Stop(ctx)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	remote, _ := host.ClientOf[roomadapter.RoomAdapter](h, "rooms")

	local := static.New(nil)
	raw := []byte(`{"join_url": "https://video.example.org/join/{resource}?role={role}&u={user}", "rooms": [{"id": "bio-101", "type": "room", "title": "Biology 101"}]}`)
	if err := local.Configure(ctx, 1, raw); err != nil {
		t.Fatal(err)
	}

	measure := func(ra roomadapter.RoomAdapter) []time.Duration {
		user := roomadapter.Person{ID: "u1", Email: "ann@example.org"}
		for range warmup {
			if _, err := ra.JoinURL(ctx, "bio-101", user, "viewer"); err != nil {
				t.Fatal(err)
			}
		}
		d := make([]time.Duration, n)
		for i := range n {
			start := time.Now()
			u, err := ra.JoinURL(ctx, "bio-101", user, "viewer")
			d[i] = time.Since(start)
			if err != nil || u == "" {
				t.Fatal(err)
			}
		}
		slices.Sort(d)
		return d
	}
	rd := measure(remote)
	ld := measure(local)
	bd := measure(bareGRPC(t, raw))
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[int(float64(len(d)-1)*p)].Nanoseconds()) / 1000
	}
	t.Logf("plugin process: p50 %.1fµs p90 %.1fµs p99 %.1fµs max %.1fµs over %d calls", pct(rd, .5), pct(rd, .9), pct(rd, .99), pct(rd, 1), n)
	t.Logf("bare gRPC:      p50 %.1fµs p90 %.1fµs p99 %.1fµs max %.1fµs over %d calls", pct(bd, .5), pct(bd, .9), pct(bd, .99), pct(bd, 1), n)
	t.Logf("in-process:     p50 %.2fµs p99 %.2fµs", pct(ld, .5), pct(ld, .99))
	fmt.Printf("plugin_unary p99: %.1f µs (baseline %.2f µs)\n", pct(rd, .99), pct(ld, .99))
	fmt.Printf("plugin_unary bare gRPC: p50 %.1f µs, p99 %.1f µs\n", pct(bd, .5), pct(bd, .99))
	if p50 := pct(rd, .5); p50 > 150 {
		t.Logf("p50 %.1fµs MISSES the 150µs target", p50)
	}
	fmt.Printf("bench plugin_unary: %.1f µs (baseline %.2f µs, ratio %.1f)\n", pct(rd, .5), pct(ld, .5), pct(rd, .5)/pct(ld, .5))
}

// bareGRPC starts testdata/baregrpc with the adapter config raw and returns
// a client of it that dials as the host does (go-plugin's TLS settings and
// the host's dial options) and gives each call the host's default deadline.
func bareGRPC(t *testing.T, raw []byte) roomadapter.RoomAdapter {
	t.Helper()
	bin, _ := plugintest.Build(t, "./plugins/host/testdata/baregrpc")
	cert := benchCertificate(t)
	socket := filepath.Join(t.TempDir(), "bare.sock")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "BAREGRPC_SOCKET="+socket, "BAREGRPC_CONFIG="+string(raw),
		"BAREGRPC_CLIENT_CERT="+base64.StdEncoding.EncodeToString(cert.Certificate[0]))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("baregrpc did not start: %v", err)
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(serverCert)
	conn, err := grpc.NewClient("passthrough:///baregrpc",
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12,
		})),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}),
		grpc.WithInitialWindowSize(1<<20),
		grpc.WithInitialConnWindowSize(1<<20),
		grpc.WithSharedWriteBuffer(true),
		grpc.WithDisableRetry(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return deadlineAdapter{roomadapter.NewClient(conn)}
}

// deadlineAdapter gives each JoinURL the deadline the host gives a call
// whose context has none.
type deadlineAdapter struct{ *roomadapter.Client }

func (d deadlineAdapter) JoinURL(ctx context.Context, resourceID string, user roomadapter.Person, role string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return d.Client.JoinURL(ctx, resourceID, user, role)
}

// benchCertificate is a one-time self-signed P-521 certificate, as
// go-plugin's AutoMTLS makes for the host.
func benchCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          big.NewInt(1),
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
