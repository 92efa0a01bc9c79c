package store

import (
	"database/sql"
	"fmt"
	"strings"
)

// Rows is a multi-row INSERT into one table, for the batch writes (a bulk
// import's users, attendees and audit entries, a group sync's members, a
// batch's outbox messages) that write thousands of rows in a handful of
// statements: through gorm, every row would pay for reflection, and
// 100,000 rows for 100,000 round trips. The package that owns the table
// declares its Rows once and writes with Tx.Insert; a run of many batches
// prepares the statements once (NewRun).
//
// Unlike Inserts, whose rows wait for the end of a write group, Insert
// writes at once: the transaction may read the rows back.
type Rows struct {
	Table   string
	Columns []string
	// Shared names the columns that hold the same value in every row of a
	// call: the account, the event, the batch's time and status, an empty
	// default. On SQLite they are bound once per statement instead of once
	// per row: each value bound is a call into SQLite and a copy of the
	// value there, and in a bulk import of 100,000 people binding was a
	// quarter of the writer's time, about half of the values these. Should
	// one differ after all, that statement's rows are bound one value each.
	Shared []string
	// OnConflict, when set, follows the rows:
	// "ON CONFLICT (account_id, email) DO NOTHING".
	OnConflict string
	// PerStatement bounds the rows of one statement where rows go a chunk
	// at a time (SQLite); 0 means 1,000, and fewer when the columns would
	// pass maxParams parameters.
	PerStatement int
}

// maxParams keeps a statement below SQLite's 32,766 parameters (and
// PostgreSQL's 65,535).
const maxParams = 30000

// defaultPerStatement is how many rows a statement carries unless the
// Rows say otherwise.
const defaultPerStatement = 1000

// rowsLayout is Rows worked out for writing: the INSERT clause, which
// columns are shared, how many rows a full chunk has.
type rowsLayout struct {
	insert, suffix string
	width          int
	shared         []bool
	nShared        int
	per            int
}

func (r *Rows) layout() (*rowsLayout, error) {
	l := &rowsLayout{width: len(r.Columns), shared: make([]bool, len(r.Columns))}
	if l.width == 0 || r.Table == "" {
		return nil, fmt.Errorf("store: insert: rows need a table and columns")
	}
	for _, name := range r.Shared {
		found := false
		for c, col := range r.Columns {
			if col == name && !l.shared[c] {
				l.shared[c], found = true, true
				l.nShared++
			}
		}
		if !found {
			return nil, fmt.Errorf("store: insert into %s: shared column %q is not one of its columns", r.Table, name)
		}
	}
	l.insert = "INSERT INTO " + r.Table + " (" + strings.Join(r.Columns, ", ") + ")"
	if r.OnConflict != "" {
		l.suffix = " " + r.OnConflict
	}
	l.per = r.PerStatement
	if l.per <= 0 {
		l.per = defaultPerStatement
	}
	l.per = max(1, min(l.per, maxParams/l.width))
	return l, nil
}

// fullChunk is the SQLite statement of a full chunk, for NewRun.
func (r *Rows) fullChunk() (string, error) {
	l, err := r.layout()
	if err != nil {
		return "", err
	}
	return l.chunk(l.per), nil
}

// Insert writes n rows into r's table: row(args, i) appends row i's values,
// one per column in the order of r.Columns, and returns args. It answers
// how many rows the statements wrote: fewer than n when OnConflict skipped
// some.
//
// On SQLite the rows go PerStatement at a time. A full chunk's statement is
// the same text chunk after chunk, so it is compiled once: by the run, in a
// transaction of Run.Tx whose run prepared it, or else once for the call.
// SQLite spends as long compiling a statement of thousands of parameters as
// running it. The last, shorter chunk is sent as is. A time shared by the
// rows is formatted here, once a statement, as the driver would format it
// (sqliteTime).
//
// On PostgreSQL the n rows go in one statement with one array per column
// ("INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::boolean[])").
// A VALUES list of 1,000 rows of 22 columns is 22,000 parameters that the
// server parses, plans and converts one by one on every execution; as 22
// arrays the same rows cost about what COPY does, and the statement's text no
// longer depends on how many rows it carries, so the driver keeps it
// prepared. Values must then be string, bool, int, int64 or time.Time, one
// type per column.
func (tx *Tx) Insert(r *Rows, n int, row func(args []any, i int) []any) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	l, err := r.layout()
	if err != nil {
		return 0, err
	}
	var wrote int64
	if tx.db.Dialect == Postgres {
		wrote, err = tx.insertArrays(l, n, row)
	} else {
		wrote, err = tx.insertChunks(r, l, n, row)
	}
	if err != nil {
		return wrote, fmt.Errorf("insert into %s: %w", r.Table, err)
	}
	return wrote, nil
}

// insertArrays is Insert on PostgreSQL.
func (tx *Tx) insertArrays(l *rowsLayout, n int, row func(args []any, i int) []any) (int64, error) {
	s := tx.scratchpad()
	args := s.args[:0]
	for i := range n {
		args = row(args, i)
	}
	s.args = args
	if len(args) != n*l.width {
		return 0, fmt.Errorf("%d values for %d rows of %d columns", len(args), n, l.width)
	}
	q, cols, err := unnest(l.insert, l.suffix, l.width, args)
	if err != nil {
		return 0, err
	}
	res, err := tx.sql.ExecContext(tx.ctx, q, cols...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// insertChunks is Insert on SQLite.
func (tx *Tx) insertChunks(r *Rows, l *rowsLayout, n int, row func(args []any, i int) []any) (wrote int64, err error) {
	s := tx.scratchpad()
	// full is the full chunk's statement when prepared for this call.
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for start := 0; start < n; start += l.per {
		end := min(n, start+l.per)
		args := s.args[:0]
		for i := start; i < end; i++ {
			args = row(args, i)
		}
		s.args = args
		if len(args) != (end-start)*l.width {
			return wrote, fmt.Errorf("%d values for %d rows of %d columns", len(args), end-start, l.width)
		}
		// bind are the rows' values as chunk binds them (asChunk): the
		// shared columns once, or every value when none are shared.
		// Otherwise the rows go through plain.
		bind, asChunk := args, l.nShared == 0
		if !asChunk {
			shared, ok := l.sharedArgs(s.shared[:0], args)
			s.shared = shared
			if ok {
				bind, asChunk = shared, true
			}
		}
		var res sql.Result
		switch {
		case asChunk && end-start == l.per:
			st := tx.runStmt(r)
			if st == nil {
				if full == nil {
					if full, err = tx.sql.PrepareContext(tx.ctx, l.chunk(l.per)); err != nil {
						return wrote, err
					}
				}
				st = full
			}
			res, err = st.ExecContext(tx.ctx, bind...)
		case asChunk:
			res, err = tx.sql.ExecContext(tx.ctx, l.chunk(end-start), bind...)
		default:
			res, err = tx.sql.ExecContext(tx.ctx, l.plain(end-start), args...)
		}
		if err != nil {
			return wrote, err
		}
		k, err := res.RowsAffected()
		wrote += k
		if err != nil {
			return wrote, err
		}
	}
	return wrote, nil
}

// scratch is a transaction's argument buffers, reused by its inserts and
// lookups.
type scratch struct {
	args, shared []any
}

func (tx *Tx) scratchpad() *scratch {
	if tx.scratch == nil {
		tx.scratch = &scratch{}
	}
	return tx.scratch
}
