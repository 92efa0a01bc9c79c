package user

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// OfIdentity is the user an identity (account, issuer, subject) names, or
// problem.ErrNotFound when no sign-in of it was seen yet. It only reads: a
// sign-in that may not provision people asks it before Resolve would make
// one.
func OfIdentity(ctx context.Context, r store.Reader, accountID, issuer, subject string) (*User, error) {
	var link UserIdentity
	err := r.Read(ctx).Where("account_id = ? AND issuer = ? AND subject = ?", accountID, issuer, subject).Take(&link).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return Get(ctx, r, accountID, link.UserID)
}

// Follow makes, with tx, the user an identity provider vouches for carry
// the names and email it sent now: the provider is the source of truth
// for the people it signs in. An empty name leaves the stored one; a new
// email that another user of the account already has is left alone (the
// two stay apart), and Follow says so by returning false for moved.
func Follow(tx *store.Tx, u *User, in Identity) (moved bool, err error) {
	if err := in.validate(); err != nil {
		return false, err
	}
	set := map[string]any{}
	if in.FirstName != "" && in.FirstName != u.FirstName {
		set["first_name"] = in.FirstName
	}
	if in.LastName != "" && in.LastName != u.LastName {
		set["last_name"] = in.LastName
	}
	moved = true
	if in.Email != u.Email {
		var n int64
		if err := tx.Model(&User{}).Where("account_id = ? AND email = ?", u.AccountID, in.Email).Count(&n).Error; err != nil {
			return false, err
		}
		if n == 0 {
			set["email"] = in.Email
		} else {
			moved = false
		}
	}
	if len(set) == 0 {
		return moved, nil
	}
	set["updated_at"] = tx.Now()
	if err := tx.Model(&User{}).Where("id = ?", u.ID).Updates(set).Error; err != nil {
		return false, err
	}
	if v, ok := set["first_name"].(string); ok {
		u.FirstName = v
	}
	if v, ok := set["last_name"].(string); ok {
		u.LastName = v
	}
	if v, ok := set["email"].(string); ok {
		u.Email = v
	}
	return moved, nil
}

// GiveConsoleRole makes, with tx, a user without a console role a console
// user with role; one who has a role keeps it. It reports whether it gave
// one. Just-in-time provisioning at a console sign-in uses it: the
// identity provider vouches for the person, the connection's admin chose
// to let its people in.
func GiveConsoleRole(tx *store.Tx, u *User, role string) (bool, error) {
	if u.ConsoleRole != "" {
		return false, nil
	}
	r := tx.Model(&User{}).Where("id = ? AND (console_role = '' OR console_role IS NULL)", u.ID).Updates(map[string]any{"console_role": role, "updated_at": tx.Now()})
	if r.Error != nil {
		return false, r.Error
	}
	u.ConsoleRole = role
	return r.RowsAffected == 1, nil
}
