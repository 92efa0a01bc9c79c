package store

import (
	"context"
	"sort"
	"strings"
)

// Tables lists the tables in the database, by name, without the engine's
// own (SQLite's sqlite_sequence and statistics): the tables a migration made.
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	all, err := db.W.WithContext(ctx).Migrator().GetTables()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if db.Dialect == SQLite && strings.HasPrefix(t, "sqlite_") {
			continue
		}
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}
