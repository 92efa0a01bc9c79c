package templateprovider

import (
	"context"

	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// Client calls a template provider plugin over a gRPC connection.
type Client struct {
	*plugins.BaseClient
	rpc pluginpb.TemplateProviderClient
}

// NewClient wraps a connection to a template provider plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{BaseClient: plugins.NewBaseClient(conn), rpc: pluginpb.NewTemplateProviderClient(conn)}
}

// ListTemplates implements TemplateProvider.
func (c *Client) ListTemplates(ctx context.Context) ([]Template, error) {
	res, err := c.rpc.ListTemplates(ctx, &pluginpb.ListTemplatesRequest{})
	if err != nil {
		return nil, plugins.FromStatus(err)
	}
	out := make([]Template, len(res.GetTemplates()))
	for i, t := range res.GetTemplates() {
		out[i] = Template{Name: t.GetName(), Locale: t.GetLocale(), Subject: t.GetSubject(), HTML: t.GetHtml(), Text: t.GetText(), Version: t.GetVersion()}
	}
	return out, nil
}

var _ TemplateProvider = (*Client)(nil)
