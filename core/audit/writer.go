package audit

import (
	"context"

	"github.com/invitegate/gateway/core/store"
)

// Writer records entries on the hot paths (a redemption): on SQLite each
// entry is written with the rest of its write group's, by one statement
// before the group's COMMIT (store.Inserts), instead of one statement per
// entry on the single writer.
type Writer struct {
	rows *store.Inserts
}

// NewWriter prepares a Writer on db, outside any transaction.
func NewWriter(ctx context.Context, db *store.DB) (*Writer, error) {
	// The columns are RecordMany's, in the order Add gives them.
	ins, err := db.NewInserts(ctx, entryRows.Table, entryRows.Columns...)
	if err != nil {
		return nil, err
	}
	return &Writer{rows: ins}, nil
}

// Add records e in tx; its id, time and detail are the caller's (made
// before the transaction).
func (w *Writer) Add(tx *store.Tx, e *Entry) error { return tx.AddRow(w.Row(e)) }

// Row is e's row, for a write that adds its rows in one go (store.Gated).
func (w *Writer) Row(e *Entry) store.Row {
	return w.rows.Row(e.ID, e.AccountID, e.At, e.ActorKind, e.ActorID, e.Action, e.TargetKind, e.TargetID, e.Detail)
}

// Inserts is the table Row's rows go to, for store.NewGated.
func (w *Writer) Inserts() *store.Inserts { return w.rows }
