package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
)

// Client returns the named plugin's client: its kind's typed client
// (KindSpec.NewClient) on a connection that follows the plugin across
// restarts. While the plugin is down its calls fail with a *CallError
// wrapping plugins.ErrUnavailable. Assert it to the kind's interface, or
// use ClientOf.
func (h *Host) Client(name string) (plugins.Plugin, error) {
	in, ok := h.instances[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPlugin, name)
	}
	return in.client, nil
}

// ClientOf returns the named plugin's client as its kind's interface T, e.g.
// ClientOf[roomadapter.RoomAdapter](h, "rooms"). The error wraps
// ErrUnknownPlugin when no plugin has that name or it is of another kind.
func ClientOf[T plugins.Plugin](h *Host, name string) (T, error) {
	var zero T
	raw, err := h.Client(name)
	if err != nil {
		return zero, err
	}
	c, ok := raw.(T)
	if !ok {
		return zero, fmt.Errorf("%w: %q is a %s, not a %s", ErrUnknownPlugin, name, h.instances[name].cfg.Kind, reflect.TypeFor[T]())
	}
	return c, nil
}

// conn is what a plugin's typed client calls through: each call goes to the
// plugin's current process with a deadline, and its failure becomes a
// *CallError. It is one value per plugin, made with the client when the
// host is built, so a call adds no allocation beyond its deadline.
type conn struct{ in *instance }

// Invoke implements grpc.ClientConnInterface for unary calls.
func (c *conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.in.h.opts.CallTimeout)
		defer cancel()
	}
	proc, err := c.in.acquire(ctx)
	if err != nil {
		return &CallError{Plugin: c.in.cfg.Name, Op: opName(method), Err: err, NotRunning: true}
	}
	defer c.in.release()
	if err := proc.conn.Invoke(ctx, method, args, reply, opts...); err != nil {
		return c.in.callFailed(ctx, method, proc, err)
	}
	return nil
}

// NewStream implements grpc.ClientConnInterface for streaming calls. The
// call counts as in flight until the stream ends or its context does.
func (c *conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.in.h.opts.CallTimeout)
	}
	proc, err := c.in.acquire(ctx)
	if err != nil {
		cancel()
		return nil, &CallError{Plugin: c.in.cfg.Name, Op: opName(method), Err: err, NotRunning: true}
	}
	cs, err := proc.conn.NewStream(ctx, desc, method, opts...)
	if err != nil {
		err = c.in.callFailed(ctx, method, proc, err)
		c.in.release()
		cancel()
		return nil, err
	}
	s := &stream{ClientStream: cs, in: c.in, ctx: ctx, proc: proc, method: method, cancel: cancel}
	s.stopAfter = context.AfterFunc(ctx, s.end)
	return s, nil
}

// stream is a streaming call on a plugin's process.
type stream struct {
	grpc.ClientStream
	in        *instance
	ctx       context.Context
	proc      *process
	method    string
	cancel    context.CancelFunc
	stopAfter func() bool
	ended     atomic.Bool
}

// SendMsg implements grpc.ClientStream.
func (s *stream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err == nil || errors.Is(err, io.EOF) {
		return err // io.EOF: the stream is over, RecvMsg says how
	}
	err = s.in.callFailed(s.ctx, s.method, s.proc, err)
	s.end()
	return err
}

// RecvMsg implements grpc.ClientStream.
func (s *stream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		return nil
	}
	if !errors.Is(err, io.EOF) {
		err = s.in.callFailed(s.ctx, s.method, s.proc, err)
	}
	s.end()
	return err
}

// end releases the call once, however it ended.
func (s *stream) end() {
	if s.ended.Swap(true) {
		return
	}
	s.stopAfter()
	s.in.release()
	s.cancel()
}

// callFailed turns the error of a call to proc into a *CallError. If the
// connection broke it says whether the process is gone, and lets the
// supervisor notice at once rather than at its next poll.
func (in *instance) callFailed(ctx context.Context, method string, proc *process, err error) error {
	err = plugins.FromStatus(err)
	ce := &CallError{Plugin: in.cfg.Name, Op: opName(method), Err: err}
	if errors.Is(err, plugins.ErrUnavailable) || errors.Is(err, context.Canceled) && ctx.Err() == nil {
		in.poke()
		for i := 0; i < 20 && !proc.exited(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		ce.Crashed = proc.exited()
		if ce.Crashed && !errors.Is(err, plugins.ErrUnavailable) {
			// The supervisor closed the connection of the dead process
			// before gRPC read the end of it: the crash, not a cancel,
			// ended the call.
			ce.Err = fmt.Errorf("%w: %w", plugins.ErrUnavailable, err)
		}
	}
	return ce
}

// opName is the method's name without its service: "SearchRoster".
func opName(method string) string { return method[strings.LastIndexByte(method, '/')+1:] }

var _ grpc.ClientConnInterface = (*conn)(nil)
var _ grpc.ClientStream = (*stream)(nil)
