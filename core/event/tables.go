package event

import (
	"context"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns, parents first.
//
// Erasing a person deletes their places at events and all that hangs from
// them: visits, links, sign-ins, the chat messages they wrote and their
// speaker image (their sessions are core/session's to erase). Unlike Remove it is not an organizer
// action and checks no status: the person's data goes whatever state it is
// in. The erasers run from the end of the list, so each finds the
// person's attendee rows before they go.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Event{}, NoPersonalData: "an event's name, schedule and settings, and its creator by user id"},
		{Model: &Attendee{}, Erase: table.ByUser(&Attendee{}), Measure: measureAttendees},
		{Model: &Visit{}, Erase: eraseOfAttendee(&Visit{})},
		{Model: &Image{}, Erase: eraseImages},
		{Model: &Link{}, Erase: eraseOfAttendee(&Link{})},
		{Model: &Login{}, Erase: eraseOfAttendee(&Login{})},
		{Model: &ChatMessage{}, Erase: eraseOfAttendee(&ChatMessage{})},
		{Model: &Grant{}, NoPersonalData: "which groups may enter a closed event, and who granted it by actor id"},
	}
}

// attendeesOf selects the ids of the person's places at events.
func attendeesOf(tx *store.Tx, p table.Person) any {
	return tx.Model(&Attendee{}).Select("id").Where("user_id = ? AND account_id = ?", p.UserID, p.AccountID)
}

// measureAttendees lists the events the person is on, with their status.
func measureAttendees(ctx context.Context, db store.Reader, p table.Person, r *table.Reach) error {
	return db.Read(ctx).Table("attendees").Select("events.id, events.name, attendees.status").
		Joins("JOIN events ON events.id = attendees.event_id").
		Where("attendees.user_id = ? AND attendees.account_id = ?", p.UserID, p.AccountID).
		Order("events.name").Scan(&r.Events).Error
}

// eraseOfAttendee deletes the rows of model that belong to the person's
// places at events.
func eraseOfAttendee(model any) func(*store.Tx, table.Person) error {
	return func(tx *store.Tx, p table.Person) error {
		return tx.Where("attendee_id IN (?)", attendeesOf(tx, p)).Delete(model).Error
	}
}

// eraseImages deletes the person's speaker images. An image stays while
// another attendee still shows it (an organizer may reuse an upload);
// otherwise it is the person's photo and goes.
func eraseImages(tx *store.Tx, p table.Person) error {
	var refs []string
	if err := tx.Model(&Attendee{}).Where("user_id = ? AND account_id = ? AND image_ref <> ''", p.UserID, p.AccountID).Distinct().Pluck("image_ref", &refs).Error; err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	shown := tx.Model(&Attendee{}).Select("image_ref").Where("image_ref IN ? AND user_id <> ?", refs, p.UserID)
	return tx.Where("ref IN ? AND ref NOT IN (?)", refs, shown).Delete(&Image{}).Error
}
