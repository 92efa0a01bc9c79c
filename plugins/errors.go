package plugins

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors that cross the wire. A plugin returns (a wrap of) one of them and
// the caller on the other side gets (a wrap of) the same one back, with the
// plugin's message.
var (
	// ErrNotFound: the plugin's platform knows no such thing.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request was wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the plugin, or what it talks to, cannot answer now;
	// retrying later may work.
	ErrUnavailable = errors.New("plugin unavailable")
	// ErrUnimplemented: the plugin does not offer this operation (at the
	// negotiated API version).
	ErrUnimplemented = errors.New("not implemented by the plugin")
	// ErrIncompatible: host and plugin share no protocol or API version.
	ErrIncompatible = errors.New("plugin is incompatible with this gateway")
)

// ToStatus turns an error returned by a plugin implementation into the gRPC
// status sent to the host.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, ErrUnavailable):
		code = codes.Unavailable
	case errors.Is(err, ErrUnimplemented):
		code = codes.Unimplemented
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}

// FromStatus turns an error from a gRPC call to a plugin back into the SDK's
// vocabulary, keeping the plugin's message.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := s.Message()
	wrap := func(sentinel error) error {
		// A Go plugin's message already starts with the sentinel's text.
		return fmt.Errorf("%w: %s", sentinel, strings.TrimPrefix(msg, sentinel.Error()+": "))
	}
	switch s.Code() {
	case codes.NotFound:
		return wrap(ErrNotFound)
	case codes.InvalidArgument:
		return wrap(ErrInvalid)
	case codes.Unavailable:
		return wrap(ErrUnavailable)
	case codes.Unimplemented:
		return wrap(ErrUnimplemented)
	case codes.DeadlineExceeded:
		return wrap(context.DeadlineExceeded)
	case codes.Canceled:
		return wrap(context.Canceled)
	}
	return fmt.Errorf("plugin error (%s): %s", s.Code(), msg)
}
