package user

import (
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns. The user row is the last a
// person's erasure deletes: every other table finds the person through it
// (its id, account and email). Their identities go just before it, so no
// identity provider's sign-in finds them again.
func Tables() []table.Table {
	return []table.Table{{Model: &User{}, Erase: eraseUser}, {Model: &UserIdentity{}, Erase: table.ByUser(&UserIdentity{})}}
}

func eraseUser(tx *store.Tx, p table.Person) error {
	return tx.Where("id = ? AND account_id = ?", p.UserID, p.AccountID).Delete(&User{}).Error
}
