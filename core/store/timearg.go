package store

import (
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// sqliteTime is t as the SQLite driver writes a time.Time (its first
// timestamp format, as gorm's writes store it too), so a column written
// with it reads and compares the same; multi-row inserts format a time
// their rows share once per statement (rows.go) instead of the driver once
// per row.
func sqliteTime(t time.Time) string { return t.Format(sqlite3.SQLiteTimestampFormats[0]) }
