// Package mailtest starts a real SMTP server that keeps what it receives
// (npm maildev) for tests, and reads the received messages through its HTTP
// API.
//
// The maildev binary is $GATEWAY_TEST_MAILDEV (`make test` sets it to the
// copy .ci/deps.sh installs in .cache/npm). When it is missing the test is
// skipped, except under CI=true, where it fails.
package mailtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// EnvMaildev names the variable holding the maildev binary.
const EnvMaildev = "GATEWAY_TEST_MAILDEV"

// Maildev is a running maildev.
type Maildev struct {
	SMTPPort int
	WebPort  int
	t        testing.TB
	cmd      *exec.Cmd
	log      string
}

// Start runs maildev on free loopback ports; it stops with the test.
func Start(t testing.TB) *Maildev {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	for try := 0; try < 5; try++ {
		smtp, web := freePort(t), freePort(t)
		if smtp == web {
			continue
		}
		logPath := filepath.Join(dir, fmt.Sprintf("maildev-%d.log", try))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--ip", "127.0.0.1", "--smtp", strconv.Itoa(smtp), "--web", strconv.Itoa(web),
			"--mail-directory", filepath.Join(dir, fmt.Sprintf("mail-%d", try)))
		cmd.Stdout, cmd.Stderr = logf, logf
		// Its own process group, so stopping it stops node and its children.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			t.Fatalf("mailtest: start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(exited) }()
		m := &Maildev{SMTPPort: smtp, WebPort: web, t: t, cmd: cmd, log: logPath}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				deadline = time.Time{}
				continue
			default:
			}
			if open(smtp) && open(web) {
				t.Cleanup(func() {
					syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
					select {
					case <-exited:
					case <-time.After(5 * time.Second):
						syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
						<-exited
					}
				})
				return m
			}
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	b, _ := os.ReadFile(filepath.Join(dir, "maildev-4.log"))
	t.Fatalf("mailtest: maildev did not start: %s", b)
	return nil
}

func binary(t testing.TB) string {
	path := os.Getenv(EnvMaildev)
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mailtest: %s is not set: the email tests need maildev (make test installs it and sets it)", EnvMaildev)
		}
		t.Skipf("mailtest: email tests skipped: set %s to a maildev binary, or run `make test`", EnvMaildev)
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mailtest: maildev %s: %v (run .ci/deps.sh)", path, err)
		}
		t.Skipf("mailtest: maildev %s: %v; run .ci/deps.sh or `make test`", path, err)
	}
	return path
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func open(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Received is a message as maildev parsed it.
type Received struct {
	ID        string `json:"id"`
	MessageID string `json:"messageId"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	HTML      string `json:"html"`
	From      []Addr `json:"from"`
	To        []Addr `json:"to"`
	Headers   map[string]any
	// Attachments lists attached files (the calendar invitation).
	Attachments []Attachment `json:"attachments"`
}

// Addr is a parsed address.
type Addr struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

// Attachment is one attached file.
type Attachment struct {
	FileName    string `json:"fileName"`
	ContentType string `json:"contentType"`
	GeneratedID string `json:"generatedFileName"`
}

// Messages returns everything received so far.
func (m *Maildev) Messages() []Received {
	m.t.Helper()
	var out []Received
	m.getJSON("/email", &out)
	return out
}

// Attachment downloads an attachment of a received message.
func (m *Maildev) Attachment(r Received, a Attachment) string {
	m.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/email/%s/attachment/%s", m.WebPort, r.ID, a.GeneratedID))
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatal(err)
	}
	return string(b)
}

// Wait polls until at least n messages arrived, or fails the test.
func (m *Maildev) Wait(n int, within time.Duration) []Received {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := m.Messages()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mailtest: %d messages arrived within %s, want %d", len(got), within, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Count is how many messages arrived.
func (m *Maildev) Count(ctx context.Context) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/email", m.WebPort), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	return len(out), nil
}

func (m *Maildev) getJSON(path string, v any) {
	m.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", m.WebPort, path))
	if err != nil {
		m.t.Fatalf("mailtest: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("mailtest: GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		m.t.Fatalf("mailtest: GET %s: %v", path, err)
	}
}
