// Package table declares the tables core owns, each with what it holds of a
// person: the package that owns a table lists it (its Tables function, next
// to its models) with the eraser that removes a person's data from it, or
// says why it holds none. core/schema joins the lists into the one the
// gateway migrates, and core/erase walks that same list to delete a person,
// so a table cannot be added without its owner saying how it is erased.
//
// The lists are values returned by functions, not a registry filled at
// start-up: what is declared is what the code says, whatever ran first.
package table

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"gorm.io/gorm/schema"

	"github.com/invitegate/gateway/core/store"
)

// Table is one table: its model and how a person's data leaves it.
// Exactly one of Erase and NoPersonalData is set.
type Table struct {
	// Model is what the table is migrated from (a pointer to its struct).
	Model any
	// Erase removes the person's data from the table in tx: their rows, or
	// what names them in rows that stay. It runs after the erasers of the
	// tables listed after this one, since those may be found through it (a
	// visit through the attendee it belongs to).
	Erase func(tx *store.Tx, p Person) error
	// Measure adds to r what Erase would reach, for the dry run; nil when
	// the impact shows nothing of this table. It reads through db, changing
	// nothing.
	Measure func(ctx context.Context, db store.Reader, p Person, r *Reach) error
	// NoPersonalData says why the table holds nothing of a person that
	// erasing them must take: its rows name no one; or name people only by
	// user id (a creator), which names no one once the user row is gone; or
	// hold, until it is sent, mail to other people in a sender's name.
	NoPersonalData string
}

// Person is who is erased, in one account: how the tables name them.
type Person struct {
	UserID    string
	AccountID string
	// Email is normalized (core/user.NormalizeEmail), as the tables store it.
	Email string
}

// Reach is what erasing a person reaches in one account, as the dry run
// shows it before anything is deleted. Each table's Measure fills its part.
type Reach struct {
	// Events are the events the person is on.
	Events      []EventRef `json:"events"`
	Invitations int64      `json:"invitations"`
	// Resources counts resources the person collaborates on or has entered
	// (AddResources), each once.
	Resources int64 `json:"resources"`
	Messages  int64 `json:"messages"`
	// Groups counts the directory groups that list the person.
	Groups int64 `json:"groups"`

	resources map[string]bool
}

// EventRef names an event the person is on.
type EventRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// AddResources counts resources by id: one the person both collaborates on
// and has entered counts once.
func (r *Reach) AddResources(ids ...string) {
	if r.resources == nil {
		r.resources = map[string]bool{}
	}
	for _, id := range ids {
		r.resources[id] = true
	}
	r.Resources = int64(len(r.resources))
}

// ByUser is the eraser of a table whose rows each belong to one user of
// the account (its user_id column): it deletes the person's rows of model.
func ByUser(model any) func(*store.Tx, Person) error {
	return func(tx *store.Tx, p Person) error {
		return tx.Where("user_id = ? AND account_id = ?", p.UserID, p.AccountID).Delete(model).Error
	}
}

// Models are the tables' models, as store.DB.Migrate takes them.
func Models(ts []Table) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t.Model
	}
	return out
}

// Check reports every table declared wrongly: a model without a table name,
// one declared twice, or a declaration that is not exactly one of an
// eraser and a reason why it holds no personal data.
func Check(ts []Table) error {
	var errs []error
	seen := map[string]bool{}
	for i, t := range ts {
		name, err := Name(t.Model)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %d (%T): %w", i, t.Model, err))
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("%s: declared twice", name))
		}
		seen[name] = true
		switch {
		case t.Erase == nil && t.NoPersonalData == "":
			errs = append(errs, fmt.Errorf("%s: neither an eraser nor why it holds no personal data", name))
		case t.Erase != nil && t.NoPersonalData != "":
			errs = append(errs, fmt.Errorf("%s: both an eraser and a reason it holds no personal data", name))
		case t.Erase == nil && t.Measure != nil:
			errs = append(errs, fmt.Errorf("%s: measures an erasure it does not do", name))
		}
	}
	return errors.Join(errs...)
}

// Name is the name of model's table, as gorm migrates it.
func Name(model any) (string, error) {
	// A cache of its own, so naming a table leaves no state behind.
	s, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		return "", err
	}
	return s.Table, nil
}

// Names are the tables' names, in order.
func Names(ts []Table) ([]string, error) {
	out := make([]string, len(ts))
	for i, t := range ts {
		n, err := Name(t.Model)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}
