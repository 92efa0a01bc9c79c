package invite

import (
	"context"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns. Erasing a person deletes the
// invitations sent to their address in the account, and every entry
// through a link by them or through one of those invitations.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Settings{}, NoPersonalData: "an account's invitation settings: lifetimes, reusability, device binding, email template"},
		{Model: &Invitation{}, Erase: eraseInvitations, Measure: measureInvitations},
		{Model: &Redemption{}, Erase: eraseRedemptions},
	}
}

func eraseInvitations(tx *store.Tx, p table.Person) error {
	return tx.Where("account_id = ? AND email = ?", p.AccountID, p.Email).Delete(&Invitation{}).Error
}

func measureInvitations(ctx context.Context, db store.Reader, p table.Person, r *table.Reach) error {
	return db.Read(ctx).Model(&Invitation{}).Where("account_id = ? AND email = ?", p.AccountID, p.Email).Count(&r.Invitations).Error
}

// eraseRedemptions runs before eraseInvitations (the walk goes from the
// end of the list), while the invitations to the person still say which
// redemptions came through them.
func eraseRedemptions(tx *store.Tx, p table.Person) error {
	theirs := tx.Model(&Invitation{}).Select("id").Where("account_id = ? AND email = ?", p.AccountID, p.Email)
	return tx.Where("invitation_id IN (?) OR user_id = ?", theirs, p.UserID).Delete(&Redemption{}).Error
}
