package resource

import (
	"context"
	"errors"
)

// PlatformMock is a func-field Platform for tests. A nil field answers an
// error naming it, so a test sees a call it did not expect.
type PlatformMock struct {
	ResolveFunc func(ctx context.Context, adapter string, l Launch) (Resolution, error)
	StatusFunc  func(ctx context.Context, adapter, externalID string) (Status, error)
	RosterFunc  func(ctx context.Context, adapter, externalID, query string, limit int, members []Person) ([]Person, error)
}

// Resolve implements Platform.
func (m *PlatformMock) Resolve(ctx context.Context, adapter string, l Launch) (Resolution, error) {
	if m.ResolveFunc == nil {
		return Resolution{}, errors.New("PlatformMock.ResolveFunc is nil")
	}
	return m.ResolveFunc(ctx, adapter, l)
}

// Status implements Platform.
func (m *PlatformMock) Status(ctx context.Context, adapter, externalID string) (Status, error) {
	if m.StatusFunc == nil {
		return Status{}, errors.New("PlatformMock.StatusFunc is nil")
	}
	return m.StatusFunc(ctx, adapter, externalID)
}

// Roster implements Platform.
func (m *PlatformMock) Roster(ctx context.Context, adapter, externalID, query string, limit int, members []Person) ([]Person, error) {
	if m.RosterFunc == nil {
		return nil, errors.New("PlatformMock.RosterFunc is nil")
	}
	return m.RosterFunc(ctx, adapter, externalID, query, limit, members)
}

var _ Platform = (*PlatformMock)(nil)
