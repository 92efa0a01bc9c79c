// Command testplugin is a room adapter whose behaviour the host's tests set
// through its environment: the handshake protocol version it speaks
// (TESTPLUGIN_PROTOCOL), the API versions it claims (TESTPLUGIN_API_VERSIONS,
// e.g. "1,2"), the kind its Info reports (TESTPLUGIN_KIND: then it serves
// the base service alone), and a SearchRoster that blocks until its caller
// gives up when the query is "block", so a test can kill it during a call.
package main

import (
	"context"
	"os"
	"strconv"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
	"github.com/invitegate/gateway/plugins/roomadapter"
)

func main() {
	log := plugins.NewLogger()
	var versions []uint32
	for _, s := range strings.Split(os.Getenv("TESTPLUGIN_API_VERSIONS"), ",") {
		if v, err := strconv.Atoi(s); err == nil {
			versions = append(versions, uint32(v))
		}
	}
	impl := &roomadapter.Mock{
		BaseMock: plugins.BaseMock{
			InfoFunc: func(context.Context) (plugins.Info, error) {
				return plugins.Info{Name: "testplugin", Version: "0.1.0", APIVersions: versions}, nil
			},
		},
		SearchRosterFunc: func(ctx context.Context, q roomadapter.RosterQuery) ([]roomadapter.Person, error) {
			if q.Query == "block" {
				log.Info("search blocking", "pid", os.Getpid())
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return []roomadapter.Person{{ID: "p1", Email: q.Query + "@example.org", Name: "Found"}}, nil
		},
		JoinURLFunc: func(_ context.Context, id string, _ roomadapter.Person, role string) (string, error) {
			return "https://rooms.test/" + id + "?role=" + role + "&pid=" + strconv.Itoa(os.Getpid()), nil
		},
	}
	hs := plugins.Handshake
	if v, err := strconv.Atoi(os.Getenv("TESTPLUGIN_PROTOCOL")); err == nil {
		hs.ProtocolVersion = uint(v)
	}
	var p goplugin.Plugin = &roomadapter.GRPCPlugin{Impl: impl}
	if k := os.Getenv("TESTPLUGIN_KIND"); k != "" {
		p = &claimsKind{GRPCPlugin: roomadapter.GRPCPlugin{Impl: impl}, kind: plugins.Kind(k)}
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         goplugin.PluginSet{string(roomadapter.Kind): p},
		GRPCServer:      goplugin.DefaultGRPCServer,
	})
}

// claimsKind serves the base service saying the plugin is of another kind,
// as a plugin of a kind this gateway does not run would.
type claimsKind struct {
	roomadapter.GRPCPlugin
	kind plugins.Kind
}

func (p *claimsKind) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, &plugins.BaseServer{Kind: p.kind, APIVersions: roomadapter.APIVersions(), Impl: p.Impl})
	return nil
}
