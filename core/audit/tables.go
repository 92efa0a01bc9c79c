package audit

import (
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns.
//
// The log stays when a person is erased: entries name people by user id,
// which names no one once the user row is gone. A few entries quoted an
// address in their detail (a test message's recipient); erasing the person
// replaces those quotes.
func Tables() []table.Table {
	return []table.Table{{Model: &Entry{}, Erase: eraseQuotes}}
}

// Erased is what an erased person's address is replaced with where an
// entry's detail quoted it.
const Erased = "[erased]"

func eraseQuotes(tx *store.Tx, p table.Person) error {
	return tx.Exec("UPDATE audit_entries SET detail = REPLACE(detail, ?, ?) WHERE account_id = ? AND detail LIKE ?",
		p.Email, Erased, p.AccountID, "%"+p.Email+"%").Error
}
