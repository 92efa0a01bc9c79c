// Package lmstest runs an LMS room adapter the way users do, for its
// tests: the plugin built from cmd/ and started by a gateway (api/apitest,
// built as `gateway serve` builds it), with an LTI platform (lti/ltitest)
// registered, whose launches are shaped by JSON fixtures of what a real
// LMS sends.
package lmstest

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/lti/ltitest"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// Adapter is the plugin's name in the gateway's config.
const Adapter = "rooms"

// Env is a gateway running the adapter, and a platform registered with
// its account.
type Env struct {
	*apitest.Env
	Plat *ltitest.Platform
}

// Options describe the environment.
type Options struct {
	Dialect string
	// Cmd is the plugin's main package ("./cmd/gateway-plugin-sakai").
	Cmd string
	// Config is the plugin's config: in gateway.yaml.
	Config map[string]any
}

// New starts the gateway with the plugin, and the platform.
func New(t *testing.T, o Options) *Env {
	t.Helper()
	bin, sum := plugintest.Build(t, o.Cmd)
	env := apitest.New(t, apitest.Options{Dialect: o.Dialect, Config: func(c *app.Config) {
		c.Plugins = []host.Config{{Name: Adapter, Kind: "roomadapter", Path: bin, SHA256: sum, Config: o.Config}}
	}})
	plat := ltitest.New(t, ltitest.Options{ClientID: "tool-client-1", DeploymentID: "deployment-1", ToolURL: env.URL, Now: env.Clock.Now})
	e := &Env{Env: env, Plat: plat}
	e.Must(e.Do("POST", "/api/v1/lti/platforms", e.APIKey, map[string]any{
		"name": "LMS", "issuer": plat.Issuer, "client_id": plat.ClientID, "deployment_ids": []string{plat.DeploymentID},
		"auth_login_url": plat.AuthURL(), "token_url": plat.TokenURL(), "jwks_url": plat.JWKSURL(), "adapter": Adapter,
	}), http.StatusCreated)
	return e
}

// Fixture is one launch as an LMS sends it: the person, the link they
// followed, and the platform's other claims (its extension claims, custom
// parameters, a fuller context).
type Fixture struct {
	User struct {
		Sub        string   `json:"sub"`
		Email      string   `json:"email"`
		GivenName  string   `json:"given_name"`
		FamilyName string   `json:"family_name"`
		Roles      []string `json:"roles"`
	} `json:"user"`
	Link struct {
		ID           string `json:"id"`
		Title        string `json:"title"`
		ContextID    string `json:"context_id"`
		ContextTitle string `json:"context_title"`
	} `json:"link"`
	Claims map[string]any `json:"claims"`
}

// Load reads a fixture.
func Load(t *testing.T, path string) Fixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f Fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// Add makes the fixture's person and link known to the platform under
// hint (its login and message hint).
func (e *Env) Add(hint string, f Fixture) {
	e.Plat.AddUser(hint, ltitest.User{Sub: f.User.Sub, Email: f.User.Email, GivenName: f.User.GivenName, FamilyName: f.User.FamilyName,
		Roles: f.User.Roles, Claims: f.Claims})
	e.Plat.AddLink(hint, ltitest.Link{ID: f.Link.ID, Title: f.Link.Title, ContextID: f.Link.ContextID, ContextTitle: f.Link.ContextTitle})
}

var hiddenRE = regexp.MustCompile(`name="(id_token|state)" value="([^"]*)"`)

// Authorize runs a launch up to the platform's form post: the tool's
// login initiation and the platform's authorization, in browser c. It
// returns the form to post.
func (e *Env) Authorize(c *http.Client, hint string) url.Values {
	e.T.Helper()
	r := e.Send(c, mustRequest(e.T, http.MethodGet, e.Plat.LoginURL(hint, hint)))
	if r.Status != http.StatusSeeOther {
		e.T.Fatalf("login: %d %s", r.Status, r.Body)
	}
	r = e.Send(c, mustRequest(e.T, http.MethodGet, r.Header.Get("Location")))
	if r.Status != http.StatusOK {
		e.T.Fatalf("platform's authorization: %d %s", r.Status, r.Body)
	}
	form := url.Values{}
	for _, m := range hiddenRE.FindAllSubmatch(r.Body, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	return form
}

// Post posts the platform's form to the tool, as its page does.
func (e *Env) Post(c *http.Client, form url.Values) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/lti/launch", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.Plat.Issuer)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return e.Send(c, req)
}

// Launch launches as the fixture under hint, and returns the room page's
// path, its HTML and the browser signed in there.
func (e *Env) Launch(hint string) (string, string, *http.Client) {
	e.T.Helper()
	c := e.Client()
	r := e.Post(c, e.Authorize(c, hint))
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/lti/rooms/") {
		e.T.Fatalf("launch of %s: %d %s %s", hint, r.Status, loc, r.Body)
	}
	return loc, string(e.Must(e.Get(c, loc), http.StatusOK).Body), c
}

// PostJSON posts JSON from a room page, as its invite dialog does.
func (e *Env) PostJSON(c *http.Client, path, body string) *apitest.Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", e.URL)
	return e.Send(c, req)
}

var pidRE = regexp.MustCompile(`msg="plugin running".* pid=(\d+)`)

// PluginPID is the process id of the plugin's latest start, as the
// gateway logged it.
func (e *Env) PluginPID() int {
	e.T.Helper()
	m := pidRE.FindAllStringSubmatch(e.Logs.String(), -1)
	if len(m) == 0 {
		e.T.Fatal("the gateway logged no running plugin")
	}
	pid, _ := strconv.Atoi(m[len(m)-1][1])
	return pid
}

// WaitRestarted waits until the gateway logs a start of the plugin other
// than the process pid.
func (e *Env) WaitRestarted(pid int) int {
	e.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := pidRE.FindAllStringSubmatch(e.Logs.String(), -1); len(m) > 0 {
			if p, _ := strconv.Atoi(m[len(m)-1][1]); p != pid {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.T.Fatalf("the plugin was not restarted after process %d ended", pid)
	return 0
}

func mustRequest(t testing.TB, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
