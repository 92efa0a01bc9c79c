package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"time"
)

// TryLock takes the lock called name if it is free and reports whether it
// did; release gives it back. On PostgreSQL it is a session advisory lock
// (pg_try_advisory_lock) on a connection held until release, so replicas
// sharing the database exclude each other, and a replica that dies drops its
// locks with its connection. A SQLite database belongs to one gateway
// process, whose callers coordinate in memory: there TryLock always succeeds.
func (db *DB) TryLock(ctx context.Context, name string) (release func(), ok bool, err error) {
	if db.Dialect != Postgres {
		return func() {}, true, nil
	}
	sqlDB, err := db.W.DB()
	if err != nil {
		return nil, false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %q: %w", name, err)
	}
	key := lockKey(name)
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lock %q: %w", name, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return func() { unlock(conn, key) }, true, nil
}

func unlock(conn *sql.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var released bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", key).Scan(&released); err != nil || !released {
		// The session may be broken: discarding the connection ends the
		// session, which releases the lock on the server.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	conn.Close()
}

// lockKey maps a lock name to PostgreSQL's 64-bit advisory lock key space.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("invitegate:" + name))
	return int64(h.Sum64())
}

// Lock waits for the lock called name and returns its release, for work
// that every replica must do but never two at once (migrations). On
// PostgreSQL it is a session advisory lock (pg_advisory_lock) on a
// connection held until release: a replica that dies holding it drops it
// with its connection, and the next waiter goes on. A SQLite database
// belongs to one process: there Lock returns at once.
func (db *DB) Lock(ctx context.Context, name string) (release func(), err error) {
	if db.Dialect != Postgres {
		return func() {}, nil
	}
	sqlDB, err := db.W.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", name, err)
	}
	key := lockKey(name)
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock %q: %w", name, err)
	}
	return func() { unlock(conn, key) }, nil
}

// LockTx takes the lock called name for the rest of the transaction: of
// the transactions that check and then create what must exist once (the
// first start's account), one runs at a time, and each sees what the one
// before it committed. On PostgreSQL it is a transaction advisory lock
// (pg_advisory_xact_lock), given back at commit or rollback; SQLite runs
// one write transaction at a time already.
func (tx *Tx) LockTx(name string) error {
	if tx.db.Dialect != Postgres {
		return nil
	}
	if _, err := tx.sql.ExecContext(tx.ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(name)); err != nil {
		return fmt.Errorf("lock %q: %w", name, err)
	}
	return nil
}
