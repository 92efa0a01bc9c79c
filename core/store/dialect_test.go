package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

type byteKey string

func (byteKey) GormDBDataType(db *gorm.DB, f *schema.Field) string {
	return store.ByteOrderText(db, f.Size)
}

type keyed struct {
	ID  int     `gorm:"primaryKey;autoIncrement:false"`
	Key byteKey `gorm:"size:20;index"`
}

// A ByteOrderText column sorts and compares byte by byte on both
// databases, whatever the database's locale: a prefix is a range.
func TestByteOrderText(t *testing.T) {
	storetest.Each(t, []any{&keyed{}}, func(t *testing.T, db *store.DB) {
		keys := []byteKey{"b", "a", "_x", "B", "ab", "a b", "é"}
		for i, k := range keys {
			if err := db.W.Create(&keyed{ID: i, Key: k}).Error; err != nil {
				t.Fatal(err)
			}
		}
		var sorted []string
		db.R.Model(&keyed{}).Order("key").Pluck("key", &sorted)
		if got, want := strings.Join(sorted, "|"), "B|_x|a|a b|ab|b|é"; got != want {
			t.Fatalf("sorted %s, want %s", got, want)
		}
		var n int64
		db.R.Model(&keyed{}).Where("key >= ? AND key < ?", "a", "b").Count(&n)
		if n != 3 {
			t.Fatalf("%d keys in [a, b), want 3", n)
		}
		if db.Dialect == store.Postgres {
			var coll string
			db.R.Raw("SELECT collation_name FROM information_schema.columns WHERE table_name = 'keyeds' AND column_name = 'key'").Scan(&coll)
			if coll != "C" {
				t.Fatalf("collation %q, want C", coll)
			}
		}
	})
}

type queued struct {
	ID     int `gorm:"primaryKey;autoIncrement:false"`
	Worker string
}

// A claim that ends with SkipLocked takes rows another open claim holds on
// neither database: on PostgreSQL it passes over them without waiting.
func TestSkipLocked(t *testing.T) {
	storetest.Each(t, []any{&queued{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.W.Create(&[]queued{{ID: 1}, {ID: 2}}).Error; err != nil {
			t.Fatal(err)
		}
		claim := func(tx *store.Tx, worker string) []int {
			var ids []int
			q := "UPDATE queueds SET worker = ? WHERE id IN (SELECT id FROM queueds WHERE worker = '' ORDER BY id LIMIT 1" + db.SkipLocked() + ") RETURNING id"
			if err := tx.Raw(q, worker).Scan(&ids).Error; err != nil {
				t.Errorf("claim by %s: %v", worker, err)
			}
			return ids
		}
		if !db.ParallelWrites() {
			// One writer: claims take turns, each seeing the other's.
			for _, w := range []string{"one", "two"} {
				if err := db.Tx(ctx, func(tx *store.Tx) error { claim(tx, w); return nil }); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			held := make(chan struct{})
			release := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- db.Tx(ctx, func(tx *store.Tx) error {
					if ids := claim(tx, "one"); len(ids) != 1 || ids[0] != 1 {
						t.Errorf("first claim took %v, want [1]", ids)
					}
					close(held)
					<-release
					return nil
				})
			}()
			<-held
			// Were the first claim's row in the way, the second would wait
			// for it until its deadline.
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := db.Tx(wctx, func(tx *store.Tx) error {
				if ids := claim(tx, "two"); len(ids) != 1 || ids[0] != 2 {
					t.Errorf("second claim took %v beside the first, want [2]", ids)
				}
				return nil
			})
			cancel()
			close(release)
			if err != nil {
				t.Fatalf("second claim beside the first: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		var got []queued
		db.R.Order("id").Find(&got)
		if len(got) != 2 || got[0].Worker != "one" || got[1].Worker != "two" {
			t.Fatalf("claimed %+v, want 1 by one and 2 by two", got)
		}
	})
}
