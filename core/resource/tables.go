package resource

import (
	"context"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns. A person's erasure takes their
// collaborations and their presence in resources; the resources stay.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Resource{}, NoPersonalData: "a room, live session or media entry: its title and schedule, and its creator by user id"},
		{Model: &Collaborator{}, Erase: table.ByUser(&Collaborator{}), Measure: measureByUser(&Collaborator{})},
		{Model: &Participant{}, Erase: table.ByUser(&Participant{}), Measure: measureByUser(&Participant{})},
	}
}

// measureByUser counts the resources the person's rows of model reach.
func measureByUser(model any) func(context.Context, store.Reader, table.Person, *table.Reach) error {
	return func(ctx context.Context, db store.Reader, p table.Person, r *table.Reach) error {
		var ids []string
		if err := db.Read(ctx).Model(model).Where("user_id = ? AND account_id = ?", p.UserID, p.AccountID).Pluck("resource_id", &ids).Error; err != nil {
			return err
		}
		r.AddResources(ids...)
		return nil
	}
}
