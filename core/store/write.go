package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
)

// Write runs fn in a write transaction, for the hot paths (redeeming a
// link) that many requests run at once.
//
// On SQLite, where there is a single writer anyway, concurrent calls are
// grouped: one BEGIN IMMEDIATE, the fns one after another, one COMMIT for
// all. Should one fn fail, the group is rolled back and run again with each
// fn in its own SAVEPOINT, so that failure undoes only its own work: fn may
// thus run more than once, and must act only through tx (and its own
// variables, set afresh on each run). A caller is answered only after the
// COMMIT, so nobody is told "done" for work that could still be lost.
// Grouping turns N commits into one, which is what lets a single SQLite file
// serve thousands of redemptions a second. On PostgreSQL each call is its
// own transaction; concurrency there comes from the pool. Rows that fn adds
// with Inserts are written with the group's (see Inserts).
//
// A caller whose ctx ends before its fn has started is answered ctx.Err()
// and its fn never runs. Once fn has started, Write waits for the
// transaction's end and answers what really happened: a caller is never
// told a write failed that committed.
func (db *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	if db.Dialect != SQLite {
		return db.writeAlone(ctx, fn)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	g := db.group()
	if g == nil {
		return errors.New("database is closed")
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g.submit(req)
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(queued, withdrawn) {
			// The group will pass it over: nothing of it runs.
			return ctx.Err()
		}
		// fn is running or has run: its outcome is the COMMIT's.
		return <-req.done
	}
}

// writeAlone is Write on PostgreSQL: one transaction per call. The
// statements run without the caller's cancellation, so a caller that goes
// away mid-write does not leave the outcome to a race between the
// rollback and the COMMIT: the write ends as it would have, and the caller,
// if still waiting, hears how.
func (db *DB) writeAlone(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := db.W.DB()
	if err != nil {
		return err
	}
	wctx := context.WithoutCancel(ctx)
	stx, err := raw.BeginTx(wctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&Tx{DB: db.gormOn(wctx, stx), ctx: wctx, sql: stx, db: db}); err != nil {
		stx.Rollback()
		return err
	}
	return stx.Commit()
}

// Prepare prepares a statement on the writer (for Write) or the reader pool.
// On SQLite the writer has one connection, so a statement prepared once is
// reused by every transaction (database/sql's Tx.Stmt finds it on the
// connection) instead of being parsed again.
func (db *DB) Prepare(ctx context.Context, write bool, query string) (*sql.Stmt, error) {
	g := db.R
	if write {
		g = db.W
	}
	raw, err := g.DB()
	if err != nil {
		return nil, err
	}
	return raw.PrepareContext(ctx, query)
}

type writeReq struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan error
	// state moves from queued to running when the group takes the write,
	// or to withdrawn when its caller leaves first; whichever comes first
	// decides whether fn runs.
	state atomic.Int32
}

// States of a writeReq.
const (
	queued int32 = iota
	running
	withdrawn
)

// maxGroup bounds how many writes share one transaction, so one group never
// holds the writer for long.
const maxGroup = 64

type writeGroup struct {
	db   *DB
	raw  *sql.DB
	reqs chan *writeReq
	quit chan struct{}
	// savepoint statements, prepared once on the single writer connection.
	save, release, rollback *sql.Stmt
	broken                  error
	// pending holds, while a group runs, the rows its writes added with
	// Inserts, and stmts the statements bound to its transaction by Tx.Stmt
	// (both kept between groups to reuse their memory).
	pending []pendingRow
	stmts   map[*sql.Stmt]*sql.Stmt
}

// group starts the SQLite write group on first use.
func (db *DB) group() *writeGroup {
	db.groupOnce.Do(func() {
		raw, _ := db.W.DB()
		g := &writeGroup{db: db, raw: raw, reqs: make(chan *writeReq, 1024), quit: make(chan struct{})}
		for _, p := range []struct {
			dst **sql.Stmt
			sql string
		}{{&g.save, "SAVEPOINT w"}, {&g.release, "RELEASE w"}, {&g.rollback, "ROLLBACK TO w"}} {
			st, err := raw.Prepare(p.sql)
			if err != nil {
				g.broken = fmt.Errorf("prepare %s: %w", p.sql, err)
				break
			}
			*p.dst = st
		}
		db.writes = g
		go g.loop()
	})
	return db.writes
}

func (g *writeGroup) submit(r *writeReq) {
	select {
	case g.reqs <- r:
	case <-g.quit:
		r.done <- errors.New("database is closed")
	}
}

func (g *writeGroup) stop() { close(g.quit) }

// loop takes whatever writes are waiting and commits them together.
func (g *writeGroup) loop() {
	batch := make([]*writeReq, 0, maxGroup)
	errs := make([]error, maxGroup)
	for {
		var first *writeReq
		select {
		case first = <-g.reqs:
		case <-g.quit:
			return
		}
		batch = append(batch[:0], first)
		// Give writers that are about to submit a turn before the group is
		// closed: the first one woke this loop and, on a busy machine, the
		// others are a scheduling turn behind it. A group of one pays a
		// BEGIN, a COMMIT and the writing of every page it touched for a
		// single write; each member more costs only a savepoint.
		runtime.Gosched()
	fill:
		for len(batch) < maxGroup {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.run(batch, errs[:len(batch)])
	}
}

func (g *writeGroup) run(batch []*writeReq, errs []error) {
	if g.broken != nil {
		for _, r := range batch {
			r.done <- g.broken
		}
		return
	}
	// Most writes succeed, so the group first runs them all without
	// savepoints (two statements less per write on the single writer). If
	// one fails, that attempt is rolled back and the group runs again with
	// each write in a savepoint of its own, so a failure undoes only its
	// own work.
	all, retry := g.attempt(batch, errs, false)
	if retry {
		all, _ = g.attempt(batch, errs, true)
	}
	for i, r := range batch {
		if all != nil {
			r.done <- all
		} else {
			r.done <- errs[i]
		}
	}
}

// errFailed stops an attempt without savepoints at the first failed write.
var errFailed = errors.New("a write of the group failed")

// attempt runs the group's writes in one transaction, leaving each one's
// outcome in errs; all is an error for every write of the group (begin or
// commit failed). Without savepoints, it stops at the first failed write,
// rolls back and asks for a retry.
//
// The statements of a group's writes run to completion whatever becomes of
// their callers: each write's context keeps its values but not its
// cancellation. A cancelled context would make the SQLite driver interrupt
// the connection mid-statement, and an interrupted write rolls back the
// whole shared transaction, other callers' work included; it would also cost
// a goroutine per statement, which the driver spends to watch a cancellable
// context.
func (g *writeGroup) attempt(batch []*writeReq, errs []error, savepoints bool) (all error, retry bool) {
	stx, err := g.raw.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err), false
	}
	pending := g.pending[:0]
	if g.stmts == nil {
		g.stmts = map[*sql.Stmt]*sql.Stmt{}
	}
	defer func() {
		clear(pending)
		g.pending = pending[:0]
		clear(g.stmts)
	}()
	// One gorm handle on the transaction serves every write of the group.
	orm := g.db.gormOn(context.Background(), stx)
	for i, r := range batch {
		m := member{stmts: g.stmts}
		tx := &Tx{DB: orm, ctx: context.WithoutCancel(r.ctx), sql: stx, db: g.db, m: &m}
		if savepoints {
			errs[i] = g.one(tx, r)
		} else {
			errs[i] = g.bare(tx, r)
			if errors.Is(errs[i], errFailed) {
				stx.Rollback()
				return nil, true
			}
		}
		if errs[i] == nil {
			pending = append(pending, m.rows...)
		}
	}
	if err := insertPending(context.Background(), stx, pending); err != nil {
		stx.Rollback()
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return nil, false
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit write: %w", err), false
	}
	return nil, false
}

// take decides, once, whether the group runs r: not when its caller left
// before its turn (Write then answers ctx.Err()); from then on, a retry of
// the group runs it again.
func (r *writeReq) take() error {
	if r.ctx.Err() != nil && r.state.CompareAndSwap(queued, withdrawn) {
		return r.ctx.Err()
	}
	if r.state.CompareAndSwap(queued, running) || r.state.Load() == running {
		return nil
	}
	return r.ctx.Err()
}

// bare runs a caller's fn in the shared transaction without a savepoint;
// a failure comes back as errFailed, for the group to run again with
// savepoints. A caller gone before its turn is not run.
func (g *writeGroup) bare(tx *Tx, r *writeReq) (err error) {
	if err := r.take(); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = errFailed
		}
	}()
	if err := r.fn(tx); err != nil {
		return errFailed
	}
	return nil
}

// one runs a caller's fn inside a savepoint of the shared transaction; the
// rows it adds with Inserts go to its member.
func (g *writeGroup) one(tx *Tx, r *writeReq) (err error) {
	if err := r.take(); err != nil {
		return err
	}
	if _, err := tx.sql.Stmt(g.save).Exec(); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
		if err != nil {
			if _, rerr := tx.sql.Stmt(g.rollback).Exec(); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		if _, rerr := tx.sql.Stmt(g.release).Exec(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return r.fn(tx)
}
