package store

import (
	"strconv"
	"strings"
	"time"
)

// SharedInsert, Unnest and TimeArgOf are the forms of Insert's statements
// that the batch writers still build themselves, until they write through
// Insert.

// SharedInsert writes SQLite multi-row INSERTs whose shared columns take
// one numbered parameter for the whole statement (see Rows.Shared).
type SharedInsert struct {
	Insert, Suffix string
	Shared         []bool
}

// SQL is the statement for rows rows.
func (s SharedInsert) SQL(rows int) string {
	width, k := len(s.Shared), 0
	for _, sh := range s.Shared {
		if sh {
			k++
		}
	}
	own := width - k
	var b strings.Builder
	b.WriteString(s.Insert)
	b.WriteString(" VALUES ")
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
			b.WriteString(strconv.Itoa(n))
		}
		b.WriteByte(')')
	}
	b.WriteString(s.Suffix)
	return b.String()
}

// Args turns rows into the arguments of SQL; false when a shared column
// differs.
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

// Unnest writes a PostgreSQL multi-row INSERT as one array per column.
func Unnest(insert, suffix string, width int, args []any) (string, []any, error) {
	return unnest(insert, suffix, width, args)
}

// TimeArgOf is TimeArg for code that holds a dialect's name.
func TimeArgOf(dialect string, t time.Time) any {
	if dialect == SQLite {
		return sqliteTime(t)
	}
	return t
}
