package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
)

// Text reaches the gateway through path parameters, query strings, forms and
// JSON bodies. PostgreSQL refuses a NUL byte or invalid UTF-8 in any text it
// is sent (SQLite stores them), so such text is refused here, at the edge,
// with the field named, before any handler reads it: both databases answer
// the same 400, never a 500.

const (
	// maxJSONBody bounds a JSON request body; a larger one is answered 413.
	maxJSONBody = 1 << 20
	// maxQueryValue bounds each query parameter: every one the API takes
	// is short (ids, enums, numbers, a search prefix, a join token), so a
	// longer value is a mistake, refused before a handler sees it (and
	// before an error message could echo it).
	maxQueryValue = 4096
)

var errBodyTooLarge = problem.New(problem.Invalid, "body_too_large",
	fmt.Sprintf("the request body is larger than %d MB (%d bytes); send at most %d MB of JSON", maxJSONBody>>20, maxJSONBody, maxJSONBody>>20))

// badText names what is wrong with one piece of text, or "" when nothing is.
// It allocates nothing for text that is fine.
func badText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "holds a NUL character (\\u0000), which text may not contain"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8 text"
	}
	return ""
}

// maxFieldName bounds how much of a field's name an error repeats.
const maxFieldName = 100

// fieldName shows a field name that may itself be bad text or overlong.
func fieldName(s string) string {
	if len(s) > maxFieldName {
		s = strings.ToValidUTF8(s[:maxFieldName], "") + "…"
	}
	if badText(s) == "" {
		return s
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

func textError(field, why string) error {
	f := fieldName(field)
	return problem.Field(f, f+" "+why)
}

// checkInput is the edge check every request passes: path parameters, the
// query string, and the form a page reads (urlencoded or multipart text
// fields) must be text, and query parameters short. A request with no query
// and no form costs a loop over its path parameters.
func (s *Server) checkInput(c *gin.Context) {
	err := checkParams(c.Params)
	if err == nil {
		err = checkQuery(c.Request.URL.RawQuery)
	}
	if err == nil {
		err = s.checkForm(c)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Next()
}

func checkParams(ps gin.Params) error {
	for _, p := range ps {
		if why := badText(p.Value); why != "" {
			return textError(p.Key, why)
		}
	}
	return nil
}

// checkQuery reads the query string as url.ParseQuery does, but refuses
// what ParseQuery would silently drop (a malformed escape) and what no
// handler should see (bad text, an overlong value).
func checkQuery(raw string) error {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rk, rv, _ := strings.Cut(pair, "=")
		if strings.Contains(pair, ";") {
			return problem.Field(fieldName(rk), fmt.Sprintf("the query parameter %s holds ';': separate query parameters with '&', and percent-encode ';' in a value as %%3B", fieldName(rk)))
		}
		k, err := url.QueryUnescape(rk)
		if err != nil {
			return problem.Field(fieldName(rk), fmt.Sprintf("the query parameter name %q is not correctly percent-encoded", fieldName(rk)))
		}
		if why := badText(k); why != "" {
			return textError(k, "(a query parameter name) "+why)
		}
		if len(rv) > 3*maxQueryValue {
			return queryTooLong(k)
		}
		v, err := url.QueryUnescape(rv)
		if err != nil {
			return problem.Field(fieldName(k), fmt.Sprintf("the query parameter %s is not correctly percent-encoded", fieldName(k)))
		}
		if why := badText(v); why != "" {
			return textError(k, why)
		}
		if len(v) > maxQueryValue {
			return queryTooLong(k)
		}
	}
	return nil
}

func queryTooLong(k string) error {
	f := fieldName(k)
	return problem.Field(f, fmt.Sprintf("%s is longer than %d bytes, the limit of every query parameter", f, maxQueryValue))
}

var errFormTooLarge = problem.New(problem.Invalid, errBodyTooLarge.Code, "the form is larger than 10 MB, more than any page of the gateway sends")

// checkForm reads and checks the form of a request to a page (outside
// /api/: the API takes JSON, and its uploads stream their multipart bodies
// themselves). The parsed form is what c.PostForm then reads: the body is
// parsed once.
func (s *Server) checkForm(c *gin.Context) error {
	r := c.Request
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasPrefix(r.URL.Path, "/api/") {
		return nil
	}
	// The media type without its parameters, compared without allocating.
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	mt = strings.TrimSpace(mt)
	var err error
	switch {
	case strings.EqualFold(mt, "application/x-www-form-urlencoded"):
		err = r.ParseForm()
	case strings.EqualFold(mt, "multipart/form-data"):
		err = r.ParseMultipartForm(s.engine.MaxMultipartMemory)
	default:
		return nil
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || strings.Contains(err.Error(), "too large") {
			return errFormTooLarge
		}
		return problem.New(problem.Invalid, "bad_form", "the form cannot be read: "+err.Error())
	}
	for k, vs := range r.PostForm {
		if why := badText(k); why != "" {
			return textError(k, "(a form field name) "+why)
		}
		for _, v := range vs {
			if why := badText(v); why != "" {
				return textError(k, why)
			}
		}
	}
	return nil
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
	type frame struct {
		path    string
		object  bool
		key     string
		wantKey bool
		index   int
	}
	var stack []frame
	// here is the path of the value being read.
	here := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			if f.path == "" {
				return f.key
			}
			return f.path + "." + f.key
		}
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	}
	// done moves past a value that was read.
	done := func() {
		if len(stack) == 0 {
			return
		}
		f := &stack[len(stack)-1]
		if f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		raw := body[start:dec.InputOffset()]
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{path: here(), object: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].wantKey {
				f := &stack[len(stack)-1]
				f.key, f.wantKey = t, false
				if why := rawBadText(t, raw); why != "" {
					return textError(here(), "(a field name) "+why)
				}
				continue
			}
			// A bare string is no object: the decoder says so.
			if why := rawBadText(t, raw); why != "" && len(stack) > 0 {
				return textError(here(), why)
			}
			done()
		default:
			done()
		}
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
