// Package browsertest starts a real headless Chromium for tests that drive the
// gateway's pages the way a person does: click the button, read the page,
// keep the cookies.
//
// Each call starts its own browser process with a fresh profile, so two calls
// are two people (or two devices): they share no cookies, storage or cache.
// The browser is found at $GATEWAY_TEST_CHROMIUM, else /usr/bin/chromium.
// When it is missing the test is skipped, except under CI=true, where a
// missing browser is a broken machine and fails the test.
package browsertest

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvChromium names the environment variable that holds the Chromium binary.
const EnvChromium = "GATEWAY_TEST_CHROMIUM"

const defaultChromium = "/usr/bin/chromium"

// New starts a headless Chromium with a fresh profile and returns a chromedp
// context for it; run actions with chromedp.Run or chromedp.Do. The browser
// is stopped and its profile removed when the test ends.
//
// New starts the browser before returning, so a broken browser fails here
// and not in the middle of the test's first step. Extra options are added
// to the allocator's (a test of a server with a test certificate passes
// chromedp.Flag("ignore-certificate-errors", true)).
func New(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := chromiumPath(t)

	// The profile directory is made before the browser's cleanup is registered,
	// so cleanups (last in, first out) stop the browser before removing it.
	profile := t.TempDir()
	// Chromium keeps its singleton socket and, with disable-dev-shm-usage, its
	// shared memory in TMPDIR; a directory of its own keeps /tmp clean. It is
	// not under t.TempDir because a unix socket path must stay short.
	tmp, err := os.MkdirTemp("", "browsertest-")
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		// Tests run as root, where Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Without these Chromium calls home, and on a closed network that
		// is a flood of refused connections and slow starts.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Env("TMPDIR="+tmp),
	)
	opts = append(opts, extra...)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()      // closes the browser
		allocCancel() // waits for the process to exit
	})

	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start Chromium %s: %v", path, err)
	}
	return ctx
}

// NewProfile is New under the name a test reads best when it needs a second
// person or device: each call is its own browser with its own cookies.
func NewProfile(t testing.TB) context.Context {
	t.Helper()
	return New(t)
}

// chromiumPath returns the browser to run, or ends the test when there is none.
func chromiumPath(t testing.TB) string {
	t.Helper()
	path := os.Getenv(EnvChromium)
	if path == "" {
		path = defaultChromium
	}
	info, err := os.Stat(path)
	if err == nil && (info.IsDir() || info.Mode().Perm()&0o111 == 0) {
		err = errors.New("not an executable file")
	}
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("browsertest: Chromium %s: %v", path, err)
	}
	t.Skipf("browsertest: Chromium %s: %v; run `make test`, which installs it (or set %s)", path, err, EnvChromium)
	return ""
}
