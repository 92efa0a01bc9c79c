package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

type note struct {
	ID   int `gorm:"primaryKey;autoIncrement:false"`
	Text string
}

// Rows added with Inserts land with the write that added them, and only if
// it succeeded.
func TestInsertsLandWithTheirWrites(t *testing.T) {
	storetest.Each(t, []any{&row{}, &note{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		notes, err := db.NewInserts(ctx, "notes", "id", "text")
		if err != nil {
			t.Fatal(err)
		}
		errBoom := errors.New("boom")
		var wg sync.WaitGroup
		errs := make([]error, 300)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(tx *store.Tx) error {
					if err := notes.Add(tx, i, fmt.Sprintf("note %d", i)); err != nil {
						return err
					}
					if _, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", i, i); err != nil {
						return err
					}
					switch i % 3 {
					case 1:
						return errBoom
					case 2:
						_, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", i, i)
						return err
					}
					return nil
				})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if (i%3 == 0) != (err == nil) {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		var got []note
		if err := db.R.Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		if len(got) != 100 {
			t.Fatalf("want the 100 notes of successful writes, got %d", len(got))
		}
		for _, n := range got {
			if n.ID%3 != 0 || n.Text != fmt.Sprintf("note %d", n.ID) {
				t.Fatalf("note %+v", n)
			}
		}
		if err := db.Write(ctx, func(tx *store.Tx) error { return notes.Add(tx, 1) }); err == nil {
			t.Fatal("a row with too few values was accepted")
		}
	})
}

// On SQLite the rows a group's writes added are inserted together: if that
// fails, none of the group's writes is committed and each says why. On
// PostgreSQL each write inserts its own rows, and fails alone.
func TestFailedInsertsFailTheirGroup(t *testing.T) {
	storetest.Each(t, []any{&row{}, &note{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		notes, err := db.NewInserts(ctx, "notes", "id", "text")
		if err != nil {
			t.Fatal(err)
		}
		// Hold the writer so the next writes queue up and share one group.
		release := holdWriter(ctx, db)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(tx *store.Tx) error {
					if _, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", i, i); err != nil {
						return err
					}
					return notes.Add(tx, 7, "the same id twice")
				})
			}(i)
		}
		time.Sleep(50 * time.Millisecond) // let both queue behind the held write
		release()
		wg.Wait()
		var rows, kept int64
		db.R.Raw("SELECT COUNT(*) FROM rows").Scan(&rows)
		db.R.Raw("SELECT COUNT(*) FROM notes").Scan(&kept)
		if db.Dialect == store.SQLite {
			for i, err := range errs {
				if !store.IsUniqueViolation(err) {
					t.Fatalf("write %d: want the group's unique violation, got %v", i, err)
				}
			}
			if rows != 0 || kept != 0 {
				t.Fatalf("a failed group left %d rows and %d notes", rows, kept)
			}
			return
		}
		if (errs[0] == nil) == (errs[1] == nil) || !store.IsUniqueViolation(errors.Join(errs...)) {
			t.Fatalf("want one write to succeed and one to fail on the duplicate, got %v and %v", errs[0], errs[1])
		}
		if rows != 1 || kept != 1 {
			t.Fatalf("want the successful write's row and note, got %d rows and %d notes", rows, kept)
		}
	})
}
