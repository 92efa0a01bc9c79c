package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

type row struct {
	ID int `gorm:"primaryKey;autoIncrement:false"`
	N  int
}

// Concurrent writes are grouped on SQLite; each must still succeed or fail
// on its own: a failed write leaves nothing, the others all land.
func TestWritesSucceedOrFailAlone(t *testing.T) {
	storetest.Each(t, []any{&row{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		errBoom := errors.New("boom")
		var wg sync.WaitGroup
		errs := make([]error, 300)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, "INSERT INTO rows (id, n) VALUES ($1, $2)", i, i); err != nil {
						return err
					}
					switch i % 3 {
					case 1: // fails after writing: its insert must be undone
						return errBoom
					case 2: // a duplicate key: fails in the database
						_, err := tx.ExecContext(ctx, "INSERT INTO rows (id, n) VALUES ($1, $2)", i, i)
						return err
					}
					return nil
				})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			switch i % 3 {
			case 0:
				if err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			case 1:
				if !errors.Is(err, errBoom) {
					t.Fatalf("write %d: want its own error, got %v", i, err)
				}
			case 2:
				if !store.IsUniqueViolation(err) {
					t.Fatalf("write %d: want a unique violation, got %v", i, err)
				}
			}
		}
		var ids []int
		if err := db.R.Raw("SELECT id FROM rows ORDER BY id").Scan(&ids).Error; err != nil {
			t.Fatal(err)
		}
		if len(ids) != 100 {
			t.Fatalf("want the 100 successful rows, got %d", len(ids))
		}
		for _, id := range ids {
			if id%3 != 0 {
				t.Fatalf("row %d of a failed write was kept", id)
			}
		}
		// A cancelled caller's write is not run.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ran := false
		if err := db.Write(cctx, func(context.Context, *sql.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("cancelled write: err %v, ran %v", err, ran)
		}
	})
}
