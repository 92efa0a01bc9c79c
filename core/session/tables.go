package session

import (
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns. Erasing a person deletes their
// sign-in links and sessions, so no cookie of theirs signs in again.
func Tables() []table.Table {
	return []table.Table{
		{Model: &LoginLink{}, Erase: eraseByUser(&LoginLink{})},
		{Model: &Session{}, Erase: eraseByUser(&Session{})},
	}
}

func eraseByUser(model any) func(*store.Tx, table.Person) error {
	return func(tx *store.Tx, p table.Person) error {
		return tx.Where("user_id = ? AND account_id = ?", p.UserID, p.AccountID).Delete(model).Error
	}
}
