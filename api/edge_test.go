package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/store"
)

// A JSON body over the 1 MB limit is 413 with a message that says the
// limit, whether its length is declared or it arrives in chunks; one just
// under the limit is read whole and judged on its fields.
func TestOversizeJSONBodyIs413(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	big := `{"type":"room","title":"` + strings.Repeat("a", 1<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			// Hides the length from the client, which then sends chunks.
			body = io.MultiReader(strings.NewReader(big))
		}
		req, _ := http.NewRequest("POST", e.URL+"/api/v1/resources", body)
		req.Header.Set("Authorization", "Bearer "+e.APIKey)
		req.Header.Set("Content-Type", "application/json")
		r := e.Send(http.DefaultClient, req)
		if r.Status != http.StatusRequestEntityTooLarge || r.ErrorCode() != "body_too_large" || !strings.Contains(string(r.Body), "1 MB") {
			t.Fatalf("chunked=%v: %d %.300s, want 413 body_too_large saying the limit", chunked, r.Status, r.Body)
		}
	}
	under := map[string]any{"type": "room", "title": strings.Repeat("a", 1000_000)}
	r := e.Do("POST", "/api/v1/resources", e.APIKey, under)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"title"`) || len(r.Body) > 4096 {
		t.Fatalf("a 1 MB title: %d %.300s, want 400 naming title without repeating it", r.Status, r.Body)
	}
	// Something after the object is not silently ignored.
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/resources", strings.NewReader(`{"type":"room","title":"A"} {"x":1}`))
	req.Header.Set("Authorization", "Bearer "+e.APIKey)
	if r := e.Send(http.DefaultClient, req); r.Status != http.StatusBadRequest || r.ErrorCode() != "bad_json" {
		t.Fatalf("two JSON values: %d %s", r.Status, r.Body)
	}
}

// What the OpenAPI probes do not reach: path parameters, malformed query
// strings, nested JSON, and the console's and event site's own pages, on
// both databases.
func TestEdgeRefusesBadText(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEventsEnv(t, apitest.Options{Dialect: d}, false)
			ev := e.event(map[string]any{"slug": "edge-event"})
			evID := ev["id"].(string)
			_, console := e.ConsoleUser("organizer@edge.test", "admin")

			api := func(method, path string, body []byte) *apitest.Response {
				req, _ := http.NewRequest(method, e.URL+path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.APIKey)
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				return e.Send(http.DefaultClient, req)
			}
			for _, tc := range []struct {
				name, method, path string
				body               []byte
				field              string
			}{
				{"NUL in a path id", "GET", "/api/v1/resources/%00", nil, "id"},
				{"invalid UTF-8 in a path id", "GET", "/api/v1/events/" + evID + "/attendees/%ff", nil, "aid"},
				{"malformed escape", "GET", "/api/v1/events/" + evID + "/attendees?search=%zz", nil, "search"},
				{"semicolon separator", "GET", "/api/v1/jobs?limit=1;status=done", nil, "limit"},
				{"bad query name", "GET", "/api/v1/users?%00=1", nil, `\x00`},
				{"over 4 KB", "GET", "/api/v1/users?q=" + strings.Repeat("a", 4097), nil, "q"},
				{"search over 254", "GET", "/api/v1/users?q=" + strings.Repeat("a", 255), nil, "q"},
				{"nested NUL", "PUT", "/api/v1/settings/invitations", []byte(`{"blocked_domains":["ok.example","a\u0000b"]}`), "blocked_domains[1]"},
				{"nested invalid UTF-8", "PUT", "/api/v1/settings/invitations", []byte("{\"allowed_domains\":[\"a\xffb\"]}"), "allowed_domains[0]"},
				{"NUL in a field name", "POST", "/api/v1/resources", []byte(`{"ti\u0000tle":"x"}`), `ti\x00tle`},
				{"date that does not parse", "POST", "/api/v1/events", []byte(`{"name":"E","starts_at":"tomorrow"}`), "starts_at"},
			} {
				r := api(tc.method, tc.path, tc.body)
				if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"`+strings.ReplaceAll(tc.field, `\`, `\\`)+`"`) {
					t.Errorf("%s: %d %.300s, want 400 naming %s", tc.name, r.Status, r.Body, tc.field)
				}
			}

			// An over-long lobby email is refused on the lobby page, and is
			// no guess: more of them than the guesses a link allows (5) do
			// not lock the invitee out.
			room := e.Resource(map[string]any{"type": "room", "title": "Edge room"})
			_, link := e.Invite(room, "long@edge.test", "viewer")
			for i := 0; i < 6; i++ {
				r := e.Form(e.Client(), link, url.Values{"email": {strings.Repeat("a", 300) + "@edge.test"}})
				if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `data-error-code="email_too_long" data-error-field="email"`) {
					t.Fatalf("over-long lobby email %d: %d %.300s", i, r.Status, r.Body)
				}
			}
			if r := e.Form(e.Client(), link, url.Values{"email": {"long@edge.test"}}); r.Status != http.StatusSeeOther {
				t.Fatalf("the invited email after over-long ones: %d %.300s", r.Status, r.Body)
			}

			// Pages answer with a page that marks the field.
			for _, tc := range []struct {
				name  string
				c     *http.Client
				req   func() *http.Request
				field string
			}{
				{"console list search", console, func() *http.Request {
					req, _ := http.NewRequest("GET", e.URL+"/console/events/"+evID+"?search=%00", nil)
					return req
				}, "search"},
				{"event slug", e.Client(), func() *http.Request {
					req, _ := http.NewRequest("GET", e.URL+"/e/%ff", nil)
					return req
				}, "slug"},
				{"chat message", e.Client(), func() *http.Request {
					req, _ := http.NewRequest("POST", e.URL+"/e/edge-event/chat", strings.NewReader(url.Values{"message": {"hi\x00"}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					return req
				}, "message"},
			} {
				r := e.Send(tc.c, tc.req())
				if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `data-error-field="`+tc.field+`"`) {
					t.Errorf("%s: %d %.300s, want a 400 page marking %s", tc.name, r.Status, r.Body, tc.field)
				}
			}
		})
	}
}
