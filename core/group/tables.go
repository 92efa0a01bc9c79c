package group

import (
	"context"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns, groups first.
//
// Erasing a person deletes their memberships in the account's groups (the
// member rows hold their address, name and directory id). The directory
// stays the source: if it still lists them, its next sync adds them again.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Group{}, NoPersonalData: "a directory group: its source, external id and name; its members are group_members"},
		{Model: &Member{}, Erase: eraseMembers, Measure: measureMembers},
		{Model: &HeldSync{}, NoPersonalData: "a held sync of a group source: counts and the reason, naming no one"},
		{Model: &HeldMember{}, NoPersonalData: "the member row ids a held sync would remove; the person's details are in group_members, erased there"},
		{Model: &HeldGroup{}, NoPersonalData: "the group ids a held sync would remove"},
	}
}

// membershipsOf narrows q to the person's rows in the account's groups.
func membershipsOf(q *gorm.DB, p table.Person) *gorm.DB {
	groups := q.Session(&gorm.Session{NewDB: true}).Model(&Group{}).Select("id").Where("account_id = ?", p.AccountID)
	return q.Where("email = ? AND group_id IN (?)", p.Email, groups)
}

func eraseMembers(tx *store.Tx, p table.Person) error {
	return membershipsOf(tx.Model(&Member{}), p).Delete(&Member{}).Error
}

// measureMembers counts the groups that list the person.
func measureMembers(ctx context.Context, db store.Reader, p table.Person, r *table.Reach) error {
	return membershipsOf(db.Read(ctx).Model(&Member{}), p).Distinct("group_id").Count(&r.Groups).Error
}
