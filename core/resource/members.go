package resource

import (
	"context"
	"strings"

	"github.com/invitegate/gateway/core/store"
)

// MaxMembers bounds the members Members gives a platform's roster search:
// the invite dialog asks on every keystroke.
const MaxMembers = 10000

// sqlMembers reads the people on a resource: its collaborators and the
// people who entered it, each once.
const sqlMembers = `SELECT u.email, u.first_name, u.last_name FROM users u
WHERE u.account_id = ? AND u.id IN (SELECT user_id FROM collaborators WHERE resource_id = ? UNION SELECT user_id FROM participants WHERE resource_id = ?)
ORDER BY u.email LIMIT ?`

// Members are the people the gateway knows on res (its collaborators and
// those who entered it), which a room adapter's roster search ranks with
// the people its platform knows: until the gateway reads the course's
// roster from the LMS, they are the course's members it has seen.
func Members(ctx context.Context, r store.Reader, res *Resource) ([]Person, error) {
	rows, err := r.Read(ctx).Raw(sqlMembers, res.AccountID, res.ID, res.ID, MaxMembers).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		var email, first, last string
		if err := rows.Scan(&email, &first, &last); err != nil {
			return nil, err
		}
		out = append(out, Person{Email: email, Name: strings.TrimSpace(first + " " + last)})
	}
	return out, rows.Err()
}
