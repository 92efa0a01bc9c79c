package api_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/lti/ltitest"
)

var dataAttrRE = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)

// dataOf reads the data- attributes of a page (the first of each name).
func dataOf(body []byte) map[string]string {
	out := map[string]string{}
	for _, m := range dataAttrRE.FindAllSubmatch(body, -1) {
		if _, ok := out[string(m[1])]; !ok {
			out[string(m[1])] = html.UnescapeString(string(m[2]))
		}
	}
	return out
}

// storageLogin starts a login that offers the platform's storage, as the
// course page's frame does: the answer is the page that puts the state
// and nonce in the storage, whose data it returns.
func (e *ltiEnv) storageLogin(c *http.Client) map[string]string {
	e.T.Helper()
	req, _ := http.NewRequest("GET", e.plat.StorageLoginURL("teacher", "bio"), nil)
	r := e.Send(c, req)
	e.Must(r, http.StatusOK)
	if !strings.Contains(string(r.Body), `id="lti-storage-put"`) {
		e.T.Fatalf("the storage login page: %s", r.Body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+e.plat.Issuer) {
		e.T.Errorf("the storage login page cannot show in the platform's frame: %q", csp)
	}
	return dataOf(r.Body)
}

// storageLaunch is the platform's posted launch of a storage login: the
// answer is the page that gets the state back from the storage.
func (e *ltiEnv) storageLaunch(c *http.Client, put map[string]string) (url.Values, map[string]string) {
	e.T.Helper()
	u, err := url.Parse(put["redirect"])
	if err != nil {
		e.T.Fatal(err)
	}
	form := e.authorize(c, u)
	r := e.launch(c, form)
	e.Must(r, http.StatusOK)
	if !strings.Contains(string(r.Body), `id="lti-storage-get"`) || !strings.Contains(string(r.Body), `action="/lti/launch/storage"`) {
		e.T.Fatalf("the launch of a storage login: %s", r.Body)
	}
	return form, dataOf(r.Body)
}

// storedStep posts the second step, as the launch page's script does.
func (e *ltiEnv) storedStep(c *http.Client, form url.Values, state, nonce string) *apitest.Response {
	e.T.Helper()
	f := url.Values{"id_token": {form.Get("id_token")}, "state": {form.Get("state")}, "stored_state": {state}, "stored_nonce": {nonce}}
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/lti/launch/storage", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return e.Send(c, req)
}

func TestLTIStorageLaunch(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{})
	c := e.Client()
	put := e.storageLogin(c)
	au, _ := url.Parse(e.plat.AuthURL())
	if put["target"] != ltitest.StorageFrame || put["origin"] != au.Scheme+"://"+au.Host ||
		put["state-key"] != "state_"+put["state"] || put["nonce-key"] != "nonce_"+put["state"] || put["nonce"] == "" {
		t.Fatalf("what the page puts in the storage: %v", put)
	}
	form, get := e.storageLaunch(c, put)
	if get["target"] != put["target"] || get["origin"] != put["origin"] || get["state-key"] != put["state-key"] || get["nonce-key"] != put["nonce-key"] {
		t.Fatalf("what the launch page gets back: %v, put %v", get, put)
	}
	r := e.storedStep(c, form, put["state"], put["nonce"])
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/lti/rooms/") {
		t.Fatalf("the stored step: %d %s", r.Status, r.Body)
	}
	e.Must(e.Get(c, r.Header.Get("Location")), http.StatusOK)
	refused(t, e.storedStep(c, form, put["state"], put["nonce"]), "lti_state_unknown")

	// Storage that gives back another state or nonce, or nothing.
	for _, bad := range [][2]string{{"x", ""}, {"", "x"}, {"-", "-"}} {
		c := e.Client()
		put := e.storageLogin(c)
		form, _ := e.storageLaunch(c, put)
		state, nonce := put["state"]+bad[0], put["nonce"]+bad[1]
		if bad[0] == "-" {
			state, nonce = "", ""
		}
		refused(t, e.storedStep(c, form, state, nonce), "lti_state_mismatch")
	}
	// A cookie login cannot be completed with stored values.
	c2 := e.Client()
	auth := e.login(c2, "teacher", "bio")
	form = e.authorize(c2, auth)
	refused(t, e.storedStep(c2, form, form.Get("state"), auth.Query().Get("nonce")), "lti_state_mismatch")
}

// Over https, a frame that keeps none of the tool's cookies: the launch
// is validated (with the storage, or on the state alone) and the page
// offers the room in a new window, where the session cookie holds.
func TestLTIOpenInNewWindow(t *testing.T) {
	e := newLTIEnv(t, apitest.Options{TLS: true})
	cookieless := &http.Client{Transport: e.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	check := func(t *testing.T, r *apitest.Response) {
		t.Helper()
		e.Must(r, http.StatusOK)
		if !strings.Contains(string(r.Body), `id="lti-open-window"`) || !strings.Contains(string(r.Body), `target="_blank"`) {
			t.Fatalf("not the new window page: %s", r.Body)
		}
		if strings.Contains(r.Header.Get("Set-Cookie"), "ig_lti_session") {
			t.Errorf("a session cookie the frame would drop")
		}
		m := regexp.MustCompile(`name="room" value="([^"]+)">\s*<input type="hidden" name="session" value="([^"]+)"`).FindSubmatch(r.Body)
		if m == nil {
			t.Fatalf("the page's form: %s", r.Body)
		}
		window := e.Client()
		f := url.Values{"room": {string(m[1])}, "session": {string(m[2])}}
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/lti/window", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		w := e.Send(window, req)
		if w.Status != http.StatusSeeOther || w.Header.Get("Location") != "/lti/rooms/"+string(m[1]) || !strings.Contains(w.Header.Get("Set-Cookie"), "ig_lti_session=") {
			t.Fatalf("the new window: %d %v %s", w.Status, w.Header, w.Body)
		}
		if page := e.Get(window, w.Header.Get("Location")); page.Status != http.StatusOK || !strings.Contains(string(page.Body), "Invite users") {
			t.Fatalf("the room page in the new window: %d %s", page.Status, page.Body)
		}
		f.Set("session", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		req, _ = http.NewRequest(http.MethodPost, e.URL+"/lti/window", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.URL)
		refused(t, e.Send(e.Client(), req), "lti_session_missing")
	}

	t.Run("cookie login", func(t *testing.T) {
		form := e.authorize(cookieless, e.login(cookieless, "teacher", "bio"))
		check(t, e.launch(cookieless, form))
	})
	t.Run("storage login", func(t *testing.T) {
		put := e.storageLogin(cookieless)
		form, _ := e.storageLaunch(cookieless, put)
		check(t, e.storedStep(cookieless, form, put["state"], put["nonce"]))
	})
	t.Run("cookies hold", func(t *testing.T) {
		c := e.Client()
		put := e.storageLogin(c)
		form, _ := e.storageLaunch(c, put)
		r := e.storedStep(c, form, put["state"], put["nonce"])
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/lti/rooms/") {
			t.Fatalf("a storage launch where the frame keeps cookies: %d %s", r.Status, r.Body)
		}
	})
}
