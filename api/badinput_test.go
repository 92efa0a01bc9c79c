package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/sso/ssotest"
)

// TestBadInputFromOpenAPI sends bad input to every operation the served
// /openapi.json documents: for every string field of a JSON body, every
// query parameter and every form field, a NUL, invalid UTF-8 and a 1 MB
// value; for every JSON field and typed query parameter, a value of the
// wrong type; for every JSON body, an unknown field. Every answer must be a
// 4xx naming the field (the JSON error's field or details, or a page's
// data-error-field), never a 5xx, and nothing may change. The same gateway
// answers every probe, on SQLite and on PostgreSQL; it must be healthy
// afterwards. An operation added to the document is probed with no change
// here, as long as its path parameters are of a kind the fixtures create.
func TestBadInputFromOpenAPI(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEventsEnv(t, apitest.Options{Dialect: d, HoldJobs: true, SSOTypes: ssotest.Types(&ssotest.Behaviour{}, "oidc", "saml"), Config: func(c *app.Config) {
				// Every probe comes from one client: the per-client limits
				// would otherwise answer 429 before the input is read.
				c.Invitations.GuessesPerClientMinute, c.Limits.SiteFormsPerMinute = 10000, 10000
			}}, true)
			var doc map[string]any
			e.Must(e.Do("GET", "/openapi.json", "", nil), http.StatusOK).JSON(t, &doc)
			fx := badInputFixtures(t, e)
			audits := func() int64 {
				var n int64
				if err := e.DB.R.Raw("SELECT COUNT(*) FROM audit_entries").Scan(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := audits()

			o := oaDoc{doc}
			probed, sent := 0, 0
			for _, op := range o.operations() {
				probes := o.probes(op)
				if len(probes) == 0 {
					continue
				}
				path, ok := op.concretePath(t, fx)
				if !ok {
					continue
				}
				probed++
				t.Run(op.method+" "+op.path, func(t *testing.T) {
					for _, p := range probes {
						sent++
						r := e.Send(http.DefaultClient, p.request(e, op, path))
						checkRefusal(t, op, p, r)
					}
				})
			}
			if probed < 20 || sent < 300 {
				t.Fatalf("only %d operations (%d requests) probed: is the document read right?", probed, sent)
			}
			if after := audits(); after != before {
				t.Errorf("bad input changed something: %d audit entries before the probes, %d after", before, after)
			}

			// Still healthy: the probes broke no connection pool or state.
			e.Must(e.Do("GET", "/healthz", "", nil), http.StatusOK)
			e.Must(e.Do("GET", "/api/v1/resources/"+fx["ResourceID"], e.APIKey, nil), http.StatusOK)
			e.Must(e.Do("PATCH", "/api/v1/events/"+fx["EventID"]+"/attendees/"+fx["AttendeeID"], e.APIKey,
				map[string]any{"first_name": "Édith"}), http.StatusOK)
			if r := e.Form(e.Client(), "/i/"+fx["InviteToken"], url.Values{"email": {"guest@probe.test"}}); r.Status != http.StatusSeeOther {
				t.Fatalf("the invitation the probes were sent to no longer redeems: %d %.300s", r.Status, r.Body)
			}
		})
	}
}

// badInputFixtures creates what the documented path parameters name, so
// probes reach the handlers' input checks. Keys are the document's
// component parameter names, or the parameter's own name when it is
// declared inline.
func badInputFixtures(t *testing.T, e *eventsEnv) map[string]string {
	t.Helper()
	room := e.Resource(map[string]any{"type": "room", "title": "Probe room"})
	inv, link := e.Invite(room, "guest@probe.test", "viewer")
	member, _ := e.ConsoleUser("member@probe.test", "member")
	loginTok, err := e.Sessions.IssueLoginLink(context.Background(), e.AccountID, member.ID, audit.System)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.event(map[string]any{"registration": "open", "slug": "probe-event"})
	evID := ev["id"].(string)
	att := e.invite(evID, "attendee@probe.test")
	var up struct {
		Job struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	e.Must(bulkRaw(e, evID, "text/csv", bulkHeader+"bulk@probe.test,Bulk,Person,,,,\r\n"), http.StatusCreated).JSON(t, &up)
	img := e.Must(e.upload(e.APIKey, "image/png", pngBytes(t, 20, 10)), http.StatusCreated).Map(t)["ref"].(string)
	msg := e.Must(e.Do("POST", "/api/v1/mail/templates/invitation/test", e.APIKey, map[string]any{"to": "admin@org.test"}), http.StatusAccepted).Map(t)["id"].(string)
	// This gateway has no room adapter for the API to register a platform
	// with: the row is written as one that was.
	ltiPlatform := lti.Platform{ID: id.New(), AccountID: e.AccountID, Name: "Probe LMS", Issuer: "https://lms.probe.test", ClientID: "probe",
		DeploymentIDs: []string{"d1"}, AuthLoginURL: "https://lms.probe.test/auth", TokenURL: "https://lms.probe.test/token",
		JWKSURL: "https://lms.probe.test/jwks", Adapter: "rooms", FrameOrigins: []string{}}
	if err := e.DB.W.Create(&ltiPlatform).Error; err != nil {
		t.Fatal(err)
	}
	ssoConn := ssoConnection(e.Env, "saml", map[string]any{"domains": []string{"probe.test"}})["id"].(string)
	grp := e.Must(e.Do("POST", "/api/v1/groups", e.APIKey, map[string]any{"name": "Probe group"}), http.StatusCreated).Map(t)["id"].(string)
	hook := e.Must(e.Do("POST", "/api/v1/webhooks", e.APIKey, map[string]any{"url": "https://hooks.probe.test/in", "types": []string{"invitation.created"}}), http.StatusCreated).Map(t)["id"].(string)
	hookDelivery := e.Must(e.Do("POST", "/api/v1/webhooks/"+hook+"/test", e.APIKey, nil), http.StatusAccepted).Map(t)["id"].(float64)
	return map[string]string{
		"ResourceID": room, "InvitationID": inv, "InviteToken": strings.TrimPrefix(link, "/i/"),
		"CollaboratorUserID": member.ID, "UserID": member.ID, "LoginToken": loginTok,
		"EventID": evID, "EventSlug": ev["slug"].(string), "AttendeeID": att["id"].(string),
		"AttendeeActionName": "resend_invitation", "BulkJobID": up.Job.ID, "JobID": up.Job.ID,
		"ImageRef": img, "name": "invitation", "msg": msg, "LTIPlatformID": ltiPlatform.ID,
		"SSOConnectionID": ssoConn, "GroupID": grp, "AccessGroupID": grp,
		"WebhookID": hook, "WebhookDeliveryID": fmt.Sprint(hookDelivery),
	}
}

// oaDoc reads the parts of the OpenAPI document the probes come from.
type oaDoc struct{ root map[string]any }

type oaOp struct {
	method, path string
	op           map[string]any
	params       []map[string]any // path-level and operation-level, resolved
	keys         map[string]string
}

// operations lists every operation, in a stable order.
func (d oaDoc) operations() []oaOp {
	paths, _ := d.root["paths"].(map[string]any)
	var out []oaOp
	for p, item := range paths {
		im, _ := item.(map[string]any)
		var shared []any
		if ps, ok := im["parameters"].([]any); ok {
			shared = ps
		}
		for m, v := range im {
			if !httpMethods[m] {
				continue
			}
			op, _ := v.(map[string]any)
			o := oaOp{method: strings.ToUpper(m), path: p, op: op, keys: map[string]string{}}
			own, _ := op["parameters"].([]any)
			for _, raw := range append(append([]any{}, shared...), own...) {
				pm, _ := raw.(map[string]any)
				key := ""
				if ref, ok := pm["$ref"].(string); ok {
					key = strings.TrimPrefix(ref, "#/components/parameters/")
				}
				pm = d.deref(pm)
				name, _ := pm["name"].(string)
				if key == "" {
					key = name
				}
				o.keys[name] = key
				o.params = append(o.params, pm)
			}
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return out[i].method < out[j].method
	})
	return out
}

// deref follows $ref and folds allOf into one schema.
func (d oaDoc) deref(v map[string]any) map[string]any {
	for i := 0; i < 10; i++ {
		ref, ok := v["$ref"].(string)
		if !ok {
			break
		}
		cur := any(d.root)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		v = cur.(map[string]any)
	}
	all, ok := v["allOf"].([]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, x := range v {
		if k != "allOf" {
			out[k] = x
		}
	}
	for _, s := range all {
		for k, x := range d.deref(s.(map[string]any)) {
			if _, set := out[k]; !set {
				out[k] = x
			}
		}
	}
	return out
}

func schemaTypes(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, x.(string))
		}
		return out
	}
	if _, ok := s["enum"]; ok {
		return []string{"string"}
	}
	return nil
}

func hasType(s map[string]any, t string) bool {
	for _, x := range schemaTypes(s) {
		if x == t {
			return true
		}
	}
	return false
}

// probe is one bad request: where the value goes, the field it must be
// refused for, and the value.
type probe struct {
	in    string // "json", "query", "form", "multipart"
	field string // the name the refusal must give
	what  string
	json  []byte // the whole JSON body
	value string // a query or form value
	long  bool   // the value is 1 MB: the answer must not repeat it
}

const megabyte = 1_000_000 // fits, with the rest of a body, under the 1 MiB limit

var textProbes = []struct {
	what, text string
	raw        []byte // the JSON string literal
}{
	{"NUL", "a\x00b", []byte(`"a\u0000b"`)},
	{"invalid UTF-8", "a\xffb", []byte("\"a\xffb\"")},
	{"1 MB", strings.Repeat("a", megabyte), []byte(`"` + strings.Repeat("a", megabyte) + `"`)},
}

func (d oaDoc) probes(o oaOp) []probe {
	var out []probe
	for _, p := range o.params {
		if p["in"] != "query" {
			continue
		}
		name := p["name"].(string)
		s := d.deref(asMap(p["schema"]))
		if hasType(s, "array") {
			s = d.deref(asMap(s["items"]))
		}
		for _, tp := range textProbes {
			out = append(out, probe{in: "query", field: name, what: tp.what, value: tp.text, long: tp.what == "1 MB"})
		}
		if hasType(s, "integer") || hasType(s, "number") || hasType(s, "boolean") {
			out = append(out, probe{in: "query", field: name, what: "wrong type", value: "not-a-" + schemaTypes(s)[0]})
		}
	}
	rb := asMap(o.op["requestBody"])
	content := asMap(rb["content"])
	if js, ok := content["application/json"].(map[string]any); ok {
		out = append(out, d.jsonProbes(d.deref(asMap(js["schema"])))...)
	}
	if f, ok := content["application/x-www-form-urlencoded"].(map[string]any); ok {
		props := asMap(d.deref(asMap(f["schema"]))["properties"])
		for _, name := range sortedKeys(props) {
			ps := d.deref(asMap(props[name]))
			if !hasType(ps, "string") || ps["contentMediaType"] != nil {
				continue
			}
			// A page's form may come urlencoded or, from some browsers
			// and programs, as multipart/form-data.
			for _, enc := range []string{"form", "multipart"} {
				for _, tp := range textProbes {
					out = append(out, probe{in: enc, field: name, what: tp.what, value: tp.text})
				}
			}
		}
	}
	return out
}

func (d oaDoc) jsonProbes(schema map[string]any) []probe {
	var out []probe
	body := func(name string, raw []byte) []byte {
		k, _ := json.Marshal(name)
		return append(append(append(append([]byte("{"), k...), ':'), raw...), '}')
	}
	props := asMap(schema["properties"])
	for _, name := range sortedKeys(props) {
		ps := d.deref(asMap(props[name]))
		readOnly := ps["readOnly"] == true
		add := func(what string, raw []byte, long bool) {
			out = append(out, probe{in: "json", field: name, what: what, json: body(name, raw), long: long})
		}
		switch {
		case hasType(ps, "string"):
			for _, tp := range textProbes {
				// The server ignores a read-only field's value; its text is
				// still checked.
				if tp.what == "1 MB" && readOnly {
					continue
				}
				add(tp.what, tp.raw, tp.what == "1 MB")
			}
			add("wrong type", []byte(`12345`), false)
		case hasType(ps, "array"):
			if hasType(d.deref(asMap(ps["items"])), "string") {
				for _, tp := range textProbes {
					add(tp.what+" item", append(append([]byte("["), tp.raw...), ']'), tp.what == "1 MB")
				}
				add("wrong item type", []byte(`[12345]`), false)
			}
			add("wrong type", []byte(`"not an array"`), false)
		case len(schemaTypes(ps)) > 0:
			add("wrong type", []byte(`"not a `+schemaTypes(ps)[0]+`"`), false)
		}
	}
	out = append(out, probe{in: "json", field: "no_such_field", what: "unknown field", json: []byte(`{"no_such_field":"x"}`)})
	return out
}

// concretePath fills the path parameters from the fixtures.
func (o oaOp) concretePath(t *testing.T, fx map[string]string) (string, bool) {
	path := o.path
	for _, p := range o.params {
		if p["in"] != "path" {
			continue
		}
		name := p["name"].(string)
		v, ok := fx[o.keys[name]]
		if !ok {
			t.Errorf("%s %s: no fixture for path parameter %s (%s): create one in badInputFixtures", o.method, o.path, name, o.keys[name])
			return "", false
		}
		path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(v))
	}
	return path, true
}

func (p probe) request(e *eventsEnv, o oaOp, path string) *http.Request {
	var req *http.Request
	switch p.in {
	case "query":
		req, _ = http.NewRequest(o.method, e.URL+path+"?"+url.QueryEscape(p.field)+"="+url.QueryEscape(p.value), nil)
	case "json":
		req, _ = http.NewRequest(o.method, e.URL+path, bytes.NewReader(p.json))
		req.Header.Set("Content-Type", "application/json")
	case "form":
		req, _ = http.NewRequest(o.method, e.URL+path, strings.NewReader(url.QueryEscape(p.field)+"="+url.QueryEscape(p.value)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "multipart":
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		w.WriteField(p.field, p.value)
		w.Close()
		req, _ = http.NewRequest(o.method, e.URL+path, &b)
		req.Header.Set("Content-Type", w.FormDataContentType())
	}
	if strings.HasPrefix(o.path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+e.APIKey)
	}
	return req
}

// checkRefusal: a 4xx naming the field, as JSON under /api and as a page
// for the pages' forms.
func checkRefusal(t *testing.T, o oaOp, p probe, r *apitest.Response) {
	t.Helper()
	where := fmt.Sprintf("%s %s, %s %q (%s)", o.method, o.path, p.in, p.field, p.what)
	body := r.Body
	if len(body) > 600 {
		body = body[:600]
	}
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("%s: status %d, want a 4xx refusal: %s", where, r.Status, body)
		return
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/html") {
		if !strings.HasPrefix(o.path, "/api/") && fieldMarkRE(p.field).Match(r.Body) {
			return
		}
		t.Errorf("%s: %d page without data-error-field=%q: %s", where, r.Status, p.field, body)
		return
	}
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Field   string `json:"field"`
			Details []struct {
				Field string `json:"field"`
			} `json:"details"`
		} `json:"error"`
	}
	if !strings.HasPrefix(ct, "application/json") || json.Unmarshal(r.Body, &b) != nil || b.Error.Code == "" {
		t.Errorf("%s: %d answer is not a JSON error (%s): %s", where, r.Status, ct, body)
		return
	}
	named := names(b.Error.Field, p.field)
	for _, d := range b.Error.Details {
		named = named || names(d.Field, p.field)
	}
	if !named {
		t.Errorf("%s: %d %s does not name the field: %s", where, r.Status, b.Error.Code, body)
	}
	if p.long && len(r.Body) > 64<<10 {
		t.Errorf("%s: the %d-byte answer repeats the 1 MB value", where, len(r.Body))
	}
}

// names reports whether got names want itself or a part of it
// ("allowed_domains[0]").
func names(got, want string) bool {
	return got == want || strings.HasPrefix(got, want+"[") || strings.HasPrefix(got, want+".")
}

func fieldMarkRE(field string) *regexp.Regexp {
	return regexp.MustCompile(`data-error-field="` + regexp.QuoteMeta(field) + `([\[.][^"]*)?"`)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
