package store

import (
	"fmt"

	"gorm.io/gorm"
)

// ByteOrderText is the column type of a text column of size bytes that
// compares byte by byte, for a model's GormDBDataType: a lower-cased search
// key whose prefix search is then an index range scan on both databases.
// PostgreSQL would otherwise compare in the database's locale, where a
// prefix is not a range, so there the column gets the "C" collation;
// SQLite's default collation already compares bytes.
func ByteOrderText(db *gorm.DB, size int) string {
	if db.Dialector.Name() == Postgres {
		return fmt.Sprintf(`varchar(%d) COLLATE "C"`, size)
	}
	return fmt.Sprintf("varchar(%d)", size)
}

// SkipLocked is the locking clause that ends the SELECT of a queue's claim
// ("UPDATE q ... WHERE id IN (SELECT id ... LIMIT n" + SkipLocked() + ")").
// On PostgreSQL it is FOR UPDATE SKIP LOCKED, which lets the workers of
// several replicas claim side by side, neither waiting for nor taking each
// other's rows. A SQLite database has one writer, which serializes claims
// by itself: there it is "".
func (db *DB) SkipLocked() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// ParallelWrites reports whether write transactions can be open side by
// side (PostgreSQL, on connections of the pool). SQLite's one writer
// connection takes transactions one at a time: a transaction begun while
// another is open waits for it, holding nothing.
func (db *DB) ParallelWrites() bool { return db.Dialect == Postgres }
