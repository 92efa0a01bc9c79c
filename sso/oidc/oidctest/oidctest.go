// Package oidctest starts a real OpenID Connect provider for tests (npm
// oidc-provider, run with node on a free loopback port) and signs a person
// in through its login and consent pages with a Go HTTP client.
//
// The oidc-provider install is $GATEWAY_TEST_OIDC_PROVIDER, the
// node_modules folder that holds it (`make test` sets it to the copy
// .ci/deps.sh installs in .cache/npm). When it is missing the test is
// skipped, except under CI=true, where it fails.
package oidctest

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvProvider names the variable holding the node_modules folder with
// oidc-provider in it.
const EnvProvider = "GATEWAY_TEST_OIDC_PROVIDER"

//go:embed provider.mjs
var script []byte

// Options are the provider's one client and its accounts.
type Options struct {
	ClientID, ClientSecret string
	// RedirectURI is the client's registered redirect URI; AllowRedirect
	// registers more (or the first, when it is empty).
	RedirectURI string
	// Accounts are the people who can sign in, by login (which is also
	// their sub), each with the claims the provider releases for them.
	Accounts map[string]map[string]any
}

// Provider is a running oidc-provider.
type Provider struct {
	// Issuer is its issuer URL, http://127.0.0.1:PORT.
	Issuer string

	stdin io.Writer
	added chan string
	mu    sync.Mutex
	// redirects are the client's registered redirect URIs.
	redirects []string
}

// Start runs the provider; it stops with the test.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	modules := modulesDir(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("oidctest: node is not on PATH: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "provider.mjs")
	if err := os.WriteFile(path, script, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(map[string]any{
		"client_id": opts.ClientID, "client_secret": opts.ClientSecret,
		"redirect_uri": opts.RedirectURI, "accounts": opts.Accounts,
	})
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "provider.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, path)
	cmd.Env = append(os.Environ(), "OIDC_PROVIDER_MODULES="+modules, "OIDC_TEST_CONFIG="+string(cfg), "NODE_ENV=test")
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Its own process group, so stopping it stops node and any child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("oidctest: start node: %v", err)
	}
	exited := make(chan struct{})
	issuer := make(chan string, 1)
	added := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "issuer "); ok {
				issuer <- rest
			}
			if rest, ok := strings.CutPrefix(sc.Text(), "redirect_uri added "); ok {
				added <- rest
			}
			fmt.Fprintln(logf, sc.Text())
		}
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	select {
	case iss := <-issuer:
		p := &Provider{Issuer: iss, stdin: stdin, added: added}
		if opts.RedirectURI != "" {
			p.redirects = []string{opts.RedirectURI}
		}
		return p
	case <-exited:
	case <-time.After(30 * time.Second):
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("oidctest: oidc-provider did not start: %s", b)
	return nil
}

func modulesDir(t testing.TB) string {
	dir := os.Getenv(EnvProvider)
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if dir == "" {
		fail("oidctest: %s is not set: the OIDC tests need npm oidc-provider (make test installs it and sets it)", EnvProvider)
	}
	if _, err := os.Stat(filepath.Join(dir, "oidc-provider", "package.json")); err != nil {
		fail("oidctest: oidc-provider in %s: %v (run .ci/deps.sh)", dir, err)
	}
	return dir
}

// AllowRedirect registers uri as another redirect URI of the client: a
// gateway connection's callback, which is known only once the connection
// exists. It returns once the provider accepts it.
func (p *Provider) AllowRedirect(t testing.TB, uri string) {
	t.Helper()
	if strings.ContainsAny(uri, " \r\n") {
		t.Fatalf("oidctest: redirect URI %q has a space or a line break", uri)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.stdin, "redirect_uri %s\n", uri); err != nil {
		t.Fatalf("oidctest: register redirect URI: %v", err)
	}
	select {
	case got := <-p.added:
		if got != uri {
			t.Fatalf("oidctest: the provider registered %q, want %q", got, uri)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("oidctest: the provider did not register redirect URI %s", uri)
	}
	p.redirects = append(p.redirects, uri)
}

// redirected reports whether u is one of the client's redirect URIs (its
// query aside).
func (p *Provider) redirected(u string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.redirects {
		if strings.HasPrefix(u, r) {
			return true
		}
	}
	return false
}

// Browser is a person's browser at the provider: a cookie jar, redirects
// followed until the provider sends it back to the redirect URI.
type Browser struct {
	t      testing.TB
	client *http.Client
	p      *Provider
}

// NewBrowser is a fresh browser (no provider session yet).
func (p *Provider) NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{t: t, p: p}
	b.client = &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if p.redirected(req.URL.String()) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return b
}

// SignIn opens authURL, signs in as login on the provider's login page,
// confirms the consent page if one is shown, and returns the URL the
// provider sent the browser back to (the redirect URI with code and state,
// or with error).
func (b *Browser) SignIn(authURL, login string) *url.URL {
	b.t.Helper()
	resp := b.do(http.MethodGet, authURL, nil)
	for range 5 {
		if u := b.returned(resp); u != nil {
			return u
		}
		page := b.read(resp)
		action, fields := form(page)
		if action == "" {
			b.t.Fatalf("oidctest: no form on the provider's page (HTTP %d): %s", resp.StatusCode, page)
		}
		switch fields.Get("prompt") {
		case "login":
			fields.Set("login", login)
			fields.Set("password", "any password")
		case "consent":
		default:
			b.t.Fatalf("oidctest: unexpected provider page: %s", page)
		}
		target, err := resp.Request.URL.Parse(action)
		if err != nil {
			b.t.Fatal(err)
		}
		resp = b.do(http.MethodPost, target.String(), fields)
	}
	b.t.Fatalf("oidctest: the provider did not send the browser back to a redirect URI of the client")
	return nil
}

// Cancel opens authURL and follows the provider's "[ Cancel ]" link on
// its login page, as a person who gives up does; it returns the URL the
// provider sent the browser back to, the redirect URI with
// error=access_denied and the state.
func (b *Browser) Cancel(authURL string) *url.URL {
	b.t.Helper()
	resp := b.do(http.MethodGet, authURL, nil)
	if u := b.returned(resp); u != nil {
		b.t.Fatalf("oidctest: the provider answered at once (%s), without a login page to cancel", u)
	}
	page := b.read(resp)
	m := cancelLink.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("oidctest: no Cancel link on the provider's page (HTTP %d): %s", resp.StatusCode, page)
	}
	target, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		b.t.Fatal(err)
	}
	if u := b.returned(b.do(http.MethodGet, target.String(), nil)); u != nil {
		return u
	}
	b.t.Fatalf("oidctest: cancelling did not send the browser back to a redirect URI of the client")
	return nil
}

func (b *Browser) do(method, target string, form url.Values) *http.Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("oidctest: %s %s: %v", method, target, err)
	}
	return resp
}

// returned is the redirect URI the provider sent the browser to, if it did.
func (b *Browser) returned(resp *http.Response) *url.URL {
	if resp.StatusCode < 300 || resp.StatusCode >= 400 {
		return nil
	}
	loc, err := resp.Location()
	if err != nil || !b.p.redirected(loc.String()) {
		return nil
	}
	resp.Body.Close()
	return loc
}

func (b *Browser) read(resp *http.Response) string {
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(page)
}

var (
	formTag  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputTag = regexp.MustCompile(`<input[^>]*>`)
	attr     = regexp.MustCompile(`(\w+)="([^"]*)"`)
	// cancelLink is the "[ Cancel ]" link of oidc-provider's interaction
	// pages (its abort endpoint).
	cancelLink = regexp.MustCompile(`<a href="([^"]*)">\[ Cancel \]</a>`)
)

// form is the first form of page: its action and its hidden inputs.
func form(page string) (string, url.Values) {
	m := formTag.FindStringSubmatch(page)
	if m == nil {
		return "", nil
	}
	fields := url.Values{}
	for _, in := range inputTag.FindAllString(m[2], -1) {
		a := map[string]string{}
		for _, kv := range attr.FindAllStringSubmatch(in, -1) {
			a[kv[1]] = html.UnescapeString(kv[2])
		}
		if a["type"] == "hidden" && a["name"] != "" {
			fields.Set(a["name"], a["value"])
		}
	}
	return html.UnescapeString(m[1]), fields
}
