package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// replica is one `gateway serve` process of a cluster.
type replica struct {
	n    int
	addr string
	base string
	cmd  *exec.Cmd
	// printed holds what it printed at start, by the line's first words.
	printed map[string]string
	exited  chan struct{}
	down    atomic.Bool
}

// cluster is replicas of one gateway on one PostgreSQL database, behind a
// round-robin reverse proxy that writes the client's address in
// X-Forwarded-For, as a load balancer does.
type cluster struct {
	t    *testing.T
	dir  string
	env  []string
	dsn  string
	db   *store.DB
	mu   sync.Mutex
	reps []*replica
	// proxy is the load balancer's URL; every replica's base_url.
	proxy string
	next  atomic.Uint64
	// served counts, per replica, the requests the proxy sent it.
	served sync.Map
}

// clientHeader is how a test client behind the proxy tells the proxy its
// address (the proxy, seeing every test client on loopback, writes this one
// in X-Forwarded-For instead).
const clientHeader = "X-Test-Client-Addr"

func newCluster(t *testing.T, dsn string, env ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), dsn: dsn}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.proxy = "http://" + ln.Addr().String()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			rep := c.pick()
			u, _ := url.Parse(rep.base)
			r.SetURL(u)
			r.Out.Host = r.In.Host
			client := r.In.Header.Get(clientHeader)
			if client == "" {
				client, _, _ = net.SplitHostPort(r.In.RemoteAddr)
			}
			r.Out.Header.Del(clientHeader)
			r.Out.Header.Set("X-Forwarded-For", client)
			r.Out.Header.Set("X-Forwarded-Proto", "http")
			v, _ := c.served.LoadOrStore(rep.n, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		},
		// Kept-alive connections to the replicas, as a load balancer keeps.
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "replica unreachable: "+err.Error(), http.StatusBadGateway)
		},
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c.env = append([]string{"GATEWAY_DATABASE_DSN=" + dsn, "GATEWAY_BASE_URL=" + c.proxy,
		"GATEWAY_ADMIN_EMAIL=owner@org.test", "GATEWAY_LOG_FORMAT=json"}, env...)
	c.db, err = store.Open(context.Background(), store.Config{DSN: dsn, MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.db.Close() })
	return c
}

// pick is the next replica that is up, round robin.
func (c *cluster) pick() *replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range len(c.reps) {
		r := c.reps[int(c.next.Add(1))%len(c.reps)]
		if !r.down.Load() {
			return r
		}
	}
	return c.reps[0]
}

// start launches n replicas at once and waits until each is ready.
func (c *cluster) start(n int) []*replica {
	c.t.Helper()
	out := make([]*replica, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c.mu.Lock()
		r := &replica{n: len(c.reps), addr: freeAddr(c.t), printed: map[string]string{}, exited: make(chan struct{})}
		r.base = "http://" + r.addr
		c.reps = append(c.reps, r)
		c.mu.Unlock()
		out[i] = r
		r.down.Store(true)
		wg.Go(func() { errs[i] = c.launch(r, c.configPath()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
	return out
}

// restart starts r again on its address, after it was killed.
func (c *cluster) restart(r *replica) {
	c.t.Helper()
	r.printed, r.exited = map[string]string{}, make(chan struct{})
	if err := c.launch(r, c.configPath()); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) configPath() string { return filepath.Join(c.dir, "gateway.yaml") }

// launch runs `gateway serve` for r and waits until its /readyz says ready.
func (c *cluster) launch(r *replica, cfg string) error {
	cmd := exec.Command(binary, "serve", "--config", cfg, "--print-admin-login-link")
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), append(c.env, "GATEWAY_LISTEN="+r.addr)...)
	out, _ := cmd.StdoutPipe()
	logPath := filepath.Join(c.dir, fmt.Sprintf("replica%d-%d.log", r.n, time.Now().UnixNano()))
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd = cmd
	exited := r.exited
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			for _, k := range []string{"API key", "First start", "Sign in as"} {
				if strings.HasPrefix(line, k) {
					c.mu.Lock()
					r.printed[k] = line
					c.mu.Unlock()
				}
			}
		}
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	c.t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if c.t.Failed() {
			b, _ := os.ReadFile(logPath)
			c.t.Logf("replica %d log %s:\n%s", r.n, logPath, tail(string(b), 4000))
		}
	})
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("replica %d exited at start:\n%s", r.n, tail(string(b), 3000))
		default:
		}
		// Ready, and done printing what it prints at start (its last line
		// is the sign-in link), so the test reads the API key it printed.
		c.mu.Lock()
		printed := r.printed["Sign in as"] != ""
		c.mu.Unlock()
		if resp, err := http.Get(r.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && printed {
				r.down.Store(false)
				return nil
			}
		}
	}
	return fmt.Errorf("replica %d not ready within 60 s", r.n)
}

// kill ends r with sig and waits for it.
func (c *cluster) kill(r *replica, sig syscall.Signal) {
	c.t.Helper()
	r.down.Store(true)
	r.cmd.Process.Signal(sig)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("replica %d still running 30 s after %v", r.n, sig)
	}
}

// byPID is the replica whose process has pid.
func (c *cluster) byPID(pid int) *replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reps {
		if r.cmd != nil && r.cmd.Process.Pid == pid && !r.down.Load() {
			return r
		}
	}
	return nil
}

// pidOf reads the pid from a mail worker's or replica's name (host:pid...)
// or a job runner's (host/pid/...).
func pidOf(name string) int {
	var pid int
	if i := strings.IndexAny(name, ":/"); i >= 0 {
		fmt.Sscanf(name[i+1:], "%d", &pid)
	}
	return pid
}

// count runs a COUNT query on the cluster's database.
func (c *cluster) count(q string, args ...any) int64 {
	c.t.Helper()
	var n int64
	if err := c.db.R.Raw(q, args...).Scan(&n).Error; err != nil {
		c.t.Fatal(err)
	}
	return n
}

// hit is one HTTP answer, its body read.
type hit struct {
	status int
	header http.Header
	body   string
}

// code is the error code of a JSON error or of a refusal page.
func (h hit) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal([]byte(h.body), &e) == nil && e.Error.Code != "" {
		return e.Error.Code
	}
	if _, rest, ok := strings.Cut(h.body, `data-error-code="`); ok {
		code, _, _ := strings.Cut(rest, `"`)
		return code
	}
	return ""
}

// do sends a request to base (the proxy or one replica) as the client at
// addr (through the proxy), with the client's cookies.
func do(t *testing.T, client *http.Client, method, base, path, addr, apiKey string, body io.Reader, contentType string) hit {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	if addr != "" {
		req.Header.Set(clientHeader, addr)
	}
	resp, err := client.Do(req)
	if err != nil {
		return hit{status: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return hit{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
