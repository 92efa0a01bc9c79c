package provision

import (
	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns, each after those its rows are
// found through. Erasing a person deletes their provisioned record and
// its memberships; if the provider still provisions them, its next push
// makes them again.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Token{}, NoPersonalData: "a provisioning token: its hash, prefix and the name an admin gave it"},
		{Model: &User{}, Erase: table.ByUser(&User{})},
		{Model: &Membership{}, Erase: eraseMemberships},
	}
}

func eraseMemberships(tx *store.Tx, p table.Person) error {
	mine := tx.Session(&gorm.Session{NewDB: true}).Model(&User{}).Select("id").Where("user_id = ? AND account_id = ?", p.UserID, p.AccountID)
	return tx.Where("person_id IN (?)", mine).Delete(&Membership{}).Error
}
