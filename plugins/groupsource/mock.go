package groupsource

import (
	"context"
	"fmt"

	"github.com/invitegate/gateway/plugins"
)

// Mock is a func-field GroupSource for tests. A nil field answers
// plugins.ErrUnimplemented (base methods: a healthy plugin named "mock").
type Mock struct {
	plugins.BaseMock
	ListGroupsFunc  func(ctx context.Context) ([]Group, error)
	ListMembersFunc func(ctx context.Context, groupIDs []string, emit func(Member) error) error
}

// ListGroups implements GroupSource.
func (m *Mock) ListGroups(ctx context.Context) ([]Group, error) {
	if m.ListGroupsFunc == nil {
		return nil, fmt.Errorf("%w: Mock.ListGroupsFunc is nil", plugins.ErrUnimplemented)
	}
	return m.ListGroupsFunc(ctx)
}

// ListMembers implements GroupSource.
func (m *Mock) ListMembers(ctx context.Context, groupIDs []string, emit func(Member) error) error {
	if m.ListMembersFunc == nil {
		return fmt.Errorf("%w: Mock.ListMembersFunc is nil", plugins.ErrUnimplemented)
	}
	return m.ListMembersFunc(ctx, groupIDs, emit)
}

var _ GroupSource = (*Mock)(nil)
