package session

import "github.com/invitegate/gateway/core/table"

// Tables are the tables this package owns. Erasing a person deletes their
// sign-in links and sessions, so no cookie of theirs signs in again.
func Tables() []table.Table {
	return []table.Table{
		{Model: &LoginLink{}, Erase: table.ByUser(&LoginLink{})},
		{Model: &Session{}, Erase: table.ByUser(&Session{})},
	}
}
