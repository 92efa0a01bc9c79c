package ldap_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SlapdEnv names the variable that points at Debian's slapd; `make test`
// sets it. The directory tests start their own slapd with it.
const SlapdEnv = "GATEWAY_TEST_SLAPD"

const (
	suffix   = "dc=example,dc=org"
	rootDN   = "cn=admin," + suffix
	rootPW   = "root-secret"
	readerDN = "cn=reader," + suffix
	readerPW = "reader-secret"
	// sizeLimit is slapd's limit on the entries one search returns to the
	// reader: the big group has more members, so only a paged listing sees
	// them all.
	sizeLimit = 500
)

// slapd is a directory server started for one test.
type slapd struct {
	URL, LDAPS string // ldap:// (StartTLS offered) and ldaps://
	CAFile     string // the CA that signed the server's certificate
	dir        string
}

// startSlapd starts Debian's slapd with a config of its own in a temporary
// folder, on free loopback ports: the core, cosine, nis and inetorgperson
// schemas, one mdb database for dc=example,dc=org with a root DN, a reader
// who may read everything but is held to sizeLimit, and TLS with a CA made
// here. The test's cleanup stops it by the pid it started.
func startSlapd(t *testing.T) *slapd {
	t.Helper()
	bin := os.Getenv(SlapdEnv)
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: the LDAP directory tests cannot run (make test sets it to /usr/sbin/slapd)", SlapdEnv)
		}
		t.Skipf("LDAP directory tests skipped: install slapd and ldap-utils (.ci/deps.sh) and set %s=/usr/sbin/slapd", SlapdEnv)
	}
	for _, tool := range []string{"slapadd", "ldapadd", "ldapmodify"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is set but %s is missing (Debian packages slapd and ldap-utils): %v", SlapdEnv, tool, err)
		}
	}
	dir := t.TempDir()
	for _, d := range []string{"config", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s := &slapd{dir: dir, CAFile: filepath.Join(dir, "ca.pem")}
	writeCerts(t, dir)
	ldif := fmt.Sprintf(configLDIF, dir, sizeLimit)
	writeTestFile(t, filepath.Join(dir, "config.ldif"), ldif)
	run(t, "", "slapadd", "-n", "0", "-F", filepath.Join(dir, "config"), "-l", filepath.Join(dir, "config.ldif"))

	port, tlsPort := freePort(t), freePort(t)
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	s.LDAPS = fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort)
	var logs bytes.Buffer
	// -d keeps slapd in the foreground, so the pid is the server's own.
	cmd := exec.Command(bin, "-d", "0", "-h", s.URL+"/ "+s.LDAPS+"/", "-F", filepath.Join(dir, "config"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("slapd exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd did not listen on %s: %v\n%s", s.URL, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// add loads LDIF entries as the root DN, as an administrator would.
func (s *slapd) add(t *testing.T, ldif string) {
	t.Helper()
	run(t, ldif, "ldapadd", "-x", "-H", s.URL, "-D", rootDN, "-w", rootPW)
}

// modify applies an LDIF change set (changetype: modify, modrdn, delete)
// with ldapmodify.
func (s *slapd) modify(t *testing.T, ldif string) {
	t.Helper()
	run(t, ldif, "ldapmodify", "-x", "-H", s.URL, "-D", rootDN, "-w", rootPW)
}

func run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out.String())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCerts makes a CA and a certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test directory CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	pemFile := func(name, typ string, der []byte) {
		writeTestFile(t, filepath.Join(dir, name), string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
	}
	pemFile("ca.pem", "CERTIFICATE", caDER)
	pemFile("server.pem", "CERTIFICATE", srvDER)
	pemFile("server.key", "PRIVATE KEY", keyDER)
}

// configLDIF is slapd's cn=config: %[1]s the folder, %[2]d the reader's
// size limit. The root DN is exempt from limits, so the tests list as the
// reader.
const configLDIF = `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid
olcTLSCACertificateFile: %[1]s/ca.pem
olcTLSCertificateFile: %[1]s/server.pem
olcTLSCertificateKeyFile: %[1]s/server.key

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: dc=example,dc=org
olcRootDN: cn=admin,dc=example,dc=org
olcRootPW: root-secret
olcDbDirectory: %[1]s/data
olcDbMaxSize: 268435456
olcSizeLimit: size.soft=%[2]d size.hard=%[2]d size.prtotal=unlimited
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by * read
`
