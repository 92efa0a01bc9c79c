package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// SQLite in WAL mode appends commits to the WAL and copies them into the
// database file at checkpoints. Left to itself, the writer checkpoints inside
// a commit every 1,000 pages, with two fsyncs, while every other write waits.
// The gateway checkpoints from a connection of its own instead, a few times
// a second, beside the writer.
//
// Under a long run of writes (a bulk import) that checkpointer falls behind
// the writer, and the WAL only starts over from its beginning once a
// checkpoint has copied all of it while no write was under way. The
// writer's own checkpoint, kept as a backstop for the WAL's size, is that
// moment: every write waits while it copies what the checkpointer had not
// copied yet, and syncs. For the short writes of everyday traffic that is
// little (the checkpointer keeps up), and a WAL kept small is faster to
// write and read: redemptions run 10-15% faster with a 40 MB backstop than
// with a 512 MB one. Under an import it is most of what the checkpointer
// lags behind (0.1 s at 40 MB, 0.6 s at 256 MB, measured), so while one
// runs (BulkWrites) the backstop moves to walBulkBudget, which an import of
// about 120,000 people reaches. The WAL file is cut back to walKeep once
// it starts over: the disk it took is given back.
const (
	checkpointEvery = 200 * time.Millisecond
	walBudget       = 40 << 20  // bytes of WAL before the writer checkpoints
	walBulkBudget   = 512 << 20 // the same while a bulk import runs
	walKeep         = 64 << 20  // bytes of WAL file kept once it starts over
)

type checkpointer struct {
	conn *sql.DB
	quit chan struct{}
	done chan struct{}

	mu   sync.Mutex
	bulk int // bulk runs under way
}

// BulkWrites raises the SQLite writer's checkpoint backstop for a long run
// of writes, a bulk import, until end is called (see above); runs may
// overlap. On PostgreSQL it does nothing.
func (db *DB) BulkWrites(ctx context.Context) (end func(), err error) {
	c := db.checkpoints
	if c == nil {
		return func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bulk == 0 {
		if err := db.backstop(ctx, walBulkBudget); err != nil {
			return nil, err
		}
	}
	c.bulk++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.bulk--; c.bulk == 0 {
				// Should this fail, the connection is broken and its next
				// one starts at walBudget.
				db.backstop(context.WithoutCancel(ctx), walBudget)
			}
		})
	}, nil
}

// backstop sets the writer's checkpoint backstop to budget bytes of WAL.
func (db *DB) backstop(ctx context.Context, budget int) error {
	var size int
	if err := db.W.WithContext(ctx).Raw("PRAGMA page_size").Scan(&size).Error; err != nil || size <= 0 {
		return fmt.Errorf("sqlite: page size %d: %v", size, err)
	}
	if err := db.W.WithContext(ctx).Exec(autocheckpoint(budget, size)).Error; err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

func (db *DB) startCheckpointer(path, params string) error {
	g, err := gorm.Open(sqlite.Open("file:"+path+"?"+params), &gorm.Config{})
	if err != nil {
		return fmt.Errorf("open sqlite checkpoint connection: %w", err)
	}
	conn, _ := g.DB()
	conn.SetMaxOpenConns(1)
	c := &checkpointer{conn: conn, quit: make(chan struct{}), done: make(chan struct{})}
	db.checkpoints = c
	go c.loop()
	return nil
}

// autocheckpoint is the pragma that has the writer checkpoint once its WAL
// holds budget bytes, in pages of pageSize bytes.
func autocheckpoint[N int | int64](budget int, pageSize N) string {
	return fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", int64(budget)/int64(pageSize))
}

// limitWAL gives the writer's connection c its checkpoint backstop, in
// pages of the database's size, and the size its WAL file is cut back to.
func limitWAL(c *sqlite3.SQLiteConn) error {
	rows, err := c.Query("PRAGMA page_size", nil)
	if err != nil {
		return fmt.Errorf("sqlite: page size: %w", err)
	}
	v := make([]driver.Value, 1)
	err = rows.Next(v)
	rows.Close()
	size, _ := v[0].(int64)
	if err != nil || size <= 0 {
		return fmt.Errorf("sqlite: page size %v: %v", v[0], err)
	}
	for _, p := range []string{
		autocheckpoint(walBudget, size),
		fmt.Sprintf("PRAGMA journal_size_limit=%d", walKeep),
	} {
		if _, err := c.Exec(p, nil); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	return nil
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			// PASSIVE never blocks the writer or readers; what it cannot copy
			// now it copies next time.
			c.conn.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

func (c *checkpointer) stop() {
	close(c.quit)
	<-c.done
	c.conn.Close()
}
