package templateprovider

import (
	"context"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// server serves a TemplateProvider implementation over gRPC.
type server struct {
	pluginpb.UnimplementedTemplateProviderServer
	impl TemplateProvider
}

func (s *server) ListTemplates(ctx context.Context, _ *pluginpb.ListTemplatesRequest) (*pluginpb.ListTemplatesResponse, error) {
	ts, err := s.impl.ListTemplates(ctx)
	if err != nil {
		return nil, plugins.ToStatus(err)
	}
	out := &pluginpb.ListTemplatesResponse{Templates: make([]*pluginpb.Template, len(ts))}
	for i, t := range ts {
		out.Templates[i] = &pluginpb.Template{Name: t.Name, Locale: t.Locale, Subject: t.Subject, Html: t.HTML, Text: t.Text, Version: t.Version}
	}
	return out, nil
}

var _ pluginpb.TemplateProviderServer = (*server)(nil)
