package samltest

import (
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
)

var (
	formRe   = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// Browser is a Go HTTP client that does what a person's browser does with
// the IdP's pages: keeps cookies, follows redirects, fills the login form
// and reads the self-posting forms.
type Browser struct {
	Client *http.Client
	// User and Password are what the person types at the IdP (the default
	// person's unless set).
	User, Password string
}

// NewBrowser is a browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{Client: &http.Client{Jar: jar}, User: User, Password: Password}
}

// Page is an answer and its page's single POST form, if any.
type Page struct {
	Action string
	Fields url.Values
	Body   string
	Status int
}

// Do GETs (form nil) or POSTs a page.
func (b *Browser) Do(t testing.TB, method, target string, form url.Values) *Page {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = b.Client.Get(target)
	} else {
		resp, err = b.Client.PostForm(target, form)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return ReadPage(resp.StatusCode, string(body))
}

// ReadPage is a page and its first POST form's action and hidden fields.
func ReadPage(status int, body string) *Page {
	p := &Page{Body: body, Status: status, Fields: url.Values{}}
	if m := formRe.FindStringSubmatch(p.Body); m != nil {
		p.Action = html.UnescapeString(m[1])
		for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
			p.Fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
	}
	return p
}

// Login takes an SP's AuthnRequest to the IdP (a redirect URL, or a URL
// and the fields of the HTTP-POST binding's form), signs in there, and
// returns the IdP's self-posting form carrying the SAMLResponse, not yet
// posted.
//
// samlidp's login form posts the AuthnRequest back with the HTTP-POST
// binding, which would drop an HTTP-Redirect request's query signature;
// so with that binding the person signs in at the IdP and the browser
// follows the redirect again, as it does with an IdP session.
func (b *Browser) Login(t testing.TB, idp *IDP, target string, form map[string]string) *Page {
	t.Helper()
	var p *Page
	if form == nil {
		p = b.Do(t, http.MethodGet, target, nil)
	} else {
		f := url.Values{}
		for k, v := range form {
			f.Set(k, v)
		}
		p = b.Do(t, http.MethodPost, target, f)
	}
	if p.Action == "" || p.Fields.Get("SAMLRequest") == "" {
		t.Fatalf("IdP did not show its login form (%d): %s", p.Status, p.Body)
	}
	var resp *Page
	if form == nil {
		if s := b.Do(t, http.MethodPost, idp.URL+"/login", url.Values{"user": {b.User}, "password": {b.Password}}); s.Status != http.StatusOK {
			t.Fatalf("IdP login: %d %s", s.Status, s.Body)
		}
		resp = b.Do(t, http.MethodGet, target, nil)
	} else {
		p.Fields.Set("user", b.User)
		p.Fields.Set("password", b.Password)
		resp = b.Do(t, http.MethodPost, p.Action, p.Fields)
	}
	if resp.Fields.Get("SAMLResponse") == "" {
		t.Fatalf("IdP sent no SAMLResponse (%d): %s", resp.Status, resp.Body)
	}
	return resp
}

// Decode is the XML of a base64 SAMLResponse.
func Decode(t testing.TB, samlResponse string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(samlResponse)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
