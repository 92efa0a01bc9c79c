package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

type stamp struct {
	ID int `gorm:"primaryKey;autoIncrement:false"`
	At time.Time
}

// A time written as TimeArg is stored as a time.Time would be: it reads back
// as the same instant, and compares in SQL like one.
func TestTimeArgStoresLikeATime(t *testing.T) {
	storetest.Each(t, []any{&stamp{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
		err := db.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecSQL("INSERT INTO stamps (id, at) VALUES ($1, $2)", 1, at); err != nil {
				return err
			}
			_, err := tx.ExecSQL("INSERT INTO stamps (id, at) VALUES ($1, $2)", 2, db.TimeArg(at))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var rows []stamp
		if err := db.R.Order("id").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || !rows[0].At.Equal(at) || !rows[1].At.Equal(at) {
			t.Fatalf("read back %+v, want both at %v", rows, at)
		}
		var same, later int64
		db.R.Raw("SELECT COUNT(*) FROM stamps a JOIN stamps b ON a.at = b.at WHERE a.id = 1 AND b.id = 2").Scan(&same)
		db.R.Raw("SELECT COUNT(*) FROM stamps WHERE at > ?", at.Add(-time.Millisecond)).Scan(&later)
		if same != 1 || later != 2 {
			t.Fatalf("equal rows %d (want 1), rows after a millisecond before %d (want 2)", same, later)
		}
	})
}
