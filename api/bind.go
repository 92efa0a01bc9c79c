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
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
)

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

// checkJSONText names the first string of a JSON document (a field name or
// a value) that holds a NUL or invalid UTF-8. encoding/json turns invalid
// UTF-8 into U+FFFD and "\u0000" into a NUL, so the raw bytes are what is
// checked. A body that is plain valid text without a \u0000 escape (every
// ordinary one) is passed after one scan. A document that is not JSON is
// left to the decoder to report.
func checkJSONText(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	var w jsonWalk
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		// The token's raw bytes (with the separators before it).
		raw := body[start:dec.InputOffset()]
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				w.open(t == '{')
			} else {
				w.close()
			}
		case string:
			if w.atKey() {
				w.key(t)
				if why := rawBadText(t, raw); why != "" {
					return textError(w.here(), "(a field name) "+why)
				}
				continue
			}
			// A bare string is no object: the decoder says so.
			if why := rawBadText(t, raw); why != "" && len(w.stack) > 0 {
				return textError(w.here(), why)
			}
			w.done()
		default:
			w.done()
		}
	}
}

// jsonWalk follows where a token stream is in its document, to name a
// value by its path ("allowed_domains[2]").
type jsonWalk struct{ stack []jsonFrame }

type jsonFrame struct {
	path    string
	object  bool
	name    string // the current field of an object
	wantKey bool
	index   int // the current item of an array
}

func (w *jsonWalk) open(object bool) {
	w.stack = append(w.stack, jsonFrame{path: w.here(), object: object, wantKey: object})
}

func (w *jsonWalk) close() {
	w.stack = w.stack[:len(w.stack)-1]
	w.done()
}

func (w *jsonWalk) atKey() bool {
	return len(w.stack) > 0 && w.stack[len(w.stack)-1].object && w.stack[len(w.stack)-1].wantKey
}

func (w *jsonWalk) key(name string) {
	f := &w.stack[len(w.stack)-1]
	f.name, f.wantKey = name, false
}

// here is the path of the value being read.
func (w *jsonWalk) here() string {
	if len(w.stack) == 0 {
		return ""
	}
	f := w.stack[len(w.stack)-1]
	switch {
	case !f.object:
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	case f.path == "":
		return f.name
	}
	return f.path + "." + f.name
}

// done moves past a value that was read.
func (w *jsonWalk) done() {
	if len(w.stack) == 0 {
		return
	}
	f := &w.stack[len(w.stack)-1]
	if f.object {
		f.wantKey = true
	} else {
		f.index++
	}
}

// rawBadText checks a decoded JSON string and the raw bytes it came from.
func rawBadText(decoded string, raw []byte) string {
	if strings.IndexByte(decoded, 0) >= 0 {
		return badText(decoded)
	}
	if !utf8.Valid(raw) {
		return "is not valid UTF-8 text"
	}
	return ""
}
