// Package erase owns deleting a person from the gateway: the right to be
// forgotten, as opposed to removing someone from one event or resource.
//
// Erasing reaches every row that holds the person's data: their user row,
// their places at events (with visits, links, sessions, logins and speaker
// details), the invitations sent to them, their collaborations and presence
// in resources, their console sessions and sign-in links, the email queued or
// sent to them, the lines of bulk invite error reports that name them, and
// their address wherever an audit entry's detail quoted it. A shared user
// (the same person, marked shared, in several accounts) is erased in every
// one of those accounts. Preview shows all of this before anything happens;
// Erase does it in one transaction and records an audit entry per account
// that names no one: the erased user's id and the counts.
package erase

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
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
	AccountID   string     `json:"account_id"`
	AccountName string     `json:"account_name"`
	UserID      string     `json:"user_id"`
	ConsoleRole string     `json:"console_role,omitempty"`
	Events      []EventRef `json:"events"`
	Invitations int64      `json:"invitations"`
	// Resources counts resources the person collaborates on or has entered.
	Resources int64 `json:"resources"`
	Messages  int64 `json:"messages"`
}

// EventRef names an event the person is on.
type EventRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// Preview shows what Erase would reach, changing nothing.
func Preview(ctx context.Context, db *store.DB, accountID, userID string) (*Impact, error) {
	rows, err := targets(ctx, db, accountID, userID)
	if err != nil {
		return nil, err
	}
	return measure(ctx, db, rows)
}

// Erase deletes the person's data everywhere it reaches and returns what it
// reached. who is refused when it is the person (an admin erasing
// themselves), and so is leaving an account without an admin.
func Erase(ctx context.Context, db *store.DB, accountID, userID string, who audit.Actor) (*Impact, error) {
	var out *Impact
	err := db.Tx(ctx, func(tx *store.Tx) error {
		rows, err := targets(ctx, tx, accountID, userID)
		if err != nil {
			return err
		}
		if err := refuse(tx, rows, who); err != nil {
			return err
		}
		if out, err = measure(ctx, tx, rows); err != nil {
			return err
		}
		for i, u := range rows {
			if err := eraseOne(tx, &u); err != nil {
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
				"resources": a.Resources, "messages": a.Messages, "requested_in": accountID,
			}); err != nil {
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

func measure(ctx context.Context, r store.Reader, rows []user.User) (*Impact, error) {
	tx := r.Read(ctx)
	out := &Impact{Email: rows[0].Email, Shared: rows[0].Shared}
	for _, u := range rows {
		a := AccountImpact{AccountID: u.AccountID, UserID: u.ID, ConsoleRole: u.ConsoleRole, Events: []EventRef{}}
		acc, err := account.Get(ctx, r, u.AccountID)
		if err != nil && !errors.Is(err, problem.ErrNotFound) {
			return nil, err
		}
		if acc != nil {
			a.AccountName = acc.Name
		}
		err = tx.Table("attendees").Select("events.id, events.name, attendees.status").
			Joins("JOIN events ON events.id = attendees.event_id").
			Where("attendees.user_id = ?", u.ID).Order("events.name").Scan(&a.Events).Error
		if err != nil {
			return nil, err
		}
		if err := tx.Model(&invite.Invitation{}).Where("account_id = ? AND email = ?", u.AccountID, u.Email).Count(&a.Invitations).Error; err != nil {
			return nil, err
		}
		var res []string
		if err := tx.Model(&resource.Collaborator{}).Where("user_id = ?", u.ID).Pluck("resource_id", &res).Error; err != nil {
			return nil, err
		}
		var entered []string
		if err := tx.Model(&resource.Participant{}).Where("user_id = ?", u.ID).Pluck("resource_id", &entered).Error; err != nil {
			return nil, err
		}
		a.Resources = int64(len(distinct(append(res, entered...))))
		if err := tx.Table("mail_messages").Where("account_id = ? AND to_email = ?", u.AccountID, u.Email).Count(&a.Messages).Error; err != nil {
			return nil, err
		}
		out.Accounts = append(out.Accounts, a)
	}
	return out, nil
}

// eraseOne deletes one user row and everything hanging from it. Children
// go first so no row is left pointing at a deleted parent.
func eraseOne(tx *store.Tx, u *user.User) error {
	if err := event.EraseUser(tx, u.ID); err != nil {
		return err
	}
	invs := tx.Model(&invite.Invitation{}).Select("id").Where("account_id = ? AND email = ?", u.AccountID, u.Email)
	steps := []struct {
		model any
		where string
		args  []any
	}{
		{&invite.Redemption{}, "invitation_id IN (?) OR user_id = ?", []any{invs, u.ID}},
		{&invite.Invitation{}, "account_id = ? AND email = ?", []any{u.AccountID, u.Email}},
		{&resource.Collaborator{}, "user_id = ?", []any{u.ID}},
		{&resource.Participant{}, "user_id = ?", []any{u.ID}},
		{&session.Session{}, "user_id = ?", []any{u.ID}},
		{&session.LoginLink{}, "user_id = ?", []any{u.ID}},
	}
	for _, s := range steps {
		if err := tx.Where(s.where, s.args...).Delete(s.model).Error; err != nil {
			return err
		}
	}
	if err := tx.Exec("DELETE FROM mail_messages WHERE account_id = ? AND to_email = ?", u.AccountID, u.Email).Error; err != nil {
		return err
	}
	// A bulk invite's error report names the people whose rows it refused.
	jobs := tx.Model(&job.Job{}).Select("id").Where("account_id = ?", u.AccountID)
	if err := tx.Where("job_id IN (?) AND (email = ? OR message LIKE ?)", jobs, u.Email, "%"+u.Email+"%").Delete(&bulk.StoredProblem{}).Error; err != nil {
		return err
	}
	// Earlier audit entries name people by id; a few quoted an address in
	// their detail (a test message's recipient). Those quotes go too.
	if err := tx.Exec("UPDATE audit_entries SET detail = REPLACE(detail, ?, ?) WHERE account_id = ? AND detail LIKE ?",
		u.Email, "[erased]", u.AccountID, "%"+u.Email+"%").Error; err != nil {
		return err
	}
	return tx.Where("id = ?", u.ID).Delete(&user.User{}).Error
}

func distinct(ss []string) []string {
	sort.Strings(ss)
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
