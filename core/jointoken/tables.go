package jointoken

import "github.com/invitegate/gateway/core/table"

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{{Model: &Key{}, NoPersonalData: "the gateway's signing keys"}}
}
