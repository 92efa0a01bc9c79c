package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/store"
)

// A request that goes away while its statement runs on the single writer
// connection must not interrupt that statement half-way nor, through a late
// sqlite3_interrupt, the next statement another request runs.
func TestSQLiteStatementsOutliveCancelledContexts(t *testing.T) {
	db, err := store.Open(context.Background(), store.Config{DSN: filepath.Join(t.TempDir(), "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const long = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT count(*) FROM c`
	for i := 0; i < 8; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Duration(i*5)*time.Millisecond, cancel)
		var n int64
		err := db.W.WithContext(ctx).Raw(long).Scan(&n).Error
		if err == nil && n != 1000000 {
			t.Fatalf("run %d: count %d", i, n)
		}
		if err != nil && ctx.Err() == nil {
			t.Fatalf("run %d: %v without a cancelled context", i, err)
		}
		cancel()
		// The next statement, on a live context, always works.
		var one int
		if err := db.W.WithContext(context.Background()).Raw("SELECT 1").Scan(&one).Error; err != nil || one != 1 {
			t.Fatalf("run %d: the statement after a cancelled one failed: %v", i, err)
		}
		if err := db.W.Exec("CREATE TABLE IF NOT EXISTS t (x INTEGER)").Error; err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

// Every SQLite connection, the writer's and the readers', reads the file
// through a memory map.
func TestSQLiteConnectionsMapTheFile(t *testing.T) {
	db, err := store.Open(context.Background(), store.Config{DSN: filepath.Join(t.TempDir(), "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, g := range map[string]*gorm.DB{"writer": db.W, "reader": db.R} {
		var n int64
		if err := g.Raw("PRAGMA mmap_size").Scan(&n).Error; err != nil || n != 256<<20 {
			t.Errorf("%s: mmap_size %d (%v), want %d", name, n, err, 256<<20)
		}
	}
}

// The writer checkpoints itself past 40 MB of WAL, or 512 MB while bulk
// writes run, and cuts the WAL file back to 64 MB when it starts over.
func TestSQLiteWriterBoundsTheWAL(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var page int64
	if err := db.W.Raw("PRAGMA page_size").Scan(&page).Error; err != nil || page <= 0 {
		t.Fatalf("page size %d: %v", page, err)
	}
	budget := func(when string, want int64) {
		t.Helper()
		var pages int64
		if err := db.W.Raw("PRAGMA wal_autocheckpoint").Scan(&pages).Error; err != nil || pages*page != want {
			t.Errorf("%s: writer checkpoints every %d pages of %d bytes (%v), want %d MB", when, pages, page, err, want>>20)
		}
	}
	budget("at start", 40<<20)
	var keep int64
	if err := db.W.Raw("PRAGMA journal_size_limit").Scan(&keep).Error; err != nil || keep != 64<<20 {
		t.Errorf("writer journal_size_limit %d (%v), want %d", keep, err, 64<<20)
	}
	end1, err := db.BulkWrites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	end2, err := db.BulkWrites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	budget("two bulk runs", 512<<20)
	end1()
	end1() // a second call changes nothing
	budget("one bulk run left", 512<<20)
	end2()
	budget("after the bulk runs", 40<<20)
}
