package store

import (
	"database/sql"
	"fmt"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// SQLite in WAL mode appends commits to the WAL and copies them into the
// database file at checkpoints. Left to itself, the writer checkpoints inside
// a commit every 1,000 pages, with two fsyncs, while every other write waits.
// The gateway checkpoints from a connection of its own instead, a few times
// a second, beside the writer; the writer's own checkpoint is kept only as a
// backstop for a WAL that grows past ~40 MB.
const (
	checkpointEvery   = 200 * time.Millisecond
	writerCheckpoints = 10000 // pages
)

type checkpointer struct {
	conn *sql.DB
	quit chan struct{}
	done chan struct{}
}

func (db *DB) startCheckpointer(path, params string) error {
	if err := db.W.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", writerCheckpoints)).Error; err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
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
