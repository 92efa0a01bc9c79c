package ltitest

import (
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The platform's side of LTI Dynamic Registration 1.0: its
// openid-configuration with the LTI platform configuration claim, and a
// registration endpoint that takes a tool's configuration with the
// registration token as bearer and answers with the client id and the
// tool configuration claim carrying the deployment id.

// RegistrationToken is the bearer the platform gives the tool when it
// opens the tool's registration URL, and wants back.
const RegistrationToken = "platform-registration-token"

// registrar is the platform's registration side.
type registrar struct {
	mu sync.Mutex
	// received are the tool configurations posted, in order.
	received []map[string]any
	// refuse, when set, is the answer to every registration.
	refuseStatus int
	refuseBody   string
	// configIssuer overrides the issuer the configuration names.
	configIssuer string
	// closedBy is the origin of the frame that asked to close the
	// registration window (org.imsglobal.lti.close).
	closedBy string
}

func (p *Platform) mountRegistration(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveConfiguration)
	mux.HandleFunc("POST /register", p.serveRegister)
	mux.HandleFunc("GET /admin/register", p.serveRegisterPage)
	mux.HandleFunc("POST /admin/register/closed", p.serveRegisterClosed)
}

// RegisterPageURL is the platform's admin page that opens a tool's
// registration URL in a frame, as an LMS's "register a tool" does.
func (p *Platform) RegisterPageURL(toolURL string) string {
	return p.Issuer + "/admin/register?url=" + url.QueryEscape(toolURL)
}

// RegistrationClosedBy is the origin whose frame told the platform the
// registration is over, "" before.
func (p *Platform) RegistrationClosedBy() string {
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	return p.reg.closedBy
}

var registerPage = template.Must(template.New("register").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Register a tool</title></head>
<body><h1 id="admin">Register a tool</h1><p id="status">registering</p>
<iframe id="tool" src="{{.Src}}" width="1000" height="800"></iframe>
<script>
window.addEventListener("message", function (ev) {
  if (!ev.data || ev.data.subject !== "org.imsglobal.lti.close") return;
  fetch("/admin/register/closed", {method: "POST", body: ev.origin}).then(function () {
    document.getElementById("status").textContent = "closed";
    document.getElementById("tool").remove();
  });
});
</script></body></html>`))

// serveRegisterPage frames the tool's registration URL and closes the
// frame when the tool says it is done (Dynamic Registration §3.6).
func (p *Platform) serveRegisterPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	registerPage.Execute(w, map[string]string{"Src": p.OpenRegistration(r.URL.Query().Get("url"))})
}

func (p *Platform) serveRegisterClosed(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1024))
	p.reg.mu.Lock()
	p.reg.closedBy = string(b)
	p.reg.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// ConfigurationURL is the platform's openid-configuration.
func (p *Platform) ConfigurationURL() string { return p.Issuer + "/.well-known/openid-configuration" }

// RegistrationEndpoint is where tools post their configuration.
func (p *Platform) RegistrationEndpoint() string { return p.Issuer + "/register" }

// OpenRegistration is the address the platform opens a tool's
// registration URL at (Dynamic Registration §3.3): the URL with the
// platform's configuration URL and its registration token added.
func (p *Platform) OpenRegistration(toolURL string) string {
	u, err := url.Parse(toolURL)
	if err != nil {
		p.t.Fatal(err)
	}
	q := u.Query()
	q.Set("openid_configuration", p.ConfigurationURL())
	q.Set("registration_token", RegistrationToken)
	u.RawQuery = q.Encode()
	return u.String()
}

// Registrations are the tool configurations the platform received.
func (p *Platform) Registrations() []map[string]any {
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	return append([]map[string]any(nil), p.reg.received...)
}

// RefuseRegistrations makes the registration endpoint answer status with
// body, as a platform that refuses the tool's configuration does.
func (p *Platform) RefuseRegistrations(status int, body string) {
	p.reg.mu.Lock()
	p.reg.refuseStatus, p.reg.refuseBody = status, body
	p.reg.mu.Unlock()
}

// ConfigurationIssuer makes the configuration name another issuer.
func (p *Platform) ConfigurationIssuer(iss string) {
	p.reg.mu.Lock()
	p.reg.configIssuer = iss
	p.reg.mu.Unlock()
}

func (p *Platform) serveConfiguration(w http.ResponseWriter, _ *http.Request) {
	p.reg.mu.Lock()
	iss := p.reg.configIssuer
	p.reg.mu.Unlock()
	if iss == "" {
		iss = p.Issuer
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer": iss, "authorization_endpoint": p.AuthURL(), "token_endpoint": p.TokenURL(), "jwks_uri": p.JWKSURL(),
		"registration_endpoint": p.RegistrationEndpoint(), "response_types_supported": []string{"id_token"},
		"subject_types_supported": []string{"public", "pairwise"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"}, "token_endpoint_auth_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported": []string{"openid", "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"},
		"claims_supported": []string{"iss", "sub", "name", "given_name", "family_name", "email"},
		"https://purl.imsglobal.org/spec/lti-platform-configuration": map[string]any{
			"product_family_code": "ltitest", "version": "1.0",
			"messages_supported": []map[string]any{{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}},
		},
	})
}

// serveRegister is the registration endpoint (§3.5.2): the bearer must be
// the registration token; the answer is the client id and the tool
// configuration with the deployment id.
func (p *Platform) serveRegister(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+RegistrationToken {
		http.Error(w, `{"error":"invalid_token","error_description":"the registration token is missing or wrong"}`, http.StatusUnauthorized)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		http.Error(w, `{"error":"invalid_client_metadata","error_description":"the configuration must be JSON"}`, http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		http.Error(w, `{"error":"invalid_client_metadata","error_description":"the configuration is not JSON"}`, http.StatusBadRequest)
		return
	}
	p.reg.mu.Lock()
	p.reg.received = append(p.reg.received, cfg)
	status, body := p.reg.refuseStatus, p.reg.refuseBody
	p.reg.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
		io.WriteString(w, body)
		return
	}
	out := map[string]any{}
	for k, v := range cfg {
		out[k] = v
	}
	out["client_id"] = p.ClientID
	tc, _ := cfg["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any)
	if tc == nil {
		tc = map[string]any{}
	}
	tc["deployment_id"] = p.DeploymentID
	out["https://purl.imsglobal.org/spec/lti-tool-configuration"] = tc
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(out)
}
