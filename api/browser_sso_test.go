package api_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/connector"
	"github.com/invitegate/gateway/sso/ssotest"
)

// In a real browser: an admin adds a connection on the console's SSO page
// (preset, provisioning, the type's settings as JSON); a new person then
// types their email on the console's sign-in page and lands in the console,
// through a provider that answers at once, once by a redirect and once by
// the HTTP-POST binding's page, whose form posts itself under the
// gateway's Content-Security-Policy.
func TestBrowserSSOConsoleSignIn(t *testing.T) {
	var env *apitest.Env
	var post atomic.Bool
	b := &ssotest.Behaviour{Begin: func(ctx context.Context, req *connector.Request) (*connector.Redirect, error) {
		person := url.Values{"state": {req.Key}, "sub": {"u-7"}, "email": {"nia@uni.edu"}, "given_name": {"Nia"}, "family_name": {"Obi"}}
		if post.Load() {
			form := map[string]string{}
			for k, v := range person {
				form[k] = v[0]
			}
			return &connector.Redirect{URL: env.URL + "/sso/saml/" + req.ConnectionID + "/acs", Form: form}, nil
		}
		return &connector.Redirect{URL: env.URL + "/sso/oidc/" + req.ConnectionID + "/callback?" + person.Encode()}, nil
	}}
	env = apitest.New(t, apitest.Options{RealClock: true, SSOTypes: ssotest.Types(b, "oidc", "saml")})

	admin := newBrowserProfile(t, env)
	admin.signInAsAdmin()
	admin.open(env.URL + "/console/sso")
	admin.waitFor(10*time.Second, "the SSO page", `document.getElementById("sso-create-form")`)
	admin.do("fill in a connection",
		chromedp.SendKeys(`#sso-create-form input[name="name"]`, "Uni"),
		chromedp.SetValue(`#sso-create-form select[name="type"]`, "oidc"),
		chromedp.SendKeys(`#sso-create-form textarea[name="domains"]`, "uni.edu"),
		chromedp.SetValue(`#sso-create-form select[name="mapping.preset"]`, "entra"),
		chromedp.Click(`#sso-create-form input[name="jit"]`),
		chromedp.SendKeys(`#sso-create-form textarea[name="config"]`, `{"issuer":"https://idp.test","secret":"s3cret"}`),
		chromedp.Click(`#sso-create-form button[type="submit"]`))
	admin.waitFor(10*time.Second, "the new connection listed", `[...document.querySelectorAll("#sso-connections td")].some(td => td.textContent === "Uni")`)
	var c sso.Connection
	if err := env.DB.R.Where("account_id = ? AND name = ?", env.AccountID, "Uni").Take(&c).Error; err != nil {
		t.Fatal(err)
	}
	if c.Mapping.Preset != "entra" || !c.JIT || c.Type != "oidc" {
		t.Fatalf("the console made %+v", c)
	}
	if !admin.truth(`document.body.innerText.includes("` + env.URL + `/sso/oidc/` + c.ID + `/callback")`) {
		t.Fatal("the SSO page does not show the redirect URI to paste into the provider")
	}

	signIn := func(what string) {
		t.Helper()
		person := newBrowserProfile(t, env)
		person.open(env.URL + "/console")
		person.waitFor(10*time.Second, "the console sign-in page", `document.getElementById("sso-console-form")`)
		person.do("type the work email and go on",
			chromedp.SendKeys(chromedp.ID("sso-console-email"), "nia@uni.edu"),
			chromedp.Click(chromedp.ID("sso-console")))
		person.waitFor(10*time.Second, what, `location.pathname === "/console" && document.querySelector("form.signout span") && document.querySelector("form.signout span").textContent === "nia@uni.edu"`)
	}
	signIn("the console after the provider's redirect")

	// The same domain, now served by a connection whose provider takes the
	// request by the HTTP-POST binding.
	env.Must(env.Do("PATCH", "/api/v1/sso/connections/"+c.ID, env.APIKey, map[string]any{"domains": []string{}}), 200)
	ssoConnection(env, "saml", nil)
	post.Store(true)
	signIn("the console after the self-posting form")
	u, err := user.ByEmail(context.Background(), env.DB, env.AccountID, "nia@uni.edu")
	if err != nil || u.ConsoleRole != user.RoleMember || u.LastName != "Obi" {
		t.Fatalf("the person signed in: %+v %v", u, err)
	}
}
