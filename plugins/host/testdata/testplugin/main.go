// Command testplugin is a room adapter whose behaviour the host's tests set
// through its environment: the handshake protocol version it speaks
// (TESTPLUGIN_PROTOCOL), the API versions it claims (TESTPLUGIN_API_VERSIONS,
// e.g. "1,2"), and a SearchRoster that blocks until its caller gives up when
// the query is "block", so a test can kill it during a call.
package main

import (
	"context"
	"os"
	"strconv"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/invitegate/gateway/plugins"
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
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         goplugin.PluginSet{string(roomadapter.Kind): &roomadapter.GRPCPlugin{Impl: impl}},
		GRPCServer:      goplugin.DefaultGRPCServer,
	})
}
