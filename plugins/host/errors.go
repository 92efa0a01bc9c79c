package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/plugins"
)

// ErrChecksumMismatch: the binary on disk is not the one the config vouches for.
var ErrChecksumMismatch = errors.New("plugin checksum mismatch")

// ErrUnknownPlugin: no plugin of that name (and kind) is configured.
var ErrUnknownPlugin = errors.New("no such plugin configured")

// startError is a failed start; permanent ones are not retried.
type startError struct {
	err       error
	permanent bool
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

func permanent(err error) error { return &startError{err: err, permanent: true} }

func isPermanent(err error) bool {
	var s *startError
	return errors.As(err, &s) && s.permanent
}

// CallError is a failed call to a plugin. It wraps the plugin's error (so
// errors.Is(err, plugins.ErrUnavailable) and friends work) and a
// *problem.Error, so the API answers with the right status and a message a
// person can act on.
type CallError struct {
	Plugin string
	Op     string
	Err    error
	// Crashed is true when the plugin process exited during the call.
	Crashed bool
	// NotRunning is true when the call was refused because the plugin was
	// not running (restarting, failed or stopped).
	NotRunning bool
}

func (e *CallError) Error() string {
	switch {
	case e.NotRunning:
		return fmt.Sprintf("plugin %q is not available: %v", e.Plugin, e.Err)
	case e.Crashed:
		return fmt.Sprintf("plugin %q stopped during %s; the gateway is restarting it, try again shortly: %v", e.Plugin, e.Op, e.Err)
	}
	return fmt.Sprintf("plugin %q %s: %v", e.Plugin, e.Op, e.Err)
}

// Unwrap gives both the plugin's error and the problem.
func (e *CallError) Unwrap() []error { return []error{e.Err, e.problem()} }

func (e *CallError) problem() *problem.Error {
	switch {
	case errors.Is(e.Err, plugins.ErrNotFound):
		return problem.New(problem.NotFound, "plugin_not_found", e.Error())
	case errors.Is(e.Err, plugins.ErrInvalid):
		return problem.New(problem.Invalid, "plugin_invalid_request", e.Error())
	case errors.Is(e.Err, context.Canceled):
		return problem.New(problem.Unavailable, "plugin_call_canceled", e.Error())
	case errors.Is(e.Err, context.DeadlineExceeded):
		return problem.New(problem.Unavailable, "plugin_timeout", e.Error())
	}
	return problem.New(problem.Unavailable, "plugin_unavailable", e.Error())
}
