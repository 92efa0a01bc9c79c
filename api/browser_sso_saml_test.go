package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml/samlidp"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso/saml/samltest"
)

// samlAtIDP signs in on the real IdP's login form, in the browser, once
// the gateway has sent the browser there; the IdP's answer then posts
// itself to the gateway's ACS.
func samlAtIDP(b *browserTab, idp *samltest.IDP) {
	b.t.Helper()
	b.waitFor(10*time.Second, "the IdP's login form", `location.origin === "`+idp.URL+`" && document.querySelector('input[name="password"]')`)
	b.do("sign in at the IdP",
		chromedp.SendKeys(`input[name="user"]`, samlUser),
		chromedp.SendKeys(`input[name="password"]`, samlPassword),
		chromedp.Click(`input[type="submit"]`))
}

// In a real browser, through the real IdP (crewjam's samlidp) and the
// gateway's routes: an admin's SAML connection, set up with the IdP's
// metadata while the IdP reads the connection's SP metadata from the
// gateway, signs a new person in to the console from its sign-in page,
// with the AuthnRequest sent by redirect and by the HTTP-POST binding's
// self-posting page; the person is provisioned with their identity at
// the IdP and the groups it asserted.
func TestBrowserSAMLConsoleSignIn(t *testing.T) {
	idp := samlIDP(t)
	ctx := context.Background()
	for _, binding := range []string{"redirect", "post"} {
		t.Run(binding, func(t *testing.T) {
			env := apitest.New(t, apitest.Options{RealClock: true})
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("gateway log:\n%s", env.Logs.String())
				}
			})
			id := samlConnection(env, idp, nil, map[string]any{"binding": binding})

			person := newBrowserProfile(t, env)
			if binding == "redirect" {
				// samlidp's login form posts an AuthnRequest that came by
				// redirect back to itself by HTTP-POST, without the query
				// signature it came with, and then refuses it as unsigned
				// (the SP metadata says requests are signed). So here the
				// person signs in at the IdP first, and the redirect finds
				// the IdP session, which checks the query signature.
				person.open(idp.URL + "/login")
				samlAtIDP(person, idp)
				person.waitFor(10*time.Second, "the IdP session", `document.body.innerText.includes('"UserName":"`+samlUser+`"')`)
			}
			person.open(env.URL + "/console")
			person.waitFor(10*time.Second, "the console sign-in page", `document.getElementById("sso-console-form")`)
			person.do("type the work email and go on",
				chromedp.SendKeys(chromedp.ID("sso-console-email"), samlEmail),
				chromedp.Click(chromedp.ID("sso-console")))
			if binding == "post" {
				samlAtIDP(person, idp)
			}
			person.waitFor(15*time.Second, "the console, signed in", `location.origin === "`+env.URL+`" && location.pathname === "/console" && document.querySelector("form.signout span") && document.querySelector("form.signout span").textContent === "`+samlEmail+`"`)

			u, err := user.ByEmail(ctx, env.DB, env.AccountID, samlEmail)
			if err != nil || u.FirstName != "Nia" || u.LastName != "Obi" || u.ConsoleRole != user.RoleMember {
				t.Fatalf("the person signed in: %+v %v", u, err)
			}
			var ids []user.UserIdentity
			if err := env.DB.R.Where("user_id = ?", u.ID).Find(&ids).Error; err != nil {
				t.Fatal(err)
			}
			if len(ids) != 1 || ids[0].Issuer != idp.EntityID() || ids[0].Subject != samlEmail {
				t.Fatalf("identities %+v, want one with the IdP's entity id %s", ids, idp.EntityID())
			}
			if got := loginGroups(t, env, id, samlEmail); !slices.Equal(got, samlGroups) {
				t.Fatalf("groups of the login %v, want %v", got, samlGroups)
			}
			c := env.Must(env.Do("GET", "/api/v1/sso/connections/"+id, env.APIKey, nil), http.StatusOK).Map(t)
			if c["last_login_at"] == nil || c["last_failure"] != "" {
				t.Fatalf("the connection after a sign-in: last login %v, last failure %v", c["last_login_at"], c["last_failure"])
			}
		})
	}
}

// loginGroups are the names of the groups a connection's logins recorded
// the person in, sorted.
func loginGroups(t *testing.T, env *apitest.Env, connID, email string) []string {
	t.Helper()
	var names []string
	err := env.DB.R.Table("groups").Joins("JOIN group_members ON group_members.group_id = groups.id").
		Where("groups.account_id = ? AND groups.source = ? AND group_members.email = ?", env.AccountID, group.LoginSource(connID), email).
		Order("groups.name").Pluck("groups.name", &names).Error
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// In a real browser, through the real IdP: people sign in on the site of
// an event whose login method is SSO and are back on the event's page,
// signed in, with the status "SSO login"; the organizer's All users page
// shows it. The page's script then records the visit it makes (a
// pre-event visit, as for every signed-in attendee), so the status stays
// "SSO login" for a browser without scripts, which goes through the
// gateway's and the IdP's self-posting pages by their buttons.
func TestBrowserSAMLEventSignIn(t *testing.T) {
	idp := samlIDP(t)
	idp.AddUser(t, "ola", "another long passphrase", samlidp.User{Email: "ola@uni.edu", GivenName: "Ola", Surname: "Berg", Groups: []string{"guests"}})
	env := apitest.New(t, apitest.Options{RealClock: true})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", env.Logs.String())
		}
	})
	id := samlConnection(env, idp, nil, map[string]any{"binding": "post"})
	start := time.Now().Add(48 * time.Hour)
	ev := env.Must(env.Do("POST", "/api/v1/events", env.APIKey, map[string]any{"name": "Summit", "starts_at": start, "ends_at": start.Add(time.Hour),
		"time_zone": "UTC", "login_method": "sso", "registration": "open"}), http.StatusCreated).Map(t)
	slug, evID := ev["slug"].(string), ev["id"].(string)

	signIn := func(b *browserTab, email string) {
		t.Helper()
		b.open(env.URL + "/e/" + slug)
		b.waitFor(10*time.Second, "the event's sign-in", `document.getElementById("sso-event-form")`)
		b.do("type the work email and go on",
			chromedp.SendKeys(chromedp.ID("sso-event-email"), email),
			chromedp.Click(chromedp.ID("sso-event")))
	}
	landed := func(b *browserTab, name string) {
		t.Helper()
		b.waitFor(15*time.Second, "the event page, signed in", `location.origin === "`+env.URL+`" && location.pathname === "/e/`+slug+`" && document.getElementById("attendee-name")`)
		if got := b.str(`document.getElementById("attendee-name").textContent`); got != name {
			t.Fatalf("the event page signs in %q, want %s", got, name)
		}
	}

	// Nia, with scripts: the pages post themselves.
	nia := newBrowserProfile(t, env)
	signIn(nia, samlEmail)
	samlAtIDP(nia, idp)
	landed(nia, "Nia Obi")
	nia.waitFor(10*time.Second, "the visit recorded", `document.getElementById("entered").dataset.kind === "pre_event"`)

	// Ola, without scripts: every form is sent by its button.
	ola := newBrowserProfile(t, env)
	if _, err := chromedp.Call(ola.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn scripts off: %v", err)
	}
	signIn(ola, "ola@uni.edu")
	ola.waitFor(10*time.Second, "the gateway's page to the IdP", `document.getElementById("sso-post-continue")`)
	ola.click("sso-post-continue")
	ola.waitFor(10*time.Second, "the IdP's login form", `location.origin === "`+idp.URL+`" && document.querySelector('input[name="password"]')`)
	ola.do("sign in at the IdP",
		chromedp.SendKeys(`input[name="user"]`, "ola"),
		chromedp.SendKeys(`input[name="password"]`, "another long passphrase"),
		chromedp.Click(`input[type="submit"]`))
	ola.waitFor(10*time.Second, "the IdP's answer", `document.getElementById("SAMLSubmitButton")`)
	ola.click("SAMLSubmitButton")
	// The IdP's cross-site POST carries no SameSite=Lax cookie: the
	// gateway's page posts the answer to itself again, by its button here.
	ola.waitFor(10*time.Second, "the gateway's page finishing the sign-in", `location.origin === "`+env.URL+`" && document.getElementById("sso-post-continue")`)
	ola.click("sso-post-continue")
	landed(ola, "Ola Berg")
	if got := ola.str(`document.getElementById("attendee-status").textContent`); got != "SSO login" {
		t.Fatalf("the event page shows the status %q, want SSO login", got)
	}

	list := env.Must(env.Do("GET", "/api/v1/events/"+evID+"/attendees?sort=name", env.APIKey, nil), http.StatusOK)
	var page struct {
		Items []struct {
			Email            string `json:"email"`
			Status           string `json:"status"`
			Detail           string `json:"detail"`
			RegistrationType string `json:"registration_type"`
		} `json:"items"`
		Total int `json:"total"`
	}
	list.JSON(t, &page)
	type row struct{ Email, Status, Detail, RegistrationType string }
	var got []row
	for _, a := range page.Items {
		got = append(got, row(a))
	}
	want := []row{{samlEmail, "attended", "pre_event_visit", "sso"}, {"ola@uni.edu", "sso_login", "sso_login", "sso"}}
	if page.Total != 2 || !slices.Equal(got, want) {
		t.Fatalf("the All users list %+v, want %+v", got, want)
	}

	organizer := newBrowserProfile(t, env)
	organizer.signInAsAdmin()
	organizer.open(env.URL + "/console/events/" + evID)
	organizer.waitFor(10*time.Second, "the All users list with Ola as SSO login",
		`[...document.querySelectorAll("tr")].some(tr => tr.innerText.includes("ola@uni.edu") && tr.innerText.includes("SSO login"))`)

	for email, groups := range map[string][]string{samlEmail: samlGroups, "ola@uni.edu": {"guests"}} {
		if got := loginGroups(t, env, id, email); !slices.Equal(got, groups) {
			t.Fatalf("groups of %s's login %v, want %v", email, got, groups)
		}
	}
	var ids []user.UserIdentity
	env.DB.R.Where("account_id = ? AND issuer = ?", env.AccountID, idp.EntityID()).Order("subject").Find(&ids)
	if len(ids) != 2 || ids[0].Subject != samlEmail || ids[1].Subject != "ola@uni.edu" {
		t.Fatalf("identities %+v, want Nia's and Ola's at %s", ids, idp.EntityID())
	}
}
