package templateprovider

import (
	"context"
	"fmt"

	"github.com/invitegate/gateway/plugins"
)

// Mock is a func-field TemplateProvider for tests. A nil ListTemplatesFunc
// answers plugins.ErrUnimplemented (base methods: a healthy plugin named
// "mock").
type Mock struct {
	plugins.BaseMock
	ListTemplatesFunc func(ctx context.Context) ([]Template, error)
}

// ListTemplates implements TemplateProvider.
func (m *Mock) ListTemplates(ctx context.Context) ([]Template, error) {
	if m.ListTemplatesFunc == nil {
		return nil, fmt.Errorf("%w: Mock.ListTemplatesFunc is nil", plugins.ErrUnimplemented)
	}
	return m.ListTemplatesFunc(ctx)
}

var _ TemplateProvider = (*Mock)(nil)
