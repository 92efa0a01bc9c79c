package roomadapter

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// GRPCPlugin is the go-plugin wrapper of the kind: on the plugin side it
// registers the base and RoomAdapter services for Impl; on the host side it
// returns a *Client.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	Impl RoomAdapter
}

// GRPCServer implements goplugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, &plugins.BaseServer{Kind: Kind, APIVersions: APIVersions(), Impl: p.Impl})
	pluginpb.RegisterRoomAdapterServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient implements goplugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewClient(c), nil
}

// Serve runs impl as a plugin process; call it from main.
func Serve(impl RoomAdapter) { plugins.ServeKind(Kind, &GRPCPlugin{Impl: impl}) }

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)
