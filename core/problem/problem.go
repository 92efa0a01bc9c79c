// Package problem is the error vocabulary of core: every refusal a person can
// cause carries a Kind (which api/ maps to an HTTP status in one place), a
// stable Code a page or client can switch on, the Field at fault when there is
// one, and a message that says what to do.
package problem

import (
	"errors"
	"fmt"
)

// Kind is the class of a refusal.
type Kind int

const (
	Invalid      Kind = iota + 1 // the input is wrong: fix it and retry
	NotFound                     // no such thing in the caller's account
	Forbidden                    // the caller may not do this
	Unauthorized                 // the caller is not signed in
	Conflict                     // the state does not allow it (already exists, already used)
	Gone                         // it existed and no longer works (expired, removed)
	RateLimited                  // too many attempts; wait
	Unavailable                  // a dependency (plugin, database) is down
)

// Error is a refusal with enough detail for a person to act on it.
type Error struct {
	Kind    Kind
	Code    string // stable machine-readable reason, e.g. "invite_expired"
	Field   string // the input field at fault, if any
	Message string
	// Details holds per-field problems when several inputs are wrong at once.
	Details []FieldError
	// Cause is the fault behind a refusal the gateway itself is at (a
	// stored setting it cannot read): api logs it; nobody is shown it.
	Cause error
}

// FieldError names one wrong input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Because is e with the fault behind it.
func (e *Error) Because(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// Unwrap is the fault behind the refusal, if any.
func (e *Error) Unwrap() error { return e.Cause }

// Is makes errors.Is match on Code, so sentinels can be compared after wrapping.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code
}

// New builds an error of a kind with a code and message.
func New(kind Kind, code, msg string) *Error { return &Error{Kind: kind, Code: code, Message: msg} }

// Field reports one invalid input.
func Field(field, msg string) *Error {
	return &Error{Kind: Invalid, Code: "invalid", Field: field, Message: msg, Details: []FieldError{{field, msg}}}
}

// Fields collects several invalid inputs into one error (nil when empty), so
// a form or config shows every mistake at once.
type Fields []FieldError

// Add records a problem with a field.
func (f *Fields) Add(field, msg string) { *f = append(*f, FieldError{field, msg}) }

// Err returns nil or one Invalid error listing every field.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	msg := f[0].Field + ": " + f[0].Message
	if len(f) > 1 {
		msg = fmt.Sprintf("%s (and %d more problems)", msg, len(f)-1)
	}
	return &Error{Kind: Invalid, Code: "invalid", Field: f[0].Field, Message: msg, Details: f}
}

// As extracts the *Error from err's chain.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}

// KindOf returns err's kind, or 0 for an unexpected error.
func KindOf(err error) Kind {
	if p, ok := As(err); ok {
		return p.Kind
	}
	return 0
}

// Common refusals shared across packages.
var (
	ErrNotFound     = New(NotFound, "not_found", "not found")
	ErrForbidden    = New(Forbidden, "forbidden", "you do not have permission to do this")
	ErrUnauthorized = New(Unauthorized, "unauthorized", "sign in first: send an API key as a Bearer token or use a console session")
)
