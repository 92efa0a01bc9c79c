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
func (db *DB) TimeArg(t time.Time) any {
	if db.Dialect == SQLite {
		return sqliteTime(t)
	}
	return t
}

// sqliteTime is t as the SQLite driver writes a time.Time.
func sqliteTime(t time.Time) string { return t.Format(sqlite3.SQLiteTimestampFormats[0]) }
