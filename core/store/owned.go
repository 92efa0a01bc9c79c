package store

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
)

// Owned loads the row of T with this id in the account. Anything else — a
// malformed id, no such row, a row of another account — is
// problem.ErrNotFound, so no caller can tell another account's objects
// from missing ones.
func Owned[T any](ctx context.Context, r Reader, accountID, rowID string) (*T, error) {
	if !id.Valid(rowID) {
		return nil, problem.ErrNotFound
	}
	var row T
	err := r.Read(ctx).Where("account_id = ? AND id = ?", accountID, rowID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &row, nil
}
