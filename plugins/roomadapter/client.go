package roomadapter

import (
	"context"

	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// Client calls a room adapter plugin over a gRPC connection.
type Client struct {
	*plugins.BaseClient
	rpc pluginpb.RoomAdapterClient
}

// NewClient wraps a connection to a room adapter plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{BaseClient: plugins.NewBaseClient(conn), rpc: pluginpb.NewRoomAdapterClient(conn)}
}

// ResolveLaunch implements RoomAdapter.
func (c *Client) ResolveLaunch(ctx context.Context, l Launch) (Resolution, error) {
	res, err := c.rpc.ResolveLaunch(ctx, &pluginpb.ResolveLaunchRequest{Launch: launchToProto(l)})
	if err != nil {
		return Resolution{}, plugins.FromStatus(err)
	}
	return Resolution{Resource: resourceFromProto(res.GetResource()), CollaboratorRole: res.GetCollaboratorRole()}, nil
}

// JoinURL implements RoomAdapter.
func (c *Client) JoinURL(ctx context.Context, resourceID string, user Person, role string) (string, error) {
	res, err := c.rpc.JoinURL(ctx, &pluginpb.JoinURLRequest{ResourceId: resourceID, User: personToProto(user), Role: role})
	if err != nil {
		return "", plugins.FromStatus(err)
	}
	return res.GetUrl(), nil
}

// ResourceStatus implements RoomAdapter.
func (c *Client) ResourceStatus(ctx context.Context, resourceID string) (ResourceStatus, error) {
	res, err := c.rpc.ResourceStatus(ctx, &pluginpb.ResourceStatusRequest{ResourceId: resourceID})
	if err != nil {
		return ResourceStatus{}, plugins.FromStatus(err)
	}
	return ResourceStatus{Exists: res.GetExists(), Resource: resourceFromProto(res.GetResource())}, nil
}

// SearchRoster implements RoomAdapter.
func (c *Client) SearchRoster(ctx context.Context, q RosterQuery) ([]Person, error) {
	limit := q.Limit
	if limit < 0 {
		limit = 0
	}
	res, err := c.rpc.SearchRoster(ctx, &pluginpb.SearchRosterRequest{ResourceId: q.ResourceID, Query: q.Query, Limit: uint32(limit), Members: peopleToProto(q.Members)})
	if err != nil {
		return nil, plugins.FromStatus(err)
	}
	out := make([]Person, len(res.GetPeople()))
	for i, p := range res.GetPeople() {
		out[i] = personFromProto(p)
	}
	return out, nil
}

// RoleUpgraded implements RoomAdapter.
func (c *Client) RoleUpgraded(ctx context.Context, u RoleUpgrade) error {
	_, err := c.rpc.RoleUpgraded(ctx, &pluginpb.RoleUpgradedRequest{
		ResourceId: u.ResourceID, User: personToProto(u.User), OldRole: u.OldRole, NewRole: u.NewRole,
	})
	return plugins.FromStatus(err)
}

var _ RoomAdapter = (*Client)(nil)
