package store

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
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
// copied yet (0.1 s for a 40 MB WAL, 0.6 s for 256 MB, measured on an import
// here) and syncs. So the backstop comes only at walBudget, which an import
// of about 120,000 people reaches, and the WAL file is cut back to
// walKeep once it starts over: the disk it took is given back.
const (
	checkpointEvery = 200 * time.Millisecond
	walBudget       = 512 << 20 // bytes of WAL before the writer checkpoints
	walKeep         = 64 << 20  // bytes of WAL file kept once it starts over
)

type checkpointer struct {
	conn *sql.DB
	quit chan struct{}
	done chan struct{}
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
		fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", walBudget/size),
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
