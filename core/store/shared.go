package store

import (
	"strconv"
	"strings"
	"time"
)

// The SQLite statements of Insert. In a statement whose rows all hold the
// same value in the shared columns, those columns take one numbered
// parameter (?N) for the whole statement instead of one per row: the
// shared columns are ?1..?k, in column order; each row's own columns
// follow, numbered row after row. (SQLite looks a number used again up
// among the numbers it has seen, in the order it saw them: the shared
// ones are among the first row's, so a statement of thousands of
// parameters still compiles in time linear in them.) Otherwise (no shared
// columns, or rows that differ in one) every value is a parameter of its
// own, "?".

// chunk is the statement of rows rows: numbered when the rows share
// columns, plain otherwise.
func (l *rowsLayout) chunk(rows int) string {
	if l.nShared == 0 {
		return l.plain(rows)
	}
	return l.numbered(rows)
}

// numbered is the statement of rows rows with the shared columns bound once.
func (l *rowsLayout) numbered(rows int) string {
	own := l.width - l.nShared
	var b strings.Builder
	b.Grow(len(l.insert) + len(l.suffix) + 16 + rows*(l.width*7+3))
	b.WriteString(l.insert)
	b.WriteString(" VALUES ")
	var num [20]byte
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		shared, next := 0, l.nShared+r*own
		for c, sh := range l.shared {
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
	b.WriteString(l.suffix)
	return b.String()
}

// plain is the statement of rows rows with a parameter per value.
func (l *rowsLayout) plain(rows int) string {
	one := "(" + strings.Repeat("?,", l.width-1) + "?)"
	var b strings.Builder
	b.Grow(len(l.insert) + len(l.suffix) + 8 + rows*(len(one)+1))
	b.WriteString(l.insert)
	b.WriteString(" VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	b.WriteString(l.suffix)
	return b.String()
}

// sharedArgs turns rows of every column's value (l.width values a row, one
// row after another) into the arguments of numbered: the shared values
// once, then each row's own. A shared time is formatted as the driver
// would (sqliteTime), once. It answers false when a shared column does not
// hold the same value in every row; the rows then go through plain. Values
// compare as strings, booleans, integers and times (by Equal, in the same
// location); any other type counts as different.
func (l *rowsLayout) sharedArgs(dst []any, rows []any) ([]any, bool) {
	if l.nShared == 0 || len(rows) == 0 || len(rows)%l.width != 0 {
		return dst, false
	}
	for c, sh := range l.shared {
		if !sh {
			continue
		}
		for r := l.width; r < len(rows); r += l.width {
			if !same(rows[c], rows[r+c]) {
				return dst, false
			}
		}
		v := rows[c]
		if t, ok := v.(time.Time); ok {
			v = sqliteTime(t)
		}
		dst = append(dst, v)
	}
	for r := 0; r < len(rows); r += l.width {
		for c, sh := range l.shared {
			if !sh {
				dst = append(dst, rows[r+c])
			}
		}
	}
	return dst, true
}

// same compares two values of the types the batch writers bind.
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
