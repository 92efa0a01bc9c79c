package event

import (
	"database/sql"
	"fmt"

	"github.com/invitegate/gateway/core/store"
)

// The bulk import (core/bulk) adds and updates attendees a batch at a time,
// in a few multi-row statements (store.Insert, store.SelectIn) instead of
// a statement or more per person.

// attendeeRows are the rows InsertAttendees writes; a batch's attendees
// share their account, event, registration, status, time and empty
// defaults.
var attendeeRows = store.Rows{Table: "attendees",
	Columns: []string{"id", "account_id", "event_id", "user_id", "email", "first_name", "last_name", "name_key", "last_key",
		"speaker", "moderator", "organizer", "title", "company", "bio", "image_ref", "registration_type", "status", "detail",
		"blocked_from_chat", "created_at", "updated_at"},
	Shared: []string{"account_id", "event_id", "organizer", "bio", "image_ref", "registration_type", "status", "detail",
		"blocked_from_chat", "created_at", "updated_at"}}

// attendeesOfUsers reads what an import compares of the event's attendees.
var attendeesOfUsers = store.Keyed{Table: "attendees",
	Columns: []string{"id", "user_id", "status", "detail", "speaker", "moderator", "title", "company", "bio", "image_ref"},
	Where:   []string{"event_id"}, Key: "user_id"}

// BatchStatements are the statements of InsertAttendees and
// AttendeesOfUsers, for a store.Run of batches to prepare once.
func BatchStatements() []store.Statement {
	return []store.Statement{&attendeeRows, &attendeesOfUsers}
}

// InsertAttendees adds new attendees as they are (ids, names and their
// keys, status and times set by the caller, ahead of the transaction),
// with tx. Each is invited from a file: not an organizer, no bio, image or
// chat block. A person already on the event is a unique violation
// (store.IsUniqueViolation), and nothing of the batch is written.
func InsertAttendees(tx *store.Tx, as []*Attendee) error {
	_, err := tx.Insert(&attendeeRows, len(as), func(args []any, i int) []any {
		a := as[i]
		return append(args, a.ID, a.AccountID, a.EventID, a.UserID, string(a.Email), a.FirstName, a.LastName, string(a.NameKey), string(a.LastKey),
			a.Speaker, a.Moderator, false, a.Title, a.Company, "", "", a.RegistrationType, string(a.Status), string(a.Detail), false, a.CreatedAt, a.UpdatedAt)
	})
	return err
}

// AttendeesOfUsers reads, with tx, the attendees of the event among the
// users, by user id. Only what an import compares and checks is read: ID,
// UserID, Status, Detail, Speaker, Moderator, Title, Company, Bio and
// ImageRef.
func AttendeesOfUsers(tx *store.Tx, eventID string, userIDs []string) (map[string]*Attendee, error) {
	out := make(map[string]*Attendee, len(userIDs))
	err := tx.SelectIn(&attendeesOfUsers, []any{eventID}, userIDs, func(rs *sql.Rows) error {
		a := &Attendee{EventID: eventID}
		var title, company, bio, image sql.NullString
		if err := rs.Scan(&a.ID, &a.UserID, &a.Status, &a.Detail, &a.Speaker, &a.Moderator, &title, &company, &bio, &image); err != nil {
			return err
		}
		a.Title, a.Company, a.Bio, a.ImageRef = title.String, company.String, bio.String, image.String
		out[a.UserID] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attendees: %w", err)
	}
	return out, nil
}

// UpdateImported writes, with tx, the roles and speaker details (Speaker,
// Moderator, Title, Company, UpdatedAt) of attendees a file changed, each
// only if its status is still the one read (Status); it returns how many
// it updated. Fewer than len(as) means a status moved meanwhile.
func UpdateImported(tx *store.Tx, as []*Attendee) (int, error) {
	if len(as) == 0 {
		return 0, nil
	}
	st, err := tx.PrepareSQL("UPDATE attendees SET speaker = $1, moderator = $2, title = $3, company = $4, updated_at = $5 WHERE id = $6 AND status = $7")
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n := 0
	for _, a := range as {
		r, err := st.ExecContext(tx.Context(), a.Speaker, a.Moderator, a.Title, a.Company, a.UpdatedAt, a.ID, string(a.Status))
		if err != nil {
			return n, err
		}
		k, _ := r.RowsAffected()
		n += int(k)
	}
	return n, nil
}
