package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Tx is a write transaction as core sees it: the one way a domain package
// changes the database, whichever way the store runs it (grouped with
// other writes by Write, or alone by Tx) and on either database.
//
// It is gorm bound to the transaction, for the writes that read best as
// models (tx.Create, tx.Model(...).Updates), plus what the hot paths need
// without an ORM: prepared statements bound once to the transaction
// (Stmt), rows written together with the rest of a SQLite write group
// (Inserts.Add), and multi-row inserts and lookups (Insert, SelectIn).
type Tx struct {
	*gorm.DB
	ctx context.Context
	sql *sql.Tx
	db  *DB
	// m is the write group member running in this transaction, on SQLite.
	m *member
	// run holds the statements prepared for the run the transaction is
	// part of (Run.Tx), or is nil.
	run *Run
	// scratch holds the argument buffers of Insert and SelectIn.
	scratch *scratch
	// customPlans is set once the transaction plans every execution afresh
	// (SelectIn on PostgreSQL).
	customPlans bool
}

// Now is the time by the database's clock (Config.Now), in UTC: the time
// the transaction records, e.g. in its audit entries.
func (tx *Tx) Now() time.Time { return tx.db.Now() }

// Context is the context the transaction's statements run with.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Stmt is st, prepared on the writer (DB.Prepare), bound to this
// transaction. In a SQLite write group it is bound once for all the
// group's writes instead of once per use: each binding costs an
// allocation and a search under a lock, on the single writer.
func (tx *Tx) Stmt(st *sql.Stmt) *sql.Stmt {
	if tx.m == nil {
		return tx.sql.StmtContext(tx.ctx, st)
	}
	if b, ok := tx.m.stmts[st]; ok {
		return b
	}
	b := tx.sql.StmtContext(tx.ctx, st)
	tx.m.stmts[st] = b
	return b
}

// ExecSQL runs a plain statement ($1, $2... placeholders) on the
// transaction, for writes whose text is built at run time.
func (tx *Tx) ExecSQL(query string, args ...any) (sql.Result, error) {
	return tx.sql.ExecContext(tx.ctx, query, args...)
}

// Tx runs fn in one write transaction of its own: committed when fn
// returns nil, rolled back otherwise. Use it for writes that may not run
// twice; the hot paths that may use Write instead.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.tx(ctx, nil, fn)
}

// tx is Tx, as part of run when run is not nil.
func (db *DB) tx(ctx context.Context, run *Run, fn func(tx *Tx) error) error {
	return db.W.WithContext(ctx).Transaction(func(g *gorm.DB) error {
		stx, err := sqlTxOf(g)
		if err != nil {
			return err
		}
		return fn(&Tx{DB: g, ctx: ctx, sql: stx, db: db, run: run})
	})
}

// sqlTxOf is the database/sql transaction under a gorm transaction.
func sqlTxOf(g *gorm.DB) (*sql.Tx, error) {
	switch p := g.Statement.ConnPool.(type) {
	case *sql.Tx:
		return p, nil
	case *gorm.PreparedStmtTX:
		if t, ok := p.Tx.(*sql.Tx); ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("store: no SQL transaction under %T", g.Statement.ConnPool)
}

// gormOn is gorm bound to a transaction the store began itself, so that a
// write group's members can use models too.
func (db *DB) gormOn(ctx context.Context, stx *sql.Tx) *gorm.DB {
	g := db.W.Session(&gorm.Session{NewDB: true, Context: ctx})
	if p, ok := db.W.Statement.ConnPool.(*gorm.PreparedStmtDB); ok {
		g.Statement.ConnPool = &gorm.PreparedStmtTX{Tx: stx, PreparedStmtDB: p}
	} else {
		g.Statement.ConnPool = stx
	}
	return g
}

// Reader is where a read goes: the database (its reader pool, beside the
// writer) or a transaction (which sees its own writes). Read functions take
// one, so the same lookup serves a page and a write.
type Reader interface {
	Read(ctx context.Context) *gorm.DB
}

// Read is gorm on the reader pool.
func (db *DB) Read(ctx context.Context) *gorm.DB { return db.R.WithContext(ctx) }

// Read is gorm on the transaction.
func (tx *Tx) Read(ctx context.Context) *gorm.DB { return tx.DB.WithContext(ctx) }

// PrepareSQL prepares a statement ($1, $2... placeholders) on the
// transaction, for a statement run many times in it; it is closed when the
// transaction ends.
func (tx *Tx) PrepareSQL(query string) (*sql.Stmt, error) {
	return tx.sql.PrepareContext(tx.ctx, query)
}
