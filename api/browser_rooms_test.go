package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// The invite form of a room the static-rooms plugin hosts suggests the
// people on the room's roster, and picking one fills in their names. The
// test gateway starts the real plugin, declared in its config as an operator would.
func TestBrowserInviteFormSuggestsTheRoster(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	env := apitest.New(t, apitest.Options{RealClock: true, Config: func(c *app.Config) {
		c.Plugins = []host.Config{{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum, Config: map[string]any{
			"join_url": "https://video.example.org/join/{resource}",
			"rooms": []any{map[string]any{"id": "bio-101", "type": "room", "title": "Biology 101",
				"roster": []any{map[string]any{"email": "sam@uni.test", "name": "Sam Ortiz"}, map[string]any{"email": "zoe@uni.test", "name": "Zoe Park"}}}},
		}}}
	}})
	rid := env.Must(env.Do("POST", "/api/v1/resources/link", env.APIKey, map[string]any{"adapter": "rooms", "resource_id": "bio-101"}), http.StatusCreated).Map(t)["id"].(string)

	b := newBrowserProfile(t, env)
	b.signInAsAdmin()
	b.open(env.URL + "/console/resources/" + rid)
	b.waitFor(10*time.Second, "the invite form", `document.getElementById("invite-email")`)
	b.do("type the start of a name", chromedp.SendKeys(chromedp.ID("invite-email"), "sa"))
	b.waitFor(10*time.Second, "the roster's Sam among the suggestions",
		`[...document.querySelectorAll("#known-users option")].some(o => o.value === "sam@uni.test" && o.label === "Sam Ortiz")`)
	if b.truth(`[...document.querySelectorAll("#known-users option")].some(o => o.value === "zoe@uni.test")`) {
		t.Fatal("suggested zoe@uni.test, whose name does not start with sa")
	}
	b.do("type the rest of the address", chromedp.SendKeys(chromedp.ID("invite-email"), "m@uni.test"))
	b.waitFor(10*time.Second, "the names filled in",
		`document.getElementById("invite-first").value === "Sam" && document.getElementById("invite-last").value === "Ortiz"`)
}
