// Package store owns the database connection: opening SQLite (the embedded
// default) or PostgreSQL from one DSN, the schema migration, and the few
// dialect differences the rest of core must not care about.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialects the gateway runs on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Config says where the data lives.
type Config struct {
	// DSN is a SQLite file path ("data/gateway.db", "file:x.db?...") or a
	// PostgreSQL URL ("postgres://user:pass@host/db").
	DSN string
	// MaxOpenConns bounds PostgreSQL connections (default 20). SQLite always
	// writes through one connection: it has one writer anyway, and a single
	// connection turns lock contention into a queue instead of SQLITE_BUSY.
	MaxOpenConns int
	// Now is the clock of every write's time (Tx.Now): the audit log's,
	// gorm's CreatedAt and UpdatedAt. Default time.Now.
	Now func() time.Time
}

// DB is the gateway's handle on its database. Writes go through W; reads that
// need not see an in-flight transaction may use R, which on SQLite is a pool
// of read-only connections working beside the single writer (WAL mode).
// On PostgreSQL R and W are the same pool.
type DB struct {
	W       *gorm.DB
	R       *gorm.DB
	Dialect string
	now     func() time.Time

	groupOnce sync.Once
	writes    *writeGroup
	// checkpoints copies the SQLite WAL into the database file in the
	// background (see checkpoint.go).
	checkpoints *checkpointer
}

// DialectOf tells which database a DSN names.
func DialectOf(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// MultiProcess reports whether several gateway processes may use this
// database at once: replicas share a PostgreSQL database, while a SQLite
// file belongs to the one process that holds its writer. State a process
// keeps in memory is the whole truth only when this is false.
func (db *DB) MultiProcess() bool { return db.Dialect == Postgres }

// Open connects and applies the pragmas or pool settings the gateway relies on.
// It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if strings.TrimSpace(cfg.DSN) == "" {
		return nil, errors.New("database DSN is empty")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	gcfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		NowFunc:                func() time.Time { return now().UTC() },
	}
	db := &DB{Dialect: DialectOf(cfg.DSN), now: now}
	var err error
	if db.Dialect == Postgres {
		err = db.openPostgres(cfg, gcfg)
	} else {
		err = db.openSQLite(cfg, gcfg)
	}
	if err != nil {
		db.Close() // what opened before the failure
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openPostgres opens one pool, for reads and writes alike.
func (db *DB) openPostgres(cfg Config, gcfg *gorm.Config) error {
	w, err := gorm.Open(postgres.Open(cfg.DSN), gcfg)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	sqlDB, _ := w.DB()
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = 20
	}
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	db.W, db.R = w, w
	return nil
}

// openSQLite opens the one writer connection and the pool of readers beside
// it, and starts the checkpointer.
func (db *DB) openSQLite(cfg Config, gcfg *gorm.Config) error {
	path, err := sqlitePath(cfg.DSN)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "." && dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create database folder: %w", err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so two writers never
	// both read then fail to upgrade; busy_timeout covers the read pool
	// meeting a checkpoint. _mutex=no opens connections without SQLite's
	// per-connection mutex, taken and released on every call into the
	// library (each bind, step and column read): database/sql hands a
	// connection to one goroutine at a time, so the lock guards nothing.
	common := "_busy_timeout=10000&_foreign_keys=on&_journal_mode=WAL&_synchronous=NORMAL&cache=private&_cache_size=-32768&_mutex=no"
	wdsn := "file:" + path + "?" + common + "&_txlock=immediate"
	// The writer's gorm prepares no statements of its own. Its pool
	// has one connection, and gorm's statement cache prepares outside
	// any transaction on the pool: a prepare waiting for the
	// connection that a transaction holds, while that transaction
	// waits on the same cache entry, waits forever (go-gorm/gorm#7350,
	// #7465). The hot paths prepare their statements themselves (Prepare,
	// Inserts, Rows); the rest pays a parse per statement.
	wcfg := *gcfg
	wcfg.PrepareStmt = false
	w, err := gorm.Open(&sqlite.Dialector{DSN: wdsn, Conn: openSQLite(wdsn, true)}, &wcfg)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	wdb, _ := w.DB()
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	rdsn := "file:" + path + "?" + common + "&mode=ro"
	r, err := gorm.Open(&sqlite.Dialector{DSN: rdsn, Conn: openSQLite(rdsn, false)}, gcfg)
	if err != nil {
		return fmt.Errorf("open sqlite %s read-only: %w", path, err)
	}
	rdb, _ := r.DB()
	n := runtime.GOMAXPROCS(0) * 2
	if n < 4 {
		n = 4
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	db.W, db.R = w, r
	if err := db.startCheckpointer(path, common); err != nil {
		return err
	}
	return nil
}

// sqlitePath accepts "path", "file:path" and "sqlite://path", dropping any
// query: the gateway sets the pragmas itself.
func sqlitePath(dsn string) (string, error) {
	p := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	p, err := url.PathUnescape(p)
	if err != nil || p == "" || p == ":memory:" {
		return "", fmt.Errorf("database DSN %q: want a SQLite file path or a postgres:// URL", dsn)
	}
	return p, nil
}

// Now is the time by the database's clock (Config.Now), in UTC.
func (db *DB) Now() time.Time { return db.now().UTC() }

// Ping checks that the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	for _, g := range []*gorm.DB{db.W, db.R} {
		s, err := g.DB()
		if err != nil {
			return err
		}
		if err := s.PingContext(ctx); err != nil {
			return fmt.Errorf("database not reachable: %w", err)
		}
	}
	return nil
}

// Close releases both pools.
func (db *DB) Close() error {
	db.groupOnce.Do(func() {}) // no group starts after Close
	if db.writes != nil {
		db.writes.stop()
	}
	if db.checkpoints != nil {
		db.checkpoints.stop()
	}
	var errs []error
	seen := map[*sql.DB]bool{}
	for _, g := range []*gorm.DB{db.W, db.R} {
		if g == nil {
			continue
		}
		if s, err := g.DB(); err == nil && !seen[s] {
			seen[s] = true
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// Indexer is a model whose indexes are written as statements rather than
// struct tags: covering indexes whose column order is the design, and drops
// of indexes they replaced. Each statement must be idempotent (IF NOT EXISTS,
// IF EXISTS) and valid on SQLite and PostgreSQL alike.
type Indexer interface {
	Indexes() []string
}

// Upgrader is a model whose table takes over data the gateway kept another
// way before: Upgrade runs after the tables are made, and must be
// idempotent and leave nothing half done (one transaction).
type Upgrader interface {
	Upgrade(ctx context.Context, db *DB) error
}

// Migrate creates or extends the tables for the given models, then their
// Indexer statements, then their Upgrader steps. Each model's package owns
// its table; the gateway passes the full list. Replicas starting together
// migrate one after the other, under one advisory lock: two CREATE TABLE
// or CREATE INDEX of the same name at once fail on PostgreSQL, and the
// later replicas find the work done.
func (db *DB) Migrate(models ...any) error {
	release, err := db.Lock(context.Background(), "migrate")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer release()
	if err := db.W.AutoMigrate(models...); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range models {
		ix, ok := m.(Indexer)
		if !ok {
			continue
		}
		for _, stmt := range ix.Indexes() {
			if err := db.W.Exec(stmt).Error; err != nil {
				return fmt.Errorf("migrate: %s: %w", stmt, err)
			}
		}
	}
	for _, m := range models {
		if up, ok := m.(Upgrader); ok {
			if err := up.Upgrade(context.Background(), db); err != nil {
				return fmt.Errorf("migrate: upgrade %T: %w", m, err)
			}
		}
	}
	return nil
}

// HasTable reports whether the table exists.
func (db *DB) HasTable(name string) bool { return db.W.Migrator().HasTable(name) }

// IsUniqueViolation reports whether err is a unique-constraint failure on
// either dialect, so callers can turn a race into a clear conflict.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "duplicate key value")
}

// ReadIndexed runs fn's reads, which walk covering indexes built for them
// (the All users list), planned for that. PostgreSQL's default costs assume
// a cold spinning disk and prefer a sequential scan of the whole table;
// data being browsed is in memory, so on PostgreSQL the reads run in a
// read-only transaction planned with the costs of cached pages. SQLite
// needs nothing.
func (db *DB) ReadIndexed(ctx context.Context, fn func(q *gorm.DB) error) error {
	if db.Dialect != Postgres {
		return fn(db.R.WithContext(ctx))
	}
	return db.R.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET LOCAL random_page_cost = 1.1").Error; err != nil {
			return err
		}
		return fn(tx)
	}, &sql.TxOptions{ReadOnly: true})
}

// Walking names table read along index, for a query that SQLite would
// otherwise plan badly: it cannot tell a broad prefix search from a narrow
// one, and for a broad one it collects every match through the search
// indexes and sorts them all, where walking the sort index finds a page
// after a few hundred entries. PostgreSQL plans this itself, from its
// statistics.
func (db *DB) Walking(table, index string) string {
	if db.Dialect == SQLite {
		return table + " INDEXED BY " + index
	}
	return table
}
