package store

import (
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// TimeArg is t as an argument of a raw statement (Write's hot paths). On
// SQLite it is the very text the driver stores for a time.Time (its first
// timestamp format, as gorm's writes store it too), so the column reads and
// compares the same; formatting it once, before the write, spares the
// single writer a formatting per statement that binds it. On PostgreSQL it
// is t.
func (db *DB) TimeArg(t time.Time) any { return TimeArgOf(db.Dialect, t) }

// TimeArgOf is TimeArg for code that holds a dialect's name rather than
// the DB.
func TimeArgOf(dialect string, t time.Time) any {
	if dialect == SQLite {
		return t.Format(sqlite3.SQLiteTimestampFormats[0])
	}
	return t
}
