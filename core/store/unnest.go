package store

import (
	"fmt"
	"strings"
	"time"
)

// unnest writes Insert's PostgreSQL statement, one parameter per column:
// "INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::boolean[])
// suffix" (see Insert for why).
//
// insert is "INSERT INTO t (columns)", suffix what follows the rows (an ON
// CONFLICT clause or ""), args the rows' values one row after another,
// width values each. Columns may hold string, bool, int, int64 or
// time.Time values, one type per column; anything else is an error.
func unnest(insert, suffix string, width int, args []any) (string, []any, error) {
	if width <= 0 || len(args) == 0 || len(args)%width != 0 {
		return "", nil, fmt.Errorf("store: unnest: %d values do not make rows of %d", len(args), width)
	}
	rows := len(args) / width
	cols := make([]any, width)
	var b strings.Builder
	b.Grow(len(insert) + len(suffix) + width*20 + 32)
	b.WriteString(insert)
	b.WriteString(" SELECT * FROM unnest(")
	for c := range width {
		var typ string
		switch args[c].(type) {
		case string:
			typ, cols[c] = "text[]", column[string](args, c, width, rows)
		case bool:
			typ, cols[c] = "boolean[]", column[bool](args, c, width, rows)
		case int:
			typ, cols[c] = "bigint[]", column[int](args, c, width, rows)
		case int64:
			typ, cols[c] = "bigint[]", column[int64](args, c, width, rows)
		case time.Time:
			typ, cols[c] = "timestamptz[]", column[time.Time](args, c, width, rows)
		default:
			return "", nil, fmt.Errorf("store: unnest: column %d holds a %T", c+1, args[c])
		}
		if cols[c] == nil {
			return "", nil, fmt.Errorf("store: unnest: column %d mixes types", c+1)
		}
		if c > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s", c+1, typ)
	}
	b.WriteString(")")
	b.WriteString(suffix)
	return b.String(), cols, nil
}

// column gathers column c of rows of width values, or nil when one of them
// is not a T.
func column[T any](args []any, c, width, rows int) any {
	out := make([]T, rows)
	for r := range rows {
		v, ok := args[r*width+c].(T)
		if !ok {
			return nil
		}
		out[r] = v
	}
	return out
}
