package user

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// NewUser is a person EnsureMany finds or creates.
type NewUser struct {
	// ID is the id the user gets if new (id.New()), made by the caller
	// before the transaction, which then only writes.
	ID string
	// Email is normalized (NormalizeEmail).
	Email               string
	FirstName, LastName string
}

// newUsers are the rows EnsureMany inserts, skipping the emails the account
// already has; a batch's new users share their account, their empty
// defaults and their time.
var newUsers = store.Rows{Table: "users",
	Columns:    []string{"id", "account_id", "email", "first_name", "last_name", "external_id", "console_role", "shared", "created_at", "updated_at"},
	Shared:     []string{"account_id", "external_id", "console_role", "shared", "created_at", "updated_at"},
	OnConflict: "ON CONFLICT (account_id, email) DO NOTHING"}

// usersByEmail reads a batch's users back.
var usersByEmail = store.Keyed{Table: "users", Columns: []string{"id", "email", "first_name", "last_name"},
	Where: []string{"account_id"}, Key: "email"}

// BatchStatements are the statements of EnsureMany, for a store.Run of
// batches to prepare once.
func BatchStatements() []store.Statement { return []store.Statement{&newUsers, &usersByEmail} }

// EnsureMany finds or creates many people of the account at once, in a
// few multi-row statements, for a batch such as a bulk import's: each is
// created if new, with its ID, and a user found without a name is given
// the person's, as Resolve does for one person. people's emails must be
// distinct. It returns user ids by email, and the set of ids of the users
// it created: those cannot be on an event yet.
//
// The users are inserted skipping the emails the account already has;
// when the statements wrote every row (a file of new people) the people's
// ids are the users' and nothing is read back. Otherwise every person's
// user is read back by email, and the ones with the people's ids are the
// ones created.
func EnsureMany(tx *store.Tx, accountID string, people []NewUser) (ids map[string]string, created map[string]bool, err error) {
	ids = make(map[string]string, len(people))
	created = make(map[string]bool, len(people))
	if len(people) == 0 {
		return ids, created, nil
	}
	for i := range people {
		if people[i].ID == "" {
			return nil, nil, fmt.Errorf("user %s has no id to be created with", people[i].Email)
		}
	}
	now := tx.Now()
	wrote, err := tx.Insert(&newUsers, len(people), func(args []any, i int) []any {
		p := &people[i]
		return append(args, p.ID, accountID, p.Email, p.FirstName, p.LastName, "", "", false, now, now)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("users: %w", err)
	}
	if wrote == int64(len(people)) {
		for _, p := range people {
			ids[p.Email], created[p.ID] = p.ID, true
		}
		return ids, created, nil
	}
	unnamed, err := readBack(tx, accountID, people, ids, created)
	if err != nil {
		return nil, nil, err
	}
	if err := nameAll(tx, unnamed, ids, now); err != nil {
		return nil, nil, err
	}
	for _, p := range people {
		if ids[p.Email] == "" {
			return nil, nil, fmt.Errorf("user %s was neither created nor found", p.Email)
		}
	}
	return ids, created, nil
}

// nameAll gives the users of unnamed, found without a name, the names of
// their people: one statement, compiled once for them all.
func nameAll(tx *store.Tx, unnamed []*NewUser, ids map[string]string, now time.Time) error {
	if len(unnamed) == 0 {
		return nil
	}
	st, err := tx.PrepareSQL("UPDATE users SET first_name = $1, last_name = $2, updated_at = $3 WHERE id = $4")
	if err != nil {
		return err
	}
	defer st.Close()
	for _, p := range unnamed {
		if _, err := st.ExecContext(tx.Context(), p.FirstName, p.LastName, now, ids[p.Email]); err != nil {
			return err
		}
	}
	return nil
}

// readBack reads the users of people back into ids, marking in created
// those with the ids given for them; it returns the people whose user,
// found there before, has no name yet.
func readBack(tx *store.Tx, accountID string, people []NewUser, ids map[string]string, created map[string]bool) ([]*NewUser, error) {
	ours := make(map[string]bool, len(people))
	for i := range people {
		ours[people[i].ID] = true
	}
	emails := make([]string, len(people))
	byEmail := make(map[string]*NewUser, len(people))
	for i := range people {
		emails[i] = people[i].Email
		byEmail[people[i].Email] = &people[i]
	}
	var unnamed []*NewUser
	err := tx.SelectIn(&usersByEmail, []any{accountID}, emails, func(rs *sql.Rows) error {
		var uid, email string
		var first, last sql.NullString
		if err := rs.Scan(&uid, &email, &first, &last); err != nil {
			return err
		}
		ids[email] = uid
		if ours[uid] {
			created[uid] = true
		} else if p := byEmail[email]; first.String == "" && last.String == "" && (p.FirstName != "" || p.LastName != "") {
			unnamed = append(unnamed, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return unnamed, nil
}
