package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
)

// openAPIDoc is the part of the served document the tests look at.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		Parameters      map[string]openAPIParam    `json:"parameters"`
	} `json:"components"`
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

type openAPIOp struct {
	Parameters []openAPIParam             `json:"parameters"`
	Responses  map[string]json.RawMessage `json:"responses"`
	Security   *[]map[string][]string     `json:"security"`
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

// fetchOpenAPI gets /openapi.json from a running gateway, as a client would.
func fetchOpenAPI(t *testing.T) (*apitest.Env, []byte, openAPIDoc) {
	t.Helper()
	env := apitest.New(t, apitest.Options{})
	r := env.Must(env.Do("GET", "/openapi.json", "", nil), http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if !json.Valid(r.Body) {
		t.Fatalf("/openapi.json is not valid JSON: %.200s", r.Body)
	}
	var doc openAPIDoc
	r.JSON(t, &doc)
	return env, r.Body, doc
}

// registeredRoutes lists "METHOD /path/{param}" for every route registered in
// api/server.go's routes(), read from its source: group variables
// (`v1 := e.Group("/api/v1", ...)`) give prefixes, and lines like
// `v1.GET("/resources/:id", ...)` give routes.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start := strings.Index(body, "func (s *Server) routes(")
	if start < 0 {
		t.Fatal("server.go has no routes() method")
	}
	body = body[start:]
	if end := strings.Index(body, "\n}\n"); end >= 0 {
		body = body[:end]
	}

	prefix := map[string]string{}
	engineRE := regexp.MustCompile(`(?m)^\s*(\w+)\s*:?=\s*s\.engine\s*$`)
	for _, m := range engineRE.FindAllStringSubmatch(body, -1) {
		prefix[m[1]] = ""
	}
	out := routesIn(t, body, prefix)
	// Route hooks (`s.eventRoutes(v1)`) register more routes in their own
	// files, on the router they are handed.
	hookRE := regexp.MustCompile(`(?m)^\s*s\.(\w+Routes)\(\s*(\w+)\s*\)`)
	for _, m := range hookRE.FindAllStringSubmatch(body, -1) {
		p, ok := prefix[m[2]]
		if !ok {
			t.Fatalf("server.go routes(): hook %s is handed unknown router %s", m[1], m[2])
		}
		param, hook := hookBody(t, m[1])
		out = append(out, routesIn(t, hook, map[string]string{param: p})...)
	}
	if len(out) < 10 {
		t.Fatalf("found only %d routes in server.go routes(); has the way routes are registered changed? %v", len(out), out)
	}
	sort.Strings(out)
	return out
}

// routesIn lists the routes registered in one function's body, given the
// prefixes of the routers it starts with; groups made in it add prefixes.
func routesIn(t *testing.T, body string, prefix map[string]string) []string {
	t.Helper()
	groupRE := regexp.MustCompile(`(?m)^\s*(\w+)\s*:?=\s*(\w+)\.Group\(\s*"([^"]*)"`)
	for _, m := range groupRE.FindAllStringSubmatch(body, -1) {
		parent, ok := prefix[m[2]]
		if !ok {
			t.Fatalf("routes: group %s is made from unknown router %s", m[1], m[2])
		}
		prefix[m[1]] = parent + m[3]
	}
	routeRE := regexp.MustCompile(`(?m)^\s*(\w+)\.(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\(\s*"([^"]*)"`)
	paramRE := regexp.MustCompile(`[:*](\w+)`)
	var out []string
	for _, m := range routeRE.FindAllStringSubmatch(body, -1) {
		p, ok := prefix[m[1]]
		if !ok {
			t.Fatalf("routes: route %s %q is registered on unknown router %s", m[2], m[3], m[1])
		}
		out = append(out, m[2]+" "+paramRE.ReplaceAllString(p+m[3], "{$1}"))
	}
	return out
}

// hookBody finds `func (s *Server) name(param *gin.X)` in the package's
// files and returns param's name and the function's body.
func hookBody(t *testing.T, name string) (string, string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	sigRE := regexp.MustCompile(`func \(s \*Server\) ` + name + `\((\w+) \*gin\.\w+\) \{`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		loc := sigRE.FindSubmatchIndex(src)
		if loc == nil {
			continue
		}
		body := string(src[loc[1]:])
		if strings.HasPrefix(body, "}") {
			return string(src[loc[2]:loc[3]]), "" // an empty hook: `{}`
		}
		if end := strings.Index(body, "\n}\n"); end >= 0 {
			body = body[:end]
		}
		return string(src[loc[2]:loc[3]]), body
	}
	t.Fatalf("route hook %s is called in routes() but defined in no file of the package", name)
	return "", ""
}

// documentedOps lists "METHOD /path" for every operation in the document.
func documentedOps(t *testing.T, doc openAPIDoc) map[string]openAPIOp {
	t.Helper()
	out := map[string]openAPIOp{}
	for path, item := range doc.Paths {
		for key, raw := range item {
			if !httpMethods[key] {
				continue
			}
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			out[strings.ToUpper(key)+" "+path] = op
		}
	}
	return out
}

func TestOpenAPIDocument(t *testing.T) {
	_, raw, doc := fetchOpenAPI(t)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(doc.OpenAPI) {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	for _, name := range []string{"apiKey", "session"} {
		if _, ok := doc.Components.SecuritySchemes[name]; !ok {
			t.Errorf("components.securitySchemes lacks %q", name)
		}
	}

	// Every local reference points at something that exists.
	var whole any
	if err := json.Unmarshal(raw, &whole); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !resolves(whole, ref) {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(whole)
}

// resolves reports whether a "#/a/b" reference names a value in doc.
func resolves(doc any, ref string) bool {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := doc
	for _, part := range strings.Split(p, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// TestOpenAPIMatchesRoutes checks the document against the routes the server
// registers: every /api/v1 route is documented with its method, and every
// documented operation is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	_, _, doc := fetchOpenAPI(t)
	routes := registeredRoutes(t)
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r] = true
	}
	ops := documentedOps(t, doc)

	nv1 := 0
	for _, r := range routes {
		if !strings.Contains(r, " /api/v1/") {
			continue
		}
		nv1++
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is registered in server.go but missing from openapi.json", r)
		}
	}
	if nv1 == 0 {
		t.Fatal("no /api/v1 route found in server.go")
	}
	for op := range ops {
		if !registered[op] {
			t.Errorf("openapi.json documents %s, which server.go does not register", op)
		}
	}
}

// TestOpenAPIOperations checks each /api/v1 operation: it declares its path
// parameters, answers 401 without credentials (as documented), and the live
// server agrees that the method and path exist.
func TestOpenAPIOperations(t *testing.T) {
	env, _, doc := fetchOpenAPI(t)
	paramRE := regexp.MustCompile(`\{(\w+)\}`)
	for key, op := range documentedOps(t, doc) {
		method, path, _ := strings.Cut(key, " ")
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		if op.Security != nil && len(*op.Security) == 0 {
			t.Errorf("%s is documented as public; every /api/v1 operation needs an API key or session", key)
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s documents no 401 response", key)
		}
		if len(doc.Security) == 0 && op.Security == nil {
			t.Errorf("%s has no security requirement", key)
		}

		// Path parameters, from the path item and the operation.
		declared := map[string]bool{}
		var pathLevel struct {
			Parameters []openAPIParam `json:"parameters"`
		}
		if raw, ok := doc.Paths[path]["parameters"]; ok {
			if err := json.Unmarshal(raw, &pathLevel.Parameters); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for _, p := range append(pathLevel.Parameters, op.Parameters...) {
			if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
				p = doc.Components.Parameters[name]
			}
			if p.In == "path" {
				declared[p.Name] = true
			}
		}
		for _, m := range paramRE.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s does not declare path parameter %q", key, m[1])
			}
		}

		// The live server: without credentials, a registered API route
		// answers 401 (an unregistered one 404 or 405).
		concrete := paramRE.ReplaceAllString(path, "0190d3a4-7b1c-7c3e-9f00-000000000001")
		r := env.Do(method, concrete, "", nil)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: status %d, want 401: %s", method, concrete, r.Status, r.Body)
		}
	}
}
