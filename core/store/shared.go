package store

import (
	"strconv"
	"strings"
	"time"
)

// SharedInsert writes SQLite multi-row INSERTs in which the columns that
// hold the same value in every row (the account, the event, the batch's
// time, an empty default) take one numbered parameter (?N) for the whole
// statement instead of one per row. Each value bound is a call into SQLite
// and a copy of the value there: in a bulk import of 100,000 people,
// binding was a quarter of the writer's time, and about half of the values
// were these.
type SharedInsert struct {
	// Insert is "INSERT INTO t (columns)", Suffix what follows the rows (an
	// ON CONFLICT or RETURNING clause, or "").
	Insert, Suffix string
	// Shared tells, column by column, which columns are bound once.
	Shared []bool
}

// SQL is the statement for rows rows: the shared columns are ?1..?k, in
// column order; each row's own columns follow, numbered row after row.
func (s SharedInsert) SQL(rows int) string {
	width, k := len(s.Shared), s.shared()
	own := width - k
	var b strings.Builder
	b.Grow(len(s.Insert) + len(s.Suffix) + 16 + rows*(width*7+3))
	b.WriteString(s.Insert)
	b.WriteString(" VALUES ")
	var num [20]byte
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		shared, next := 0, k+r*own
		for c, sh := range s.Shared {
			if c > 0 {
				b.WriteByte(',')
			}
			var n int
			if sh {
				shared++
				n = shared
			} else {
				next++
				n = next
			}
			b.WriteByte('?')
			b.Write(strconv.AppendInt(num[:0], int64(n), 10))
		}
		b.WriteByte(')')
	}
	b.WriteString(s.Suffix)
	return b.String()
}

// Args turns rows of every column's value (len(s.Shared) values a row, one
// row after another) into the arguments of SQL: the shared values once,
// then each row's own. It answers false when a shared column does not hold
// the same value in every row; the caller then writes the rows with one
// parameter per value. Values compare as strings, booleans, integers and
// times (by Equal); any other type counts as different.
func (s SharedInsert) Args(dst []any, rows []any) ([]any, bool) {
	width := len(s.Shared)
	if width == 0 || len(rows) == 0 || len(rows)%width != 0 {
		return dst, false
	}
	for c, sh := range s.Shared {
		if !sh {
			continue
		}
		for r := width; r < len(rows); r += width {
			if !same(rows[c], rows[r+c]) {
				return dst, false
			}
		}
		dst = append(dst, rows[c])
	}
	for r := 0; r < len(rows); r += width {
		for c, sh := range s.Shared {
			if !sh {
				dst = append(dst, rows[r+c])
			}
		}
	}
	return dst, true
}

func (s SharedInsert) shared() int {
	k := 0
	for _, sh := range s.Shared {
		if sh {
			k++
		}
	}
	return k
}

// same compares two values of the types the bulk writers bind.
func same(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int:
		y, ok := b.(int)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y) && x.Location() == y.Location()
	}
	return false
}
