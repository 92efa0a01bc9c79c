// Package storetest gives tests a fresh, migrated database on each dialect
// the gateway supports, so one conformance test covers SQLite and PostgreSQL.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/invitegate/gateway/core/store"
)

// PostgresEnv names the variable holding an administrative PostgreSQL DSN;
// `make test` starts a throwaway cluster and sets it.
const PostgresEnv = "GATEWAY_TEST_POSTGRES"

// Each runs fn once per dialect, each time on a new empty database migrated
// with models.
func Each(t *testing.T, models []any, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			fn(t, Open(t, d, models...))
		})
	}
}

// Open returns a new database of the dialect, closed and dropped when the test
// ends. PostgreSQL needs GATEWAY_TEST_POSTGRES: without it the test fails in
// CI and is skipped elsewhere with a note saying how to run it.
func Open(t testing.TB, dialect string, models ...any) *store.DB {
	t.Helper()
	dsn := DSN(t, dialect)
	db, err := store.Open(context.Background(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(models...); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return db
}

// DSN creates an empty database of the dialect and returns its DSN.
func DSN(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == store.SQLite {
		return filepath.Join(t.TempDir(), "gateway.db")
	}
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: PostgreSQL tests cannot run (make test starts a cluster and sets it)", PostgresEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s to an admin DSN, or run `make test`, which starts a cluster", PostgresEnv)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	adminDB, err := store.Open(context.Background(), store.Config{DSN: admin, MaxOpenConns: 2})
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	if err := adminDB.W.Exec("CREATE DATABASE " + name).Error; err != nil {
		adminDB.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		adminDB.W.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		adminDB.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
