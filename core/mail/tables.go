package mail

import (
	"context"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns. Erasing a person deletes the
// email queued or sent to them in the account: its row keeps their
// address and name, and until it is sent its bodies too.
func Tables() []table.Table {
	return []table.Table{
		{Model: &StoredTemplate{}, NoPersonalData: "email templates from template providers"},
		{Model: &Message{}, Erase: eraseMessages, Measure: measureMessages},
		// Listed after Message, so it is erased first: a view names its
		// person only through the messages about the same link.
		{Model: &View{}, Erase: eraseViews},
		{Model: &ModelBase{}, NoPersonalData: "the part a batch's emails to other people share: the resource, and the sender as those emails name them; " +
			"it names no recipient, and goes once the batch is sent (PurgeModelBases)"},
	}
}

func eraseMessages(tx *store.Tx, p table.Person) error {
	return tx.Where("account_id = ? AND to_email = ?", p.AccountID, p.Email).Delete(&Message{}).Error
}

func measureMessages(ctx context.Context, db store.Reader, p table.Person, r *table.Reach) error {
	return db.Read(ctx).Model(&Message{}).Where("account_id = ? AND to_email = ?", p.AccountID, p.Email).Count(&r.Messages).Error
}

func eraseViews(tx *store.Tx, p table.Person) error {
	refs := tx.Model(&Message{}).Select("ref_id").Where("account_id = ? AND to_email = ? AND ref_id <> ''", p.AccountID, p.Email)
	return tx.Where("account_id = ? AND ref_id IN (?)", p.AccountID, refs).Delete(&View{}).Error
}
