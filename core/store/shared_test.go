package store_test

import (
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

var sharedRows = store.SharedInsert{Insert: "INSERT INTO s (id, account, name, at)", Suffix: " RETURNING id",
	Shared: []bool{false, true, false, true}}

// The shared columns are numbered first, once; each row's own columns
// follow, row after row.
func TestSharedInsertStatement(t *testing.T) {
	want := "INSERT INTO s (id, account, name, at) VALUES (?3,?1,?4,?2),(?5,?1,?6,?2),(?7,?1,?8,?2) RETURNING id"
	if got := sharedRows.SQL(3); got != want {
		t.Fatalf("statement\n%s\nwant\n%s", got, want)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := []any{"a", "acc", "Ann", at, "b", "acc", "Bob", at, "c", "acc", "Cy", at}
	args, ok := sharedRows.Args(nil, rows)
	if !ok {
		t.Fatal("shared columns that hold one value were called different")
	}
	wantArgs := []any{"acc", at, "a", "Ann", "b", "Bob", "c", "Cy"}
	if len(args) != len(wantArgs) {
		t.Fatalf("args %v, want %v", args, wantArgs)
	}
	for i := range args {
		if args[i] != wantArgs[i] {
			t.Fatalf("args %v, want %v", args, wantArgs)
		}
	}
	for name, change := range map[string]func([]any){
		"another account": func(r []any) { r[9] = "other" },
		"another time":    func(r []any) { r[11] = at.Add(time.Nanosecond) },
		"another type":    func(r []any) { r[9] = []byte("acc") },
	} {
		r := append([]any(nil), rows...)
		change(r)
		if _, ok := sharedRows.Args(nil, r); ok {
			t.Errorf("%s: rows whose shared column differs were accepted", name)
		}
	}
	if _, ok := sharedRows.Args(nil, rows[:5]); ok {
		t.Error("values that do not make whole rows were accepted")
	}
}

// Rows written through a SharedInsert on SQLite read back as given.
func TestSharedInsertWritesRows(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	if err := db.W.Exec(`CREATE TABLE s (id text PRIMARY KEY, account text, name text, at datetime)`).Error; err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
	rows := []any{"a", "acc", "Ann, \"the first\"", db.TimeArg(at), "b", "acc", "Ça va ☃", db.TimeArg(at)}
	args, ok := sharedRows.Args(nil, rows)
	if !ok {
		t.Fatal("not shared")
	}
	raw, err := db.W.DB()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := raw.Query(sharedRows.SQL(2), args...)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rs.Next() {
		n++
	}
	rs.Close()
	if n != 2 {
		t.Fatalf("RETURNING gave %d rows, want 2", n)
	}
	type row struct {
		ID, Account, Name string
		At                time.Time
	}
	var got []row
	if err := db.W.Raw("SELECT id, account, name, at FROM s ORDER BY id").Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	want := []row{{"a", "acc", "Ann, \"the first\"", at}, {"b", "acc", "Ça va ☃", at}}
	if len(got) != len(want) {
		t.Fatalf("rows %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Account != want[i].Account || got[i].Name != want[i].Name || !got[i].At.Equal(want[i].At) {
			t.Fatalf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
