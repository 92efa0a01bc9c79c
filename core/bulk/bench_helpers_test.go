//go:build bench

package bulk_test

import (
	"database/sql"
	"fmt"

	"gorm.io/gorm"
)

type gormDB = gorm.DB

// rawTx is the database/sql transaction under a gorm transaction.
func rawTx(tx *gorm.DB) (*sql.Tx, error) {
	switch p := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return p, nil
	case *gorm.PreparedStmtTX:
		if t, ok := p.Tx.(*sql.Tx); ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("no SQL transaction under %T", tx.Statement.ConnPool)
}
