package account

import "github.com/invitegate/gateway/core/table"

// Tables are the tables this package owns; neither holds anything of a
// person.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Account{}, NoPersonalData: "an organization: its name"},
		{Model: &APIKey{}, NoPersonalData: "a program's key: its hash, prefix and the name an admin gave it"},
	}
}
