package browsertest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/browsertest"
)

// The page title read through a real browser proves the browser starts,
// loads pages over loopback and runs scripts.
func TestNewReadsTitle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>loading</title><script>document.title = "browsertest ok"</script>`)
	}))
	t.Cleanup(srv.Close)

	ctx := browsertest.New(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "browsertest ok" {
		t.Fatalf("title = %q, want %q", title, "browsertest ok")
	}
}

// Two profiles are two people: a cookie set in one is not sent by the other.
func TestProfilesDoNotShareCookies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "who", Value: "alice", Path: "/", HttpOnly: true})
		}
		seen := "none"
		if c, err := r.Cookie("who"); err == nil {
			seen = c.Value
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>%s</title>`, seen)
	}))
	t.Cleanup(srv.Close)

	alice := browsertest.New(t)
	bob := browsertest.NewProfile(t)

	if err := chromedp.Do(alice, chromedp.Navigate(srv.URL+"/set")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"same profile sends the cookie", alice, "alice"},
		{"other profile has no cookie", bob, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := chromedp.Do(tc.ctx, chromedp.Navigate(srv.URL+"/get")); err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(tc.ctx, chromedp.Title())
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("cookie seen by server = %q, want %q", got, tc.want)
			}
		})
	}
}
