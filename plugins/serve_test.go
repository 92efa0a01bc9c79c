package plugins

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// basePlugin serves the base service alone, for the server tests.
type basePlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl Plugin
}

func (p *basePlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, &BaseServer{Kind: Kind("roomadapter"), APIVersions: []uint32{1}, Impl: p.impl})
	return nil
}

func (p *basePlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewBaseClient(c), nil
}

// TestServerCallsRunOnStreamWorkers: with go-plugin's host attached (its
// broker and stdio streams open for good), calls are still served by the
// server's pool of stream workers. When the pool was only GOMAXPROCS large,
// those two streams took every worker and each call ran on a new goroutine
// whose stack was copied as it grew, several µs of every round trip.
func TestServerCallsRunOnStreamWorkers(t *testing.T) {
	onWorker := make(chan bool, 1)
	impl := &BaseMock{HealthFunc: func(context.Context) error {
		buf := make([]byte, 64<<10)
		stack := string(buf[:runtime.Stack(buf, false)])
		onWorker <- strings.Contains(stack, "grpc.(*Server).serverWorker")
		return nil
	}}
	set := goplugin.PluginSet{string(Kind("roomadapter")): &basePlugin{impl: impl}}

	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *goplugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         set,
		GRPCServer:      newGRPCServer,
		Logger:          hclog.NewNullLogger(),
		Test:            &goplugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed},
	})
	defer func() { cancel(); <-closed }()
	var rc *goplugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(10 * time.Second):
		t.Fatal("the plugin server did not start")
	}

	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          set,
		Reattach:         rc,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rpc.Dispense(string(Kind("roomadapter")))
	if err != nil {
		t.Fatal(err)
	}
	base := raw.(*BaseClient)
	// The host opens the broker's stream in a goroutine of its own: give it
	// time to reach the server before counting.
	time.Sleep(200 * time.Millisecond)
	const calls = 20
	for i := range calls {
		if err := base.Health(ctx); err != nil {
			t.Fatal(err)
		}
		if !<-onWorker {
			t.Fatalf("call %d of %d ran on a goroutine of its own, not on a stream worker (workers: GOMAXPROCS %d + %d)",
				i+1, calls, runtime.GOMAXPROCS(0), longLivedStreams)
		}
	}
}
