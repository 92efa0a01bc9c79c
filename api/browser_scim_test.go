package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/provision"
)

// The console's SCIM page in a real browser: an admin sees the base URL,
// creates a token, which is shown once and works against /scim/v2, and
// revokes it, after which the provider is refused.
func TestBrowserSCIMPage(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	admin := newBrowserProfile(t, env)
	admin.signInAsAdmin()
	admin.open(env.URL + "/console/scim")
	admin.waitFor(10*time.Second, "the SCIM page", `document.getElementById("scim-token-form")`)
	if got := admin.str(`document.getElementById("scim-base-url").value`); got != env.URL+"/scim/v2" {
		t.Fatalf("base URL %q", got)
	}
	if !admin.truth(`document.getElementById("scim-token-created").hidden`) {
		t.Fatal("a token shows before any was made")
	}
	admin.do("create a token",
		chromedp.SendKeys(chromedp.CSS(`#scim-token-form input[name="name"]`), "Entra ID"),
		chromedp.Click(chromedp.ID("scim-token-submit")))
	admin.waitFor(10*time.Second, "the new token", `!document.getElementById("scim-token-created").hidden`)
	tok := admin.str(`document.getElementById("scim-token-value").value`)
	if !strings.HasPrefix(tok, provision.TokenPrefix) {
		t.Fatalf("token shown %q", tok)
	}
	sc := scimClient{t: t, e: env, token: tok}
	sc.must(sc.do("GET", "/Users", nil), http.StatusOK)

	// Done: the list shows the token by its start, never whole.
	admin.do("press Done", chromedp.Click(chromedp.CSS(`#scim-token-created button[data-reload]`)))
	admin.waitFor(10*time.Second, "the token list", `document.querySelectorAll("#scim-tokens tbody tr").length === 1`)
	row := admin.str(`document.querySelector("#scim-tokens tbody tr").innerText`)
	if !strings.Contains(row, "Entra ID") || !strings.Contains(row, tok[:10]) || strings.Contains(admin.str(`document.body.innerHTML`), tok) {
		t.Fatalf("token row %q", row)
	}
	// The confirmation is answered yes.
	if !browserEval[bool](admin, `(window.confirm = () => true, true)`) {
		t.Fatal("could not answer the confirmation")
	}
	admin.do("revoke it", chromedp.Click(chromedp.CSS(`#scim-tokens button.danger`)))
	admin.waitFor(10*time.Second, "the revoked token", `document.querySelector("#scim-tokens tbody tr") && document.querySelector("#scim-tokens tbody tr").innerText.includes("Revoked")`)
	sc.scimError(sc.do("GET", "/Users", nil), http.StatusUnauthorized, "", "revoked")

	// A console member may not open the page.
	_, member := env.ConsoleUser("mia@org.test", "member")
	if r := env.Get(member, "/console/scim"); r.Status != http.StatusForbidden {
		t.Fatalf("member opens the SCIM page: %d", r.Status)
	}
}
