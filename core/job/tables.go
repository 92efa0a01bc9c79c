package job

import "github.com/invitegate/gateway/core/table"

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{{Model: &Job{}, NoPersonalData: "a job's kind, status, counts and error, and who started it by actor id; " +
		"the rows a job refused, with the people they name, are its kind's own (core/bulk's problems)"}}
}
