package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
)

var (
	errNoRoute  = problem.New(problem.NotFound, "no_route", "there is no page or endpoint at this address")
	errNoMethod = problem.New(problem.Invalid, "method_not_allowed", "this address does not accept this HTTP method")
	errInternal = errors.New("internal error")
)

// statusOf is the one place core's refusals become HTTP statuses.
func statusOf(err error) int {
	if err == errNoMethod {
		return http.StatusMethodNotAllowed
	}
	if errors.Is(err, errBodyTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	switch problem.KindOf(err) {
	case problem.Invalid:
		return http.StatusBadRequest
	case problem.NotFound:
		return http.StatusNotFound
	case problem.Forbidden:
		return http.StatusForbidden
	case problem.Unauthorized:
		return http.StatusUnauthorized
	case problem.Conflict:
		return http.StatusConflict
	case problem.Gone:
		return http.StatusGone
	case problem.RateLimited:
		return http.StatusTooManyRequests
	case problem.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Code      string               `json:"code"`
	Message   string               `json:"message"`
	Field     string               `json:"field,omitempty"`
	Details   []problem.FieldError `json:"details,omitempty"`
	RequestID string               `json:"request_id"`
}

// describe returns what a person may be told about err. Unexpected errors are
// logged in full and shown only as "internal error" with the request id.
func describe(c *gin.Context, err error) errorBody {
	b := errorBody{RequestID: requestIDOf(c)}
	if p, ok := problem.As(err); ok {
		b.Code, b.Message, b.Field, b.Details = p.Code, p.Message, p.Field, p.Details
		return b
	}
	reqLog(c).Error("request failed", "route", c.FullPath(), "error", err.Error())
	b.Code = "internal"
	b.Message = "something went wrong on our side; if it persists, report request id " + b.RequestID
	return b
}

// fail answers with the error as JSON under /api and as a page elsewhere.
func (s *Server) fail(c *gin.Context, err error) {
	status := statusOf(err)
	b := describe(c, err)
	if strings.HasPrefix(c.Request.URL.Path, "/api/") || wantsJSON(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": b})
		return
	}
	s.render(c, status, "error", pageData{Title: errorTitle(b.Code), Error: &b})
	c.Abort()
}

func wantsJSON(c *gin.Context) bool {
	a := c.GetHeader("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// bind decodes a JSON body strictly: unknown fields, wrong types, text
// that is not text (NUL, invalid UTF-8) and values that do not parse are
// reported with the field's name; a body over maxJSONBody is 413.
func bind(c *gin.Context, dst any) error {
	body, err := readJSON(c.Request)
	if err != nil {
		return err
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, body, dst)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.New(problem.Invalid, "bad_json", "request body holds more than one JSON value; send one JSON object")
	}
	return nil
}

// readJSON reads the whole body, refusing one over maxJSONBody without
// reading past the limit.
func readJSON(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxJSONBody {
		return nil, errBodyTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, problem.New(problem.Invalid, "bad_json", "request body could not be read: "+err.Error())
	}
	if len(b) > maxJSONBody {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// jsonError says what is wrong with a body the decoder refused.
func jsonError(err error, body []byte, dst any) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return problem.New(problem.Invalid, "bad_json", fmt.Sprintf("request body must be a JSON object, not a JSON %s", te.Value))
	case errors.As(err, &te):
		f := jsonPath(reflect.TypeOf(dst), te.Field)
		return problem.Field(f, fmt.Sprintf("%s must be a %s, not a JSON %s", f, jsonKind(te.Type), te.Value))
	case errors.As(err, &se):
		return problem.New(problem.Invalid, "bad_json", fmt.Sprintf("request body is not valid JSON (at byte %d): %v", se.Offset, se))
	case errors.Is(err, io.EOF):
		return problem.New(problem.Invalid, "bad_json", "request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.New(problem.Invalid, "bad_json", "request body is cut off: the JSON ends before the object does")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := fieldName(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		return problem.Field(f, fmt.Sprintf("unknown field %q", f))
	}
	if f, ferr := blame(body, dst); f != "" {
		return problem.Field(f, valueMessage(f, ferr))
	}
	return problem.New(problem.Invalid, "bad_json", "request body is not valid: "+shorten(err.Error()))
}

// jsonPath turns the decoder's path to a field into the JSON one: the
// decoder names an embedded struct by its Go type ("Profile.bio"), which
// the JSON body does not have.
func jsonPath(t reflect.Type, path string) string {
	var out []string
	for _, seg := range strings.Split(path, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			out = append(out, seg)
			t = nil
			continue
		}
		if f, ok := t.FieldByName(seg); ok && f.Anonymous && f.Tag.Get("json") == "" {
			t = f.Type
			continue
		}
		out = append(out, seg)
		t = jsonField(t, seg)
	}
	return strings.Join(out, ".")
}

// jsonField is the type of the struct field a JSON name decodes into.
func jsonField(t reflect.Type, name string) reflect.Type {
	for _, f := range reflect.VisibleFields(t) {
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name || (tag == "" && strings.EqualFold(f.Name, name)) {
			return f.Type
		}
	}
	return nil
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// blame finds the top-level field whose value failed to decode with an
// error the decoder does not attribute (a date that does not parse...):
// each field is decoded alone into a fresh value of dst's type.
func blame(body []byte, dst any) (string, error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return "", nil
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t := reflect.TypeOf(dst)
	if t.Kind() != reflect.Pointer {
		return "", nil
	}
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		if err := json.Unmarshal(one, reflect.New(t.Elem()).Interface()); err != nil {
			return fieldName(k), err
		}
	}
	return "", nil
}

// valueMessage says why a field's value did not decode, without repeating
// the value (it may be long).
func valueMessage(field string, err error) string {
	var pe *time.ParseError
	if errors.As(err, &pe) || strings.Contains(err.Error(), "Time.UnmarshalJSON") {
		return field + " must be an RFC 3339 date-time string, e.g. 2030-01-31T09:00:00Z"
	}
	return field + " is not valid: " + shorten(err.Error())
}

// shorten keeps an error message readable when it quotes a long input.
func shorten(s string) string {
	if len(s) > 200 {
		return strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// errorTitle is the heading of each failure page.
func errorTitle(code string) string {
	switch code {
	case "invite_expired":
		return "This link has expired"
	case "invite_used":
		return "This link has already been used"
	case "used_on_another_device":
		return "This link was used on another device"
	case "email_mismatch":
		return "That is not the invited email"
	case "domain_blocked":
		return "This email domain is not allowed"
	case "invite_removed":
		return "This invitation was removed"
	case "resource_deleted":
		return "This room or media no longer exists"
	case "module_disabled":
		return "Invitations are turned off"
	case "session_not_open":
		return "This session has not started yet"
	case "too_many_attempts":
		return "Too many attempts"
	case "invite_not_found", "login_link_invalid":
		return "This link is not valid"
	case "login_link_used":
		return "This sign-in link was already used"
	case "login_link_expired":
		return "This sign-in link has expired"
	case "unauthorized":
		return "Please sign in"
	case "forbidden", "not_collaborator":
		return "You cannot do this"
	case "no_route", "not_found":
		return "Page not found"
	}
	return "Something went wrong"
}
