// Package id makes row identifiers: UUIDv7, so they sort by creation time
// (index-friendly) yet reveal nothing guessable about other rows.
package id

import "github.com/google/uuid"

// New returns a fresh identifier.
func New() string { return uuid.Must(uuid.NewV7()).String() }

// Valid reports whether s looks like an identifier, so handlers can answer
// 404 for garbage without a query.
func Valid(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
