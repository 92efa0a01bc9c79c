package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/api/browsertest"
	"github.com/invitegate/gateway/lti/ltitest"
)

// The launch inside the platform's iframe through the platform's
// postMessage storage: the course page (http://localhost) holds its
// storage frame and offers it with lti_storage_target; the tool's frame
// (https://127.0.0.1) puts the state and nonce there, the platform posts
// the launch, the tool's page gets them back and completes the launch.
// Chromium keeps the tool's partitioned cookies in the frame, but a login
// that offers the storage is bound by the storage alone (its cookie only
// tells whether cookies hold), so the launch succeeds only if the storage
// round trip did. Storage that gives back another state is refused.
func TestBrowserLTIStorageLaunch(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{TLS: true, RealClock: true})
	plat := ltitest.New(t, ltitest.Options{ClientID: "storage-client", DeploymentID: "dep-storage", ToolURL: e.URL, Host: "localhost"})
	e.register(e.APIKey, plat)
	plat.AddUser("teacher", ltitest.User{Sub: "t-1", Email: "tina@uni.test", GivenName: "Tina", FamilyName: "Teach", Roles: []string{ltitest.RoleInstructor}})
	plat.AddLink("bio", ltitest.Link{ID: "rl-9", Title: "Live class", ContextID: "course-bio", ContextTitle: "Biology 101"})
	course := plat.Issuer + "/course?user=teacher&link=bio&storage=1"

	_, teacher := toolFrame(t, e, course, e.URL+"/lti/rooms/")
	teacher.waitFor(10*time.Second, "the Invite users button", `document.getElementById("open-invite")`)
	events := plat.StorageEvents()
	want := map[string]bool{"lti.put_data state_": false, "lti.put_data nonce_": false, "lti.get_data state_": false, "lti.get_data nonce_": false}
	for _, ev := range events {
		for k := range want {
			subject, prefix, _ := strings.Cut(k, " ")
			if ev.Subject == subject && strings.HasPrefix(ev.Key, prefix) && ev.Origin == e.URL && ev.Found {
				want[k] = true
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("the storage frame never answered %s from the tool; it saw %+v", k, events)
		}
	}

	plat.TamperStorage(true)
	_, refusedFrame := toolFrame(t, e, course, e.URL+"/lti/launch/storage")
	refusedFrame.waitFor(10*time.Second, "the refusal page", `document.querySelector("[data-error-code]")`)
	if code := refusedFrame.str(`document.querySelector("[data-error-code]").dataset.errorCode`); code != "lti_state_mismatch" {
		t.Fatalf("a launch with storage that gave back another state: %q", code)
	}
}

// toolFrame opens a platform's page in a browser of its own and returns
// the page and the tool's frame once it is at an address starting with
// prefix.
func toolFrame(t *testing.T, e *ltiEnv, page, prefix string) (*browserTab, *browserTab) {
	t.Helper()
	ctx := browsertest.New(t, chromedp.Flag("ignore-certificate-errors", true))
	ctx, cancel := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(cancel)
	tab := &browserTab{t: t, ctx: ctx, env: e.Env}
	tab.open(page)
	deadline := time.Now().Add(20 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, info := range infos {
			seen = append(seen, info.Type+" "+info.URL)
			if info.Type == "iframe" && strings.HasPrefix(info.URL, prefix) {
				fctx, fcancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(fcancel)
				return tab, &browserTab{t: t, ctx: fctx, env: e.Env}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the tool's frame never reached %s; targets: %v\nlog: %s", prefix, seen, e.Logs.String())
	return nil, nil
}
