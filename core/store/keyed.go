package store

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// Keyed is a lookup of rows by many keys at once, for a batch that reads
// back the rows of its keys (the users of a batch's emails, the attendees
// of its users): "SELECT Columns FROM Table WHERE Where... AND Key IN
// (keys)", read with Tx.SelectIn.
type Keyed struct {
	Table string
	// Columns are read, in this order.
	Columns []string
	// Where are columns equal to SelectIn's where values, in this order.
	Where []string
	// Key is the text column matched against the keys.
	Key string
}

// keysPerLookup is how many keys one SQLite lookup carries.
const keysPerLookup = 1000

// sql is the lookup of keys keys on SQLite: "Key IN (?, ...)".
func (k *Keyed) sql(keys int) string {
	var b strings.Builder
	b.Grow(64 + len(k.Table) + 16*len(k.Columns) + 16*len(k.Where) + 2*keys)
	k.head(&b)
	for _, w := range k.Where {
		b.WriteString(w)
		b.WriteString(" = ? AND ")
	}
	b.WriteString(k.Key)
	b.WriteString(" IN (")
	for i := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('?')
	}
	b.WriteByte(')')
	return b.String()
}

// arraySQL is the lookup on PostgreSQL: "Key = ANY($n::text[])".
func (k *Keyed) arraySQL() string {
	var b strings.Builder
	k.head(&b)
	for i, w := range k.Where {
		b.WriteString(w)
		b.WriteString(" = $")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(" AND ")
	}
	b.WriteString(k.Key)
	b.WriteString(" = ANY($")
	b.WriteString(strconv.Itoa(len(k.Where) + 1))
	b.WriteString("::text[])")
	return b.String()
}

func (k *Keyed) head(b *strings.Builder) {
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(k.Columns, ", "))
	b.WriteString(" FROM ")
	b.WriteString(k.Table)
	b.WriteString(" WHERE ")
}

// fullChunk is the SQLite lookup of a full chunk of keys, for NewRun.
func (k *Keyed) fullChunk() (string, error) {
	if k.Table == "" || k.Key == "" || len(k.Columns) == 0 {
		return "", fmt.Errorf("store: lookup: needs a table, columns and a key column")
	}
	return k.sql(keysPerLookup), nil
}

// SelectIn reads the rows of k's table whose Where columns equal where and
// whose Key is one of keys, calling each with every row (to Scan k.Columns,
// in order); an error from each stops the lookup and is returned.
//
// On SQLite the keys go 1,000 to a statement; a full chunk's statement is
// prepared once by the run (NewRun) when the transaction is one of Run.Tx.
//
// On PostgreSQL the keys go as one array ("Key = ANY($n::text[])"), and the
// rest of the transaction is planned afresh at every execution
// (plan_cache_mode force_custom_plan). The driver keeps the statement
// prepared and it runs with new keys every batch: PostgreSQL would soon plan
// it once for all, from the statistics of the table when it was small (a
// sequential scan), and keep that plan as the table grows; each batch would
// then read the whole table.
func (tx *Tx) SelectIn(k *Keyed, where []any, keys []string, each func(rs *sql.Rows) error) error {
	if len(keys) == 0 {
		return nil
	}
	if len(where) != len(k.Where) {
		return fmt.Errorf("store: lookup in %s: %d values for %d columns", k.Table, len(where), len(k.Where))
	}
	if tx.db.Dialect == Postgres {
		if !tx.customPlans {
			if _, err := tx.sql.ExecContext(tx.ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
				return err
			}
			tx.customPlans = true
		}
		args := append(append(make([]any, 0, len(where)+1), where...), keys)
		rs, err := tx.sql.QueryContext(tx.ctx, k.arraySQL(), args...)
		return readRows(k, rs, err, each)
	}
	s := tx.scratchpad()
	for start := 0; start < len(keys); start += keysPerLookup {
		end := min(len(keys), start+keysPerLookup)
		args := append(s.args[:0], where...)
		for _, key := range keys[start:end] {
			args = append(args, key)
		}
		s.args = args
		var rs *sql.Rows
		var err error
		if st := tx.fullLookup(k, end-start); st != nil {
			rs, err = st.QueryContext(tx.ctx, args...)
		} else {
			rs, err = tx.sql.QueryContext(tx.ctx, k.sql(end-start), args...)
		}
		if err := readRows(k, rs, err, each); err != nil {
			return err
		}
	}
	return nil
}

// fullLookup is the run's statement for a chunk of n keys, when it is a
// full one and the run prepared it.
func (tx *Tx) fullLookup(k *Keyed, n int) *sql.Stmt {
	if n != keysPerLookup {
		return nil
	}
	return tx.runStmt(k)
}

// readRows calls each with every row of rs, then closes it.
func readRows(k *Keyed, rs *sql.Rows, err error, each func(rs *sql.Rows) error) error {
	if err != nil {
		return fmt.Errorf("lookup in %s: %w", k.Table, err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := each(rs); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("lookup in %s: %w", k.Table, err)
	}
	return rs.Close()
}
