// Package audit records every change a person, an API key or a plugin makes,
// in the same transaction as the change, so the log never claims what did
// not happen nor misses what did.
package audit

import (
	"context"
	"encoding/json"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
)

// Actor kinds.
const (
	ActorUser    = "user"
	ActorAPIKey  = "api_key"
	ActorInvitee = "invitee"
	ActorSystem  = "system"
	ActorPlugin  = "plugin"
)

// Actor is who did something.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// System is the gateway acting on its own (bootstrap, scheduled jobs).
var System = Actor{Kind: ActorSystem, ID: "gateway"}

// Entry is one change.
type Entry struct {
	ID         string    `gorm:"primaryKey;size:36" json:"id"`
	AccountID  string    `gorm:"size:36;index:idx_audit_account_at,priority:1" json:"account_id"`
	At         time.Time `gorm:"index:idx_audit_account_at,priority:2" json:"at"`
	ActorKind  string    `gorm:"size:16" json:"actor_kind"`
	ActorID    string    `gorm:"size:64" json:"actor_id"`
	Action     string    `gorm:"size:64" json:"action"`
	TargetKind string    `gorm:"size:32" json:"target_kind"`
	TargetID   string    `gorm:"size:64" json:"target_id"`
	// Detail is a small JSON object; it never holds a token.
	Detail string `json:"detail"`
}

// TableName keeps the table name plain.
func (Entry) TableName() string { return "audit_entries" }

// Record writes one entry using tx, the transaction making the change, at
// the transaction's time.
func Record(tx *store.Tx, accountID string, who Actor, action, targetKind, targetID string, detail map[string]any) error {
	d := ""
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		d = string(b)
	}
	return tx.Create(&Entry{
		ID: id.New(), AccountID: accountID, At: tx.Now(),
		ActorKind: who.Kind, ActorID: who.ID, Action: action,
		TargetKind: targetKind, TargetID: targetID, Detail: d,
	}).Error
}

// entryRows are the rows RecordMany writes; an import's entries share
// their account, time and actor, and name attendees.
var entryRows = store.Rows{Table: "audit_entries",
	Columns: []string{"id", "account_id", "at", "actor_kind", "actor_id", "action", "target_kind", "target_id", "detail"},
	Shared:  []string{"account_id", "at", "actor_kind", "actor_id", "target_kind"}}

// RecordMany writes entries as they are (ids, times and details made by
// the caller, ahead of the transaction) using tx, for a batch of changes
// such as a bulk import's, in a few multi-row statements (store.Insert).
func RecordMany(tx *store.Tx, entries []Entry) error {
	_, err := tx.Insert(&entryRows, len(entries), func(args []any, i int) []any {
		e := &entries[i]
		return append(args, e.ID, e.AccountID, e.At, e.ActorKind, e.ActorID, e.Action, e.TargetKind, e.TargetID, e.Detail)
	})
	return err
}

// BatchStatements are the statements of RecordMany, for a store.Run of
// batches to prepare once.
func BatchStatements() []store.Statement { return []store.Statement{&entryRows} }

// List returns the newest entries of an account.
func List(ctx context.Context, db *store.DB, accountID string, limit int) ([]Entry, error) {
	var out []Entry
	err := db.R.WithContext(ctx).Where("account_id = ?", accountID).Order("at DESC").Limit(limit).Find(&out).Error
	return out, err
}
