package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// Gated is a conditional UPDATE of one row (the gate: "take a use of this
// link if it has one left") and the rows to add when, and only when, it
// changed that row, written as one write: all of it or none of it.
//
// It is for a hot path whose decision was made from a plain read beforehand
// (outside any transaction), and whose gate re-checks in its WHERE what
// could have changed since and matters (the uses left). What it writes is
// decided before it runs, so nothing has to be read back in the middle.
//
// On PostgreSQL it is one statement: the UPDATE and the inserts as
// data-modifying parts of one WITH, each insert taking its row from the
// UPDATE's RETURNING, so a write that needed a transaction of eight round
// trips (BEGIN, each statement, COMMIT) takes one.
//
// A row that collides with another on a unique key (a second entry of one
// person) fails the whole write with a unique violation
// (IsUniqueViolation), nothing of it done.
//
// On SQLite there is no such statement, and nothing to gain: every write
// runs on the one writer connection, whose page cache stays warm, while a
// reader's is dropped after each write, so a read there before the write
// costs more than the same read inside the write's transaction (measured:
// a redemption took a third more CPU). NewGated gives nil there, and the
// caller keeps its transaction.
type Gated struct {
	gateArgs int
	tables   []*Inserts
	one      *sql.Stmt // the whole write
}

// Row is one row for an Inserts table: for Gated.Exec, or to add in a
// transaction (Tx.AddRow).
type Row struct {
	ins  *Inserts
	args []any
}

// Row is a row of ins with these values of its columns, in order.
func (ins *Inserts) Row(args ...any) Row { return Row{ins: ins, args: args} }

// AddRow adds r in tx, as Inserts.Add does.
func (tx *Tx) AddRow(r Row) error { return r.ins.Add(tx, r.args...) }

// NewGated prepares a gated write: update is a single-row UPDATE with
// gateArgs parameters ($1...), tables are where Exec's rows go, one row
// each, in this order. It is nil, with no error, on SQLite (see Gated).
func (db *DB) NewGated(ctx context.Context, update string, gateArgs int, tables ...*Inserts) (*Gated, error) {
	if db.Dialect != Postgres {
		return nil, nil
	}
	ctx = context.WithoutCancel(ctx)
	g := &Gated{gateArgs: gateArgs, tables: tables}
	q, err := db.gatedSQL(ctx, update, gateArgs, tables)
	if err != nil {
		return nil, err
	}
	if g.one, err = db.Prepare(ctx, true, q); err != nil {
		return nil, fmt.Errorf("prepare gated write: %w", err)
	}
	return g, nil
}

// gatedSQL is the PostgreSQL statement of a gated write:
//
//	WITH gate AS (UPDATE ... RETURNING 1),
//	     r1 AS (INSERT INTO t1 (c, ...) SELECT $n::type, ... FROM gate), ...
//	SELECT count(*) FROM gate
//
// Every part of a WITH runs, read or not; each insert takes as many rows
// as the gate changed (one or none). Parameters in a SELECT list have no
// type of their own, so each is cast to its column's.
func (db *DB) gatedSQL(ctx context.Context, update string, gateArgs int, tables []*Inserts) (string, error) {
	var b strings.Builder
	b.WriteString("WITH gate AS (")
	b.WriteString(update)
	b.WriteString(" RETURNING 1)")
	p := gateArgs
	for i, ins := range tables {
		types, err := db.columnTypes(ctx, ins.table)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, ",\n r%d AS (INSERT INTO %s (%s) SELECT ", i+1, ins.table, strings.Join(ins.names, ", "))
		for c, name := range ins.names {
			typ, ok := types[name]
			if !ok {
				return "", fmt.Errorf("gated write: table %s has no column %s", ins.table, name)
			}
			if c > 0 {
				b.WriteString(", ")
			}
			p++
			b.WriteString("$" + strconv.Itoa(p) + "::" + typ)
		}
		b.WriteString(" FROM gate)")
	}
	b.WriteString("\nSELECT count(*) FROM gate")
	return b.String(), nil
}

// columnTypes is each column of a PostgreSQL table with its type, as SQL
// writes it.
func (db *DB) columnTypes(ctx context.Context, table string) (map[string]string, error) {
	raw, err := db.W.DB()
	if err != nil {
		return nil, err
	}
	rows, err := raw.QueryContext(ctx, `SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("gated write: no table %s", table)
	}
	return types, nil
}

// Exec runs the gated write: the gate with gateArgs and, if it changed its
// row, rows (one per table, in NewGated's order). It reports whether the
// gate passed; on an error, nothing was written.
//
// As with Write, a caller whose ctx has ended before the write started is
// answered ctx.Err() and nothing is written; once it has started, Exec
// waits for its end and answers what really happened.
func (g *Gated) Exec(ctx context.Context, gateArgs []any, rows ...Row) (bool, error) {
	if len(gateArgs) != g.gateArgs || len(rows) != len(g.tables) {
		return false, fmt.Errorf("gated write: %d gate values and %d rows for %d and %d", len(gateArgs), len(rows), g.gateArgs, len(g.tables))
	}
	n := len(gateArgs)
	for i, r := range rows {
		if r.ins != g.tables[i] {
			return false, fmt.Errorf("gated write: row %d is not for %s", i+1, g.tables[i].table)
		}
		if len(r.args) != r.ins.cols {
			return false, fmt.Errorf("insert into %s: %d values for %d columns", r.ins.table, len(r.args), r.ins.cols)
		}
		n += len(r.args)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	args := make([]any, 0, n)
	args = append(args, gateArgs...)
	for _, r := range rows {
		args = append(args, r.args...)
	}
	var changed int64
	err := g.one.QueryRowContext(context.WithoutCancel(ctx), args...).Scan(&changed)
	return changed > 0, err
}
