package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// Inserts adds rows to one table from inside Write, for rows nothing else in
// the write reads back, such as audit entries.
//
// On SQLite, a row added by a write of a group is kept until every write of
// the group has run, and the rows of the writes that succeeded are then
// inserted together, by one statement per table, just before the group's
// COMMIT: still in the same transaction as the rest of each write, but one
// statement for the group instead of one per write on the single writer.
// A write that fails adds nothing. Should that statement fail, the group
// commits nothing and every write of it fails with that error. On
// PostgreSQL a row is inserted at once.
type Inserts struct {
	table string
	cols  int
	names []string
	// stmts[k] inserts 2^k rows; prepared up front, on the writer, because
	// the writer's one connection is busy while a group runs.
	stmts []*sql.Stmt
}

// NewInserts prepares inserts of rows with these columns into table. Call
// it outside Write.
func (db *DB) NewInserts(ctx context.Context, table string, cols ...string) (*Inserts, error) {
	ins := &Inserts{table: table, cols: len(cols), names: cols}
	for n := 1; n <= maxRowsPerInsert && n*len(cols) <= maxParams; n *= 2 {
		st, err := db.Prepare(context.WithoutCancel(ctx), true, insertSQL(table, cols, n))
		if err != nil {
			return nil, err
		}
		ins.stmts = append(ins.stmts, st)
	}
	return ins, nil
}

// maxRowsPerInsert bounds the rows of one statement; its parameters stay
// below maxParams too.
const maxRowsPerInsert = 64

func insertSQL(table string, cols []string, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(") VALUES ")
	p := 0
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			p++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Add inserts a row in tx: args are the values of the columns, in order.
func (ins *Inserts) Add(tx *Tx, args ...any) error {
	if len(args) != ins.cols {
		return fmt.Errorf("insert into %s: %d values for %d columns", ins.table, len(args), ins.cols)
	}
	if tx.m != nil {
		tx.m.rows = append(tx.m.rows, pendingRow{ins, args})
		return nil
	}
	_, err := tx.Stmt(ins.stmts[0]).ExecContext(tx.ctx, args...)
	return err
}

// member is one write of a SQLite write group, as its transaction runs it.
type member struct {
	// rows are the rows it added with Inserts, written before the COMMIT.
	rows []pendingRow
	// stmts are the group's statements bound to its transaction (Tx.Stmt).
	stmts map[*sql.Stmt]*sql.Stmt
}

type pendingRow struct {
	ins  *Inserts
	args []any
}

// insertPending inserts the rows that the group's successful writes added,
// table by table, in as few statements as the prepared sizes allow.
func insertPending(ctx context.Context, tx *sql.Tx, rows []pendingRow) error {
	var args []any
	for len(rows) > 0 {
		ins := rows[0].ins
		same := rows[:0:0]
		rest := rows[:0:0]
		for _, r := range rows {
			if r.ins == ins {
				same = append(same, r)
			} else {
				rest = append(rest, r)
			}
		}
		for len(same) > 0 {
			k := len(ins.stmts) - 1
			for 1<<k > len(same) {
				k--
			}
			args = args[:0]
			for _, r := range same[:1<<k] {
				args = append(args, r.args...)
			}
			if _, err := tx.StmtContext(ctx, ins.stmts[k]).ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert into %s: %w", ins.table, err)
			}
			same = same[1<<k:]
		}
		rows = rest
	}
	return nil
}
