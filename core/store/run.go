package store

import (
	"context"
	"database/sql"
	"errors"
)

// Run is a series of write transactions that write and look up the same
// kinds of rows batch after batch: the batches of a bulk import, of a
// group sync. Its transactions (Run.Tx) run the full-chunk statements of
// Insert and SelectIn prepared once for the whole run, where a transaction
// of Tx would compile them once per call: on SQLite a full chunk of 1,000
// rows is a statement of some 100 KB and thousands of parameters, which
// takes as long to compile as to run.
type Run struct {
	db *DB
	// stmts are the full-chunk statements, by their *Rows or *Keyed.
	stmts map[Statement]*sql.Stmt
}

// Statement is what a Run prepares: a *Rows or a *Keyed.
type Statement interface {
	fullChunk() (string, error)
}

// NewRun prepares the full-chunk statements of stmts on the writer, for
// the transactions of the run. Call it outside any transaction: SQLite's
// one writer connection belongs to a transaction while one is open. Close
// the run when it ends.
//
// On PostgreSQL nothing is prepared here: Insert's and SelectIn's
// statements do not depend on the number of rows there, and the driver
// keeps them prepared.
func (db *DB) NewRun(ctx context.Context, stmts ...Statement) (*Run, error) {
	r := &Run{db: db, stmts: map[Statement]*sql.Stmt{}}
	for _, s := range stmts {
		q, err := s.fullChunk()
		if err != nil {
			r.Close()
			return nil, err
		}
		if db.Dialect != SQLite || r.stmts[s] != nil {
			continue
		}
		st, err := db.Prepare(context.WithoutCancel(ctx), true, q)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.stmts[s] = st
	}
	return r, nil
}

// Tx runs fn in one write transaction of its own, as DB.Tx does, with the
// run's prepared statements.
func (r *Run) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	return r.db.tx(ctx, r, fn)
}

// Close releases the run's statements.
func (r *Run) Close() error {
	var errs []error
	for _, st := range r.stmts {
		errs = append(errs, st.Close())
	}
	clear(r.stmts)
	return errors.Join(errs...)
}

// runStmt is the run's full-chunk statement of s bound to tx, or nil.
func (tx *Tx) runStmt(s Statement) *sql.Stmt {
	if tx.run == nil {
		return nil
	}
	if st := tx.run.stmts[s]; st != nil {
		return tx.Stmt(st)
	}
	return nil
}
