package api

import (
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
