package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitegate/gateway/api/apitest"
)

// An admin adds an endpoint on the console's Webhooks page: the secret is
// shown once, and a test event sent from the endpoint's page reaches the
// receiver signed with it; the page then lists the delivery with its
// status, code and latency, and Replay sends it again.
func TestBrowserWebhooksPage(t *testing.T) {
	e := apitest.New(t, apitest.Options{RealClock: true, Config: webhookConfig(true)})
	r := newHookReceiver(t)
	b := newBrowserProfile(t, e)
	b.signInAsAdmin()
	b.open(e.URL + "/console/webhooks")
	b.do("type the URL", chromedp.SendKeys(chromedp.CSS(`#webhook-create input[name=url]`), r.srv.URL+"/hooks"))
	b.do("want attendee.created", chromedp.Click(chromedp.CSS(`#webhook-create input[value="attendee.created"]`)))
	b.do("add", chromedp.Click(chromedp.CSS(`#webhook-create button[type=submit]`)))
	b.waitFor(10*time.Second, "the secret", `!document.getElementById("webhook-secret").hidden`)
	secret := b.str(`document.getElementById("webhook-secret-value").value`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown: %q", secret)
	}
	b.do("open the endpoint", chromedp.Click(chromedp.ID("webhook-secret-link")))
	b.waitFor(10*time.Second, "the endpoint page", `document.getElementById("webhook-test")`)
	if strings.Contains(b.str(`document.body.innerHTML`), secret) {
		t.Fatal("the endpoint's page shows its secret again")
	}
	if !b.truth(`document.querySelector('input[value="attendee.created"]').checked && !document.querySelector('input[value="user.erased"]').checked`) {
		t.Errorf("the endpoint's types as shown: %s", b.describe())
	}
	page := b.str(`location.href`)
	b.truth(`window.beforeTest = true`)
	b.click("webhook-test")
	b.waitFor(10*time.Second, "the page reloading itself", `!window.beforeTest && document.getElementById("deliveries")`)
	r.waitFor(t, 1)
	if evs := r.verified(t, secret); evs[0].Type != "webhook.test" {
		t.Fatalf("received %+v", evs[0])
	}
	// The delivery is recorded just after the receiver answers.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b.open(page)
		b.waitFor(10*time.Second, "the deliveries", `document.getElementById("deliveries")`)
		if b.truth(`document.querySelector("#deliveries tr[data-delivery] .status").textContent.startsWith("delivered")`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivered row within 10s: %s", b.describe())
		}
	}
	row := b.str(`document.querySelector("#deliveries tr[data-delivery]").innerText`)
	if !strings.Contains(row, "webhook.test") || !strings.Contains(row, "204") || !strings.Contains(row, " ms") {
		t.Errorf("delivery row: %q", row)
	}
	b.do("replay", chromedp.Click(chromedp.CSS(`#deliveries tr[data-delivery] button`)))
	r.waitFor(t, 2)
	evs := r.verified(t, secret)
	if evs[1].ID != evs[0].ID || evs[1].Type != "webhook.test" {
		t.Errorf("the replay arrived as %+v, want the same message again", evs[1])
	}
}
