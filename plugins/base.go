package plugins

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"

	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// BaseServer serves the base service from a plugin implementation. The kind
// packages register it beside their own service.
type BaseServer struct {
	pluginpb.UnimplementedPluginServer
	Kind Kind
	// APIVersions is what the kind package speaks; used when the
	// implementation's Info leaves APIVersions empty.
	APIVersions []uint32
	Impl        Plugin
}

// Info implements pluginpb.PluginServer.
func (s *BaseServer) Info(ctx context.Context, _ *pluginpb.InfoRequest) (*pluginpb.InfoResponse, error) {
	info, err := s.Impl.Info(ctx)
	if err != nil {
		return nil, ToStatus(err)
	}
	versions := info.APIVersions
	if len(versions) == 0 {
		versions = s.APIVersions
	}
	return &pluginpb.InfoResponse{
		Kind:         s.Kind.Proto(),
		Name:         info.Name,
		Version:      info.Version,
		Description:  info.Description,
		ApiVersions:  versions,
		ConfigSchema: string(info.ConfigSchema),
	}, nil
}

// Configure implements pluginpb.PluginServer: ConfigErrors become the
// response's problems, anything else a gRPC error.
func (s *BaseServer) Configure(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	raw := json.RawMessage(req.GetConfigJson())
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	err := s.Impl.Configure(ctx, req.GetApiVersion(), raw)
	if problems, ok := err.(ConfigErrors); ok {
		out := &pluginpb.ConfigureResponse{}
		for _, p := range problems {
			out.Problems = append(out.Problems, &pluginpb.ConfigProblem{Field: p.Field, Message: p.Message})
		}
		return out, nil
	}
	if err != nil {
		return nil, ToStatus(err)
	}
	return &pluginpb.ConfigureResponse{}, nil
}

// Health implements pluginpb.PluginServer.
func (s *BaseServer) Health(ctx context.Context, _ *pluginpb.HealthRequest) (*pluginpb.HealthResponse, error) {
	if err := s.Impl.Health(ctx); err != nil {
		return nil, ToStatus(err)
	}
	return &pluginpb.HealthResponse{}, nil
}

// BaseClient calls the base service. The kind packages' clients embed it,
// so every typed client is also a Plugin.
type BaseClient struct {
	rpc pluginpb.PluginClient
}

// NewBaseClient wraps a connection to a plugin.
func NewBaseClient(conn grpc.ClientConnInterface) *BaseClient {
	return &BaseClient{rpc: pluginpb.NewPluginClient(conn)}
}

// Info implements Plugin.
func (c *BaseClient) Info(ctx context.Context) (Info, error) {
	res, err := c.rpc.Info(ctx, &pluginpb.InfoRequest{})
	if err != nil {
		return Info{}, FromStatus(err)
	}
	info := Info{
		Kind:        KindFromProto(res.GetKind()),
		Name:        res.GetName(),
		Version:     res.GetVersion(),
		Description: res.GetDescription(),
		APIVersions: res.GetApiVersions(),
	}
	if s := res.GetConfigSchema(); s != "" {
		info.ConfigSchema = json.RawMessage(s)
	}
	return info, nil
}

// Configure implements Plugin; the plugin's problems come back as ConfigErrors.
func (c *BaseClient) Configure(ctx context.Context, apiVersion uint32, config json.RawMessage) error {
	if len(config) == 0 {
		config = json.RawMessage("{}")
	}
	res, err := c.rpc.Configure(ctx, &pluginpb.ConfigureRequest{ApiVersion: apiVersion, ConfigJson: string(config)})
	if err != nil {
		return FromStatus(err)
	}
	var problems ConfigErrors
	for _, p := range res.GetProblems() {
		problems = append(problems, ConfigProblem{Field: p.GetField(), Message: p.GetMessage()})
	}
	return problems.Err()
}

// Health implements Plugin.
func (c *BaseClient) Health(ctx context.Context) error {
	_, err := c.rpc.Health(ctx, &pluginpb.HealthRequest{})
	return FromStatus(err)
}

// BaseMock is a func-field Plugin for tests; nil fields give a healthy,
// accepting plugin named "mock".
type BaseMock struct {
	InfoFunc      func(ctx context.Context) (Info, error)
	ConfigureFunc func(ctx context.Context, apiVersion uint32, config json.RawMessage) error
	HealthFunc    func(ctx context.Context) error
}

// Info implements Plugin.
func (m *BaseMock) Info(ctx context.Context) (Info, error) {
	if m.InfoFunc != nil {
		return m.InfoFunc(ctx)
	}
	return Info{Name: "mock", Version: "0.0.0"}, nil
}

// Configure implements Plugin.
func (m *BaseMock) Configure(ctx context.Context, apiVersion uint32, config json.RawMessage) error {
	if m.ConfigureFunc != nil {
		return m.ConfigureFunc(ctx, apiVersion, config)
	}
	return nil
}

// Health implements Plugin.
func (m *BaseMock) Health(ctx context.Context) error {
	if m.HealthFunc != nil {
		return m.HealthFunc(ctx)
	}
	return nil
}

var (
	_ pluginpb.PluginServer = (*BaseServer)(nil)
	_ Plugin                = (*BaseClient)(nil)
	_ Plugin                = (*BaseMock)(nil)
)
