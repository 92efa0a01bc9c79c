// Command baregrpc is the plugin_unary benchmark's reference point: the room
// adapter service of the static rooms plugin, served over a Unix socket with
// mutual TLS and the same gRPC server settings as a plugin built with the
// SDK, but without go-plugin (no handshake, broker or stdio streams) and
// without the host. The benchmark's own client dials it with the host's
// settings, so the difference between the two figures is what go-plugin and
// the host add to a call.
//
// Environment: BAREGRPC_SOCKET (the socket to listen on), BAREGRPC_CLIENT_CERT
// (the client's certificate, base64 DER) and BAREGRPC_CONFIG (the adapter's
// JSON config). It prints its own certificate (base64 DER) on one line, as
// go-plugin's AutoMTLS does, then serves until stdin closes.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/static"
)

func main() {
	// As plugins.ServeKind: one P, and a worker per P (no long-lived
	// streams here).
	runtime.GOMAXPROCS(1)
	adapter := static.New(nil)
	if err := adapter.Configure(context.Background(), 1, []byte(os.Getenv("BAREGRPC_CONFIG"))); err != nil {
		log.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(os.Getenv("BAREGRPC_CLIENT_CERT"))
	if err != nil {
		log.Fatal(err)
	}
	clientCert, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	cert, err := certificate()
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("unix", os.Getenv("BAREGRPC_SOCKET"))
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
		})),
		grpc.InitialWindowSize(1<<20),
		grpc.InitialConnWindowSize(1<<20),
		grpc.NumStreamWorkers(1),
		grpc.SharedWriteBuffer(true),
	)
	if err := (&roomadapter.GRPCPlugin{Impl: adapter}).GRPCServer(nil, s); err != nil {
		log.Fatal(err)
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		s.Stop()
	}()
	fmt.Println(base64.StdEncoding.EncodeToString(cert.Certificate[0]))
	if err := s.Serve(l); err != nil && err != grpc.ErrServerStopped {
		log.Fatal(err)
	}
}

// certificate is a one-time self-signed P-521 certificate for localhost, as
// go-plugin's AutoMTLS makes for each side.
func certificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
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
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
