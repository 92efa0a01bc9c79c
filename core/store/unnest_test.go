package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// Rows written through Unnest on PostgreSQL read back as they were given,
// in their order, with an ON CONFLICT suffix and RETURNING.
func TestUnnestInsertsRows(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	if err := db.W.Exec(`CREATE TABLE u (id varchar(36) PRIMARY KEY, name text, ok boolean, n integer, at timestamptz)`).Error; err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
	args := []any{
		"a", "Ann, \"the first\"", true, 1, at,
		"b", "", false, 2, at.Add(time.Hour),
		"a", "duplicate", true, 3, at,
		"c", "Ça va ☃", false, int64(4), at.Add(2 * time.Hour),
	}
	// Column 4 mixes int and int64: refused, saying which column.
	if _, _, err := store.Unnest("INSERT INTO u (id, name, ok, n, at)", "", 5, args); err == nil || !strings.Contains(err.Error(), "column 4") {
		t.Fatalf("mixed column: %v", err)
	}
	args[18] = 4
	q, cols, err := store.Unnest("INSERT INTO u (id, name, ok, n, at)", " ON CONFLICT (id) DO NOTHING RETURNING id", 5, args)
	if err != nil {
		t.Fatal(err)
	}
	if want := "INSERT INTO u (id, name, ok, n, at) SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[], $5::timestamptz[]) ON CONFLICT (id) DO NOTHING RETURNING id"; q != want {
		t.Fatalf("statement\n%s\nwant\n%s", q, want)
	}
	stx, err := db.W.DB()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := stx.QueryContext(ctx, q, cols...)
	if err != nil {
		t.Fatal(err)
	}
	var inserted []string
	for rs.Next() {
		var id string
		rs.Scan(&id)
		inserted = append(inserted, id)
	}
	rs.Close()
	if strings.Join(inserted, ",") != "a,b,c" {
		t.Fatalf("inserted %v, want a,b,c (the duplicate skipped)", inserted)
	}
	type row struct {
		ID, Name string
		OK       bool
		N        int
		At       time.Time
	}
	var got []row
	db.R.Raw("SELECT id, name, ok, n, at FROM u ORDER BY id").Scan(&got)
	want := []row{{"a", "Ann, \"the first\"", true, 1, at}, {"b", "", false, 2, at.Add(time.Hour)}, {"c", "Ça va ☃", false, 4, at.Add(2 * time.Hour)}}
	if len(got) != len(want) {
		t.Fatalf("rows %+v", got)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Name != want[i].Name || got[i].OK != want[i].OK || got[i].N != want[i].N || !got[i].At.Equal(want[i].At) {
			t.Fatalf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []struct {
		width int
		args  []any
		msg   string
	}{
		{5, args[:7], "do not make rows"},
		{1, []any{[]byte("x")}, "holds a []uint8"},
		{0, args, "do not make rows"},
	} {
		if _, _, err := store.Unnest("INSERT INTO u (id)", "", bad.width, bad.args); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("width %d, %d values: %v, want %q", bad.width, len(bad.args), err, bad.msg)
		}
	}
}
