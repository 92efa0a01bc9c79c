// Package erase owns deleting a person from the gateway: the right to be
// forgotten, as opposed to removing someone from one event or resource.
//
// Erasing reaches every table that holds the person's data: each table is
// declared by the package that owns it with its eraser, or with why it
// holds none (core/table), and Erase walks core/schema's list of them, the
// same list the gateway migrates, from its end, so rows found through the
// person's rows go before them and the user row goes last. A table cannot
// be added to the schema without saying how it is erased.
//
// Today that is their user row, their places at events (with visits, links,
// logins, chat messages and speaker image), the invitations sent to them,
// their collaborations and presence in resources, their sessions (console,
// event site and resource) and console sign-in links, their identities at
// identity providers, the email queued or sent to them, their memberships
// in directory groups, the lines of bulk invite error reports that name
// them and the staged files of bulk invites that name them (those imports
// stop), and their address wherever an audit entry's detail quoted it. A
// shared user (the same person, marked shared, in several accounts) is
// erased in every one of those accounts. Preview shows the reach before
// anything happens (each table's Measure); Erase does it in one transaction
// and records an audit entry per account that names no one: the erased
// user's id and the counts.
package erase

import (
	"context"
	"errors"
	"fmt"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/core/webhook"
)

// Refusals.
var (
	ErrSelf      = problem.New(problem.Conflict, "erase_self", "you cannot delete yourself; ask another admin")
	ErrLastAdmin = problem.New(problem.Conflict, "last_admin", "this person is the only admin of an account they belong to; make someone else admin first")
)

// Impact is what erasing a person reaches, per account.
type Impact struct {
	// Email is the address being erased, shown to the admin who asked
	// (never written to the audit log).
	Email  string `json:"email"`
	Shared bool   `json:"shared"`
	// Accounts lists every account the person is erased from; more than one
	// only for a shared user.
	Accounts []AccountImpact `json:"accounts"`
}

// AccountImpact is the reach of an erasure in one account.
type AccountImpact struct {
	AccountID   string `json:"account_id"`
	AccountName string `json:"account_name"`
	UserID      string `json:"user_id"`
	ConsoleRole string `json:"console_role,omitempty"`
	table.Reach
}

// Preview shows what Erase would reach, changing nothing.
func Preview(ctx context.Context, db *store.DB, accountID, userID string) (*Impact, error) {
	rows, err := targets(ctx, db, accountID, userID)
	if err != nil {
		return nil, err
	}
	return measure(ctx, db, schema.Tables(), rows)
}

// Erase deletes the person's data everywhere it reaches and returns what it
// reached. who is refused when it is the person (an admin erasing
// themselves), and so is leaving an account without an admin.
func Erase(ctx context.Context, db *store.DB, accountID, userID string, who audit.Actor) (*Impact, error) {
	var out *Impact
	tables := schema.Tables()
	err := db.Tx(ctx, func(tx *store.Tx) error {
		rows, err := targets(ctx, tx, accountID, userID)
		if err != nil {
			return err
		}
		if err := refuse(tx, rows, who); err != nil {
			return err
		}
		if out, err = measure(ctx, tx, tables, rows); err != nil {
			return err
		}
		for i, u := range rows {
			if err := eraseOne(tx, tables, personOf(&u)); err != nil {
				return fmt.Errorf("erasing user %s: %w", u.ID, err)
			}
			a := out.Accounts[i]
			actor := who
			if u.AccountID != accountID {
				// Another account learns that a shared identity was erased
				// from elsewhere, not by whom.
				actor = audit.Actor{Kind: audit.ActorSystem, ID: "shared-user-erasure"}
			}
			if err := audit.Record(tx, u.AccountID, actor, "user.erased", "user", u.ID, map[string]any{
				"shared": u.Shared, "events": len(a.Events), "invitations": a.Invitations,
				"resources": a.Resources, "messages": a.Messages, "groups": a.Groups, "requested_in": accountID,
			}); err != nil {
				return err
			}
			if err := webhook.Emit(tx, u.AccountID, webhook.UserErased, "user:"+u.ID, webhook.Payload{"erased_user_id": u.ID, "shared": u.Shared}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// targets is the user row asked for and, for a shared user, the shared rows
// with the same email in other accounts; the asked account comes first.
func targets(ctx context.Context, r store.Reader, accountID, userID string) ([]user.User, error) {
	u, err := user.Get(ctx, r, accountID, userID)
	if err != nil {
		return nil, err
	}
	rows := []user.User{*u}
	if !u.Shared {
		return rows, nil
	}
	var others []user.User
	if err := r.Read(ctx).Where("email = ? AND shared AND account_id <> ?", u.Email, accountID).Order("account_id").Find(&others).Error; err != nil {
		return nil, err
	}
	return append(rows, others...), nil
}

func refuse(tx *store.Tx, rows []user.User, who audit.Actor) error {
	for _, u := range rows {
		if who.Kind == audit.ActorUser && who.ID == u.ID {
			return ErrSelf
		}
		if u.ConsoleRole != user.RoleAdmin {
			continue
		}
		var admins int64
		if err := tx.Model(&user.User{}).Where("account_id = ? AND console_role = ? AND id <> ?", u.AccountID, user.RoleAdmin, u.ID).Count(&admins).Error; err != nil {
			return err
		}
		if admins == 0 {
			return ErrLastAdmin
		}
	}
	return nil
}

// personOf is how the tables name u.
func personOf(u *user.User) table.Person {
	return table.Person{UserID: u.ID, AccountID: u.AccountID, Email: u.Email}
}

// measure is what erasing rows would reach: each table's Measure, per
// account.
func measure(ctx context.Context, r store.Reader, tables []table.Table, rows []user.User) (*Impact, error) {
	out := &Impact{Email: rows[0].Email, Shared: rows[0].Shared}
	for _, u := range rows {
		a := AccountImpact{AccountID: u.AccountID, UserID: u.ID, ConsoleRole: u.ConsoleRole, Reach: table.Reach{Events: []table.EventRef{}}}
		acc, err := account.Get(ctx, r, u.AccountID)
		if err != nil && !errors.Is(err, problem.ErrNotFound) {
			return nil, err
		}
		if acc != nil {
			a.AccountName = acc.Name
		}
		for _, t := range tables {
			if t.Measure == nil {
				continue
			}
			if err := t.Measure(ctx, r, personOf(&u), &a.Reach); err != nil {
				return nil, fmt.Errorf("measuring %T: %w", t.Model, err)
			}
		}
		out.Accounts = append(out.Accounts, a)
	}
	return out, nil
}

// eraseOne erases the person from every table, from the end of the list:
// children go before the rows they are found through, so no row is left
// pointing at a deleted parent and the user row goes last.
func eraseOne(tx *store.Tx, tables []table.Table, p table.Person) error {
	for i := len(tables) - 1; i >= 0; i-- {
		t := tables[i]
		if t.Erase == nil {
			continue
		}
		if err := t.Erase(tx, p); err != nil {
			return fmt.Errorf("%T: %w", t.Model, err)
		}
	}
	return nil
}
