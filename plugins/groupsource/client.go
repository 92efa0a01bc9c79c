package groupsource

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// Client calls a group source plugin over a gRPC connection.
type Client struct {
	*plugins.BaseClient
	rpc pluginpb.GroupSourceClient
}

// NewClient wraps a connection to a group source plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{BaseClient: plugins.NewBaseClient(conn), rpc: pluginpb.NewGroupSourceClient(conn)}
}

// ListGroups implements GroupSource.
func (c *Client) ListGroups(ctx context.Context) ([]Group, error) {
	res, err := c.rpc.ListGroups(ctx, &pluginpb.ListGroupsRequest{})
	if err != nil {
		return nil, plugins.FromStatus(err)
	}
	out := make([]Group, len(res.GetGroups()))
	for i, g := range res.GetGroups() {
		out[i] = Group{ID: g.GetId(), Name: g.GetName()}
	}
	return out, nil
}

// ListMembers implements GroupSource. It returns nil only when the plugin
// ended the stream with status OK, i.e. every member was received.
func (c *Client) ListMembers(ctx context.Context, groupIDs []string, emit func(Member) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if emit gives up early
	stream, err := c.rpc.ListMembers(ctx, &pluginpb.ListMembersRequest{GroupIds: groupIDs})
	if err != nil {
		return plugins.FromStatus(err)
	}
	for {
		batch, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return plugins.FromStatus(err)
		}
		for _, m := range batch.GetMembers() {
			if err := emit(Member{GroupID: m.GetGroupId(), ID: m.GetId(), Email: m.GetEmail(), Name: m.GetName()}); err != nil {
				return err
			}
		}
	}
}

var _ GroupSource = (*Client)(nil)
