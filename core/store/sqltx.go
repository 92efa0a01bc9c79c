package store

import (
	"database/sql"
	"fmt"

	"gorm.io/gorm"
)

// SQLTx is the database/sql transaction under a gorm transaction, for the
// few writers that prepare their own multi-row statements (group sync, bulk
// import) inside a transaction gorm opened.
func SQLTx(tx *gorm.DB) (*sql.Tx, error) {
	switch p := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return p, nil
	case *gorm.PreparedStmtTX:
		if t, ok := p.Tx.(*sql.Tx); ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("store: no SQL transaction under %T", tx.Statement.ConnPool)
}
