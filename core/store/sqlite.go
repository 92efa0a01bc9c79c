package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// openSQLite opens a SQLite pool whose statements are never interrupted by a
// context.
//
// mattn/go-sqlite3 cancels a statement with sqlite3_interrupt, which stops
// every statement running on the connection, and, fired late, the next one
// too (mattn/go-sqlite3#681, #488). The gateway has one writer connection
// shared by concurrent requests (write groups, see write.go), so a person
// closing their browser mid-request could fail another person's redemption or
// a bulk import's batch. Here the driver only ever sees contexts without
// cancellation: a statement, once started, runs to its end (they are short),
// and database/sql still honours cancellation between statements, rolling
// back a transaction whose context ended.
// writer marks the pool of the one writer connection, which also carries
// the WAL's size settings (see checkpoint.go): they are the connection's,
// so every connection the pool opens gets them.
func openSQLite(dsn string, writer bool) *sql.DB {
	return sql.OpenDB(&sqliteConnector{dsn: dsn, driver: &sqlite3.SQLiteDriver{}, writer: writer})
}

type sqliteConnector struct {
	dsn    string
	driver *sqlite3.SQLiteDriver
	writer bool
}

// sqliteMmap is how much of the database file each connection reads
// through a memory map rather than with a read call per page (SQLite's
// mmap_size). A redemption reads a few pages spread over the invitations,
// redemptions and participants; mapped, those reads cost no system call
// and no copy: about a tenth of a redemption's time. Writes still go
// through the WAL. Mapped pages are the kernel's file cache, shared by the
// connections, not memory of the process's own. The price, per SQLite's
// documentation: an I/O error while reading the file (a failing disk)
// stops the process instead of failing the statement.
const sqliteMmap = 256 << 20

func (c *sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(*sqlite3.SQLiteConn)
	if !ok {
		conn.Close()
		return nil, errors.New("store: unexpected SQLite connection type")
	}
	if _, err := sc.Exec(fmt.Sprintf("PRAGMA mmap_size=%d", sqliteMmap), nil); err != nil {
		sc.Close()
		return nil, err
	}
	if c.writer {
		if err := limitWAL(sc); err != nil {
			sc.Close()
			return nil, err
		}
	}
	return &steadyConn{sc}, nil
}

func (c *sqliteConnector) Driver() driver.Driver { return c.driver }

// steadyConn passes every context to the driver without its cancellation.
type steadyConn struct{ *sqlite3.SQLiteConn }

func (c *steadyConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.SQLiteConn.ExecContext(context.WithoutCancel(ctx), query, args)
}

func (c *steadyConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.SQLiteConn.QueryContext(context.WithoutCancel(ctx), query, args)
}

func (c *steadyConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.SQLiteConn.BeginTx(context.WithoutCancel(ctx), opts)
}

func (c *steadyConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.SQLiteConn.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil, err
	}
	return &steadyStmt{st.(*sqlite3.SQLiteStmt)}, nil
}

func (c *steadyConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// steadyStmt is a prepared statement of a steadyConn.
type steadyStmt struct{ *sqlite3.SQLiteStmt }

func (s *steadyStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.SQLiteStmt.ExecContext(context.WithoutCancel(ctx), args)
}

func (s *steadyStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.SQLiteStmt.QueryContext(context.WithoutCancel(ctx), args)
}

var (
	_ driver.ExecerContext      = (*steadyConn)(nil)
	_ driver.QueryerContext     = (*steadyConn)(nil)
	_ driver.ConnBeginTx        = (*steadyConn)(nil)
	_ driver.ConnPrepareContext = (*steadyConn)(nil)
	_ driver.StmtExecContext    = (*steadyStmt)(nil)
	_ driver.StmtQueryContext   = (*steadyStmt)(nil)
)
