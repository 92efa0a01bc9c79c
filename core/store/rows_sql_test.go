package store

import (
	"strings"
	"testing"
	"time"
)

var sqlRows = Rows{Table: "s", Columns: []string{"id", "account", "name", "at"}, Shared: []string{"account", "at"},
	OnConflict: "ON CONFLICT (id) DO NOTHING"}

// On SQLite the shared columns are numbered first, once; each row's own
// columns follow, row after row.
func TestRowsStatement(t *testing.T) {
	l, err := sqlRows.layout()
	if err != nil {
		t.Fatal(err)
	}
	want := "INSERT INTO s (id, account, name, at) VALUES (?3,?1,?4,?2),(?5,?1,?6,?2),(?7,?1,?8,?2) ON CONFLICT (id) DO NOTHING"
	if got := l.chunk(3); got != want {
		t.Fatalf("statement\n%s\nwant\n%s", got, want)
	}
	if got, want := l.plain(2), "INSERT INTO s (id, account, name, at) VALUES (?,?,?,?),(?,?,?,?) ON CONFLICT (id) DO NOTHING"; got != want {
		t.Fatalf("plain statement\n%s\nwant\n%s", got, want)
	}
	none := Rows{Table: "s", Columns: []string{"id", "name"}}
	ln, _ := none.layout()
	if got, want := ln.chunk(2), "INSERT INTO s (id, name) VALUES (?,?),(?,?)"; got != want {
		t.Fatalf("statement without shared columns\n%s\nwant\n%s", got, want)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := []any{"a", "acc", "Ann", at, "b", "acc", "Bob", at, "c", "acc", "Cy", at}
	args, ok := l.sharedArgs(nil, rows)
	if !ok {
		t.Fatal("shared columns that hold one value were called different")
	}
	// The shared time is bound as the text the driver would write for it.
	wantArgs := []any{"acc", sqliteTime(at), "a", "Ann", "b", "Bob", "c", "Cy"}
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
		"another zone":    func(r []any) { r[11] = at.In(time.FixedZone("x", 0)) },
		"another type":    func(r []any) { r[9] = []byte("acc") },
	} {
		r := append([]any(nil), rows...)
		change(r)
		if _, ok := l.sharedArgs(nil, r); ok {
			t.Errorf("%s: rows whose shared column differs were accepted", name)
		}
	}
	if _, ok := l.sharedArgs(nil, rows[:5]); ok {
		t.Error("values that do not make whole rows were accepted")
	}
}

// A full chunk keeps a statement below the parameter limit.
func TestRowsPerStatement(t *testing.T) {
	wide := Rows{Table: "w", Columns: make([]string, 22)}
	for i := range wide.Columns {
		wide.Columns[i] = "c"
	}
	for _, tc := range []struct {
		per, want int
	}{{0, 1000}, {50, 50}, {5000, maxParams / 22}} {
		wide.PerStatement = tc.per
		l, err := wide.layout()
		if err != nil {
			t.Fatal(err)
		}
		if l.per != tc.want {
			t.Errorf("PerStatement %d: %d rows a statement, want %d", tc.per, l.per, tc.want)
		}
	}
}

// On PostgreSQL each column is one array of its values' type.
func TestUnnestStatement(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
	args := []any{"a", "Ann", true, 1, at, "b", "", false, 2, at.Add(time.Hour)}
	q, cols, err := unnest("INSERT INTO u (id, name, ok, n, at)", " ON CONFLICT (id) DO NOTHING", 5, args)
	if err != nil {
		t.Fatal(err)
	}
	if want := "INSERT INTO u (id, name, ok, n, at) SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[], $5::timestamptz[]) ON CONFLICT (id) DO NOTHING"; q != want {
		t.Fatalf("statement\n%s\nwant\n%s", q, want)
	}
	if ids, ok := cols[0].([]string); !ok || strings.Join(ids, ",") != "a,b" {
		t.Fatalf("first column %#v", cols[0])
	}
	if ts, ok := cols[4].([]time.Time); !ok || len(ts) != 2 || !ts[1].Equal(at.Add(time.Hour)) {
		t.Fatalf("time column %#v", cols[4])
	}
	for _, bad := range []struct {
		width int
		args  []any
		msg   string
	}{
		{5, args[:7], "do not make rows"},
		{1, []any{[]byte("x")}, "holds a []uint8"},
		{0, args, "do not make rows"},
		{5, append(append([]any(nil), args[:5]...), "c", "", false, int64(3), at), "column 4 mixes types"},
	} {
		if _, _, err := unnest("INSERT INTO u (id)", "", bad.width, bad.args); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("width %d, %d values: %v, want %q", bad.width, len(bad.args), err, bad.msg)
		}
	}
}
