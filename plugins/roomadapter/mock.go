package roomadapter

import (
	"context"
	"fmt"

	"github.com/invitegate/gateway/plugins"
)

// Mock is a func-field RoomAdapter for tests. A nil field answers
// plugins.ErrUnimplemented (base methods: a healthy plugin named "mock").
type Mock struct {
	plugins.BaseMock
	ResolveLaunchFunc  func(ctx context.Context, l Launch) (Resolution, error)
	JoinURLFunc        func(ctx context.Context, resourceID string, user Person, role string) (string, error)
	ResourceStatusFunc func(ctx context.Context, resourceID string) (ResourceStatus, error)
	SearchRosterFunc   func(ctx context.Context, q RosterQuery) ([]Person, error)
	RoleUpgradedFunc   func(ctx context.Context, u RoleUpgrade) error
}

func unset(name string) error {
	return fmt.Errorf("%w: Mock.%sFunc is nil", plugins.ErrUnimplemented, name)
}

// ResolveLaunch implements RoomAdapter.
func (m *Mock) ResolveLaunch(ctx context.Context, l Launch) (Resolution, error) {
	if m.ResolveLaunchFunc == nil {
		return Resolution{}, unset("ResolveLaunch")
	}
	return m.ResolveLaunchFunc(ctx, l)
}

// JoinURL implements RoomAdapter.
func (m *Mock) JoinURL(ctx context.Context, resourceID string, user Person, role string) (string, error) {
	if m.JoinURLFunc == nil {
		return "", unset("JoinURL")
	}
	return m.JoinURLFunc(ctx, resourceID, user, role)
}

// ResourceStatus implements RoomAdapter.
func (m *Mock) ResourceStatus(ctx context.Context, resourceID string) (ResourceStatus, error) {
	if m.ResourceStatusFunc == nil {
		return ResourceStatus{}, unset("ResourceStatus")
	}
	return m.ResourceStatusFunc(ctx, resourceID)
}

// SearchRoster implements RoomAdapter.
func (m *Mock) SearchRoster(ctx context.Context, q RosterQuery) ([]Person, error) {
	if m.SearchRosterFunc == nil {
		return nil, unset("SearchRoster")
	}
	return m.SearchRosterFunc(ctx, q)
}

// RoleUpgraded implements RoomAdapter.
func (m *Mock) RoleUpgraded(ctx context.Context, u RoleUpgrade) error {
	if m.RoleUpgradedFunc == nil {
		return unset("RoleUpgraded")
	}
	return m.RoleUpgradedFunc(ctx, u)
}

var _ RoomAdapter = (*Mock)(nil)
