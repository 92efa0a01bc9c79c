package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// call runs one operation on the named plugin's current process with a
// deadline, and turns failures into *CallError.
func call[C any, T any](ctx context.Context, in *instance, op string, fn func(ctx context.Context, c C) (T, error)) (T, error) {
	var zero T
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.h.opts.CallTimeout)
		defer cancel()
	}
	raw, proc, err := in.acquire(ctx)
	if err != nil {
		return zero, &CallError{Plugin: in.cfg.Name, Op: op, Err: err, NotRunning: true}
	}
	defer in.release()
	c, ok := raw.(C)
	if !ok {
		return zero, &CallError{Plugin: in.cfg.Name, Op: op, Err: fmt.Errorf("%w: plugin is a %s", ErrUnknownPlugin, in.cfg.Kind)}
	}
	out, err := fn(ctx, c)
	if err == nil {
		return out, nil
	}
	ce := &CallError{Plugin: in.cfg.Name, Op: op, Err: err}
	if errors.Is(err, plugins.ErrUnavailable) || errors.Is(err, context.Canceled) && ctx.Err() == nil {
		// The connection broke: if the process is gone, say so, and let the
		// supervisor notice at once rather than at its next poll.
		in.poke()
		for i := 0; i < 20 && !proc.exited(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		ce.Crashed = proc.exited()
	}
	return zero, ce
}

func (h *Host) instanceOf(name string, kind plugins.Kind) (*instance, error) {
	in, ok := h.instances[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPlugin, name)
	}
	if plugins.Kind(in.cfg.Kind) != kind {
		return nil, fmt.Errorf("%w: %q is a %s, not a %s", ErrUnknownPlugin, name, in.cfg.Kind, kind)
	}
	return in, nil
}

// base implements plugins.Plugin for the typed clients.
type base struct{ in *instance }

func (b base) Info(ctx context.Context) (plugins.Info, error) {
	return call(ctx, b.in, "Info", func(ctx context.Context, c plugins.Plugin) (plugins.Info, error) { return c.Info(ctx) })
}

// Configure re-sends a configuration; the host already configures each
// process it starts with the declared config.
func (b base) Configure(ctx context.Context, apiVersion uint32, config json.RawMessage) error {
	_, err := call(ctx, b.in, "Configure", func(ctx context.Context, c plugins.Plugin) (struct{}, error) {
		return struct{}{}, c.Configure(ctx, apiVersion, config)
	})
	return err
}

func (b base) Health(ctx context.Context) error {
	_, err := call(ctx, b.in, "Health", func(ctx context.Context, c plugins.Plugin) (struct{}, error) {
		return struct{}{}, c.Health(ctx)
	})
	return err
}

// RoomAdapter returns a client of the named room adapter. It stays valid
// across restarts of the plugin; while the plugin is down its calls fail
// with a *CallError wrapping plugins.ErrUnavailable.
func (h *Host) RoomAdapter(name string) (roomadapter.RoomAdapter, error) {
	in, err := h.instanceOf(name, plugins.KindRoomAdapter)
	if err != nil {
		return nil, err
	}
	return roomClient{base{in}}, nil
}

type roomClient struct{ base }

func (r roomClient) ResolveLaunch(ctx context.Context, l roomadapter.Launch) (roomadapter.Resolution, error) {
	return call(ctx, r.in, "ResolveLaunch", func(ctx context.Context, c *roomadapter.Client) (roomadapter.Resolution, error) {
		return c.ResolveLaunch(ctx, l)
	})
}

func (r roomClient) JoinURL(ctx context.Context, resourceID string, user roomadapter.Person, role string) (string, error) {
	return call(ctx, r.in, "JoinURL", func(ctx context.Context, c *roomadapter.Client) (string, error) {
		return c.JoinURL(ctx, resourceID, user, role)
	})
}

func (r roomClient) ResourceStatus(ctx context.Context, resourceID string) (roomadapter.ResourceStatus, error) {
	return call(ctx, r.in, "ResourceStatus", func(ctx context.Context, c *roomadapter.Client) (roomadapter.ResourceStatus, error) {
		return c.ResourceStatus(ctx, resourceID)
	})
}

func (r roomClient) SearchRoster(ctx context.Context, q roomadapter.RosterQuery) ([]roomadapter.Person, error) {
	return call(ctx, r.in, "SearchRoster", func(ctx context.Context, c *roomadapter.Client) ([]roomadapter.Person, error) {
		return c.SearchRoster(ctx, q)
	})
}

func (r roomClient) RoleUpgraded(ctx context.Context, u roomadapter.RoleUpgrade) error {
	_, err := call(ctx, r.in, "RoleUpgraded", func(ctx context.Context, c *roomadapter.Client) (struct{}, error) {
		return struct{}{}, c.RoleUpgraded(ctx, u)
	})
	return err
}

// GroupSource returns a client of the named group source (see RoomAdapter).
func (h *Host) GroupSource(name string) (groupsource.GroupSource, error) {
	in, err := h.instanceOf(name, plugins.KindGroupSource)
	if err != nil {
		return nil, err
	}
	return groupClient{base{in}}, nil
}

type groupClient struct{ base }

func (g groupClient) ListGroups(ctx context.Context) ([]groupsource.Group, error) {
	return call(ctx, g.in, "ListGroups", func(ctx context.Context, c *groupsource.Client) ([]groupsource.Group, error) {
		return c.ListGroups(ctx)
	})
}

// ListMembers streams members; if the plugin dies mid-stream the error says
// so and the members already emitted are all the caller may rely on.
func (g groupClient) ListMembers(ctx context.Context, groupIDs []string, emit func(groupsource.Member) error) error {
	_, err := call(ctx, g.in, "ListMembers", func(ctx context.Context, c *groupsource.Client) (struct{}, error) {
		return struct{}{}, c.ListMembers(ctx, groupIDs, emit)
	})
	return err
}

// TemplateProvider returns a client of the named template provider (see
// RoomAdapter).
func (h *Host) TemplateProvider(name string) (templateprovider.TemplateProvider, error) {
	in, err := h.instanceOf(name, plugins.KindTemplateProvider)
	if err != nil {
		return nil, err
	}
	return templateClient{base{in}}, nil
}

type templateClient struct{ base }

func (t templateClient) ListTemplates(ctx context.Context) ([]templateprovider.Template, error) {
	return call(ctx, t.in, "ListTemplates", func(ctx context.Context, c *templateprovider.Client) ([]templateprovider.Template, error) {
		return c.ListTemplates(ctx)
	})
}

var (
	_ roomadapter.RoomAdapter           = roomClient{}
	_ groupsource.GroupSource           = groupClient{}
	_ templateprovider.TemplateProvider = templateClient{}
)
