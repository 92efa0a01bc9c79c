package webhook

import (
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns. An event's payload may name a
// person (their user id, their email): erasing them deletes the events
// that do, with their deliveries, sent or not.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Endpoint{}, NoPersonalData: "an integrator's receiving URL, its secret and the event types it wants"},
		{Model: &Event{}, Erase: eraseEvents},
		{Model: &Delivery{}, NoPersonalData: "an event's attempts to reach an endpoint (status, answer code, timing); the event, which may name a person, is erased with its deliveries"},
	}
}

func eraseEvents(tx *store.Tx, p table.Person) error {
	const names = "account_id = ? AND (user_id = ? OR (email <> '' AND email = ?))"
	if err := tx.Exec("DELETE FROM webhook_deliveries WHERE event_id IN (SELECT id FROM webhook_events WHERE "+names+")", p.AccountID, p.UserID, p.Email).Error; err != nil {
		return err
	}
	return tx.Exec("DELETE FROM webhook_events WHERE "+names, p.AccountID, p.UserID, p.Email).Error
}
