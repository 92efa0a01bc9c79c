package host_test

import (
	"os"
	"strings"
	"testing"

	"github.com/invitegate/gateway/plugins/host"
)

// The kinds table of plugins/README.md lists the table's kinds, in its
// order, with what each does, its job and whether it takes an account.
func TestReadmeListsTheKindTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| kind |"):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			var cells []string
			for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
				cells = append(cells, strings.TrimSpace(c))
			}
			rows = append(rows, cells)
		case in:
			in = false
		}
		if len(rows) > 0 && !in {
			break
		}
	}
	table := host.Kinds()
	if len(rows) != len(table) {
		t.Fatalf("README lists %d kinds, the table has %d: %v", len(rows), len(table), rows)
	}
	for i, k := range table {
		job, account := "none", "refused"
		if k.Job != "" {
			job = "`" + k.Job + "`"
		}
		if k.Account != "" {
			account = "required: " + k.Account
		}
		want := []string{"`" + string(k.Kind) + "`", k.Does, job, account}
		r := rows[i]
		if len(r) != 5 || r[0] != want[0] || r[1] != want[1] || r[3] != want[2] || r[4] != want[3] {
			t.Errorf("README row %d = %q, want kind, what it does, job and account %q", i, r, want)
		}
	}
}
