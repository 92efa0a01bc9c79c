package group

import (
	"fmt"
	"strings"

	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// LoginSource is the source of the groups an SSO connection's logins
// assert: "sso:<connection id>". Memberships of that source are the
// identity provider's word at the person's last login; those of every
// other source (a directory sync) are never touched by a login.
func LoginSource(connectionID string) string { return "sso:" + connectionID }

// Limits of what one login may assert.
const (
	maxLoginGroups    = 500
	maxLoginGroupName = 255
)

// RecordLogin records, with tx, the groups an identity provider asserted
// at a person's login through a connection: each group of the
// connection's source is made once (named by what the provider sent), and
// the person's memberships in that source's groups become exactly the
// asserted ones. The person is the member keyed by their email, as
// directory members without an id are, so closed-event grants and erasure
// find them the same way.
//
// Most logins assert what the last one did: one read finds the person's
// memberships of the source, and only a difference is written (in a
// statement per kind of change, whatever the number of groups).
func RecordLogin(tx *store.Tx, accountID, connectionID, email, name string, groups []string) error {
	email = user.FoldEmail(email)
	if email == "" {
		return fmt.Errorf("group: a login's memberships need the person's email")
	}
	source := LoginSource(connectionID)
	key := "email:" + email
	var held []struct{ ID, ExternalID, Name string }
	// m.email (indexed) narrows to the person's rows before member_key,
	// the second column of its index, is compared.
	err := tx.Raw("SELECT m.id, g.external_id, m.name FROM group_members m JOIN groups g ON g.id = m.group_id "+
		"WHERE m.email = ? AND m.member_key = ? AND g.account_id = ? AND g.source = ?", email, key, accountID, source).Scan(&held).Error
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range loginGroupNames(groups) {
		want[n] = true
	}
	var drop, rename []string
	for _, h := range held {
		switch {
		case !want[h.ExternalID]:
			drop = append(drop, h.ID)
		case h.Name != name:
			rename = append(rename, h.ID)
		}
		delete(want, h.ExternalID)
	}
	now := tx.Now()
	if len(drop) > 0 {
		if err := tx.Where("id IN ?", drop).Delete(&Member{}).Error; err != nil {
			return err
		}
	}
	if len(rename) > 0 {
		if err := tx.Model(&Member{}).Where("id IN ?", rename).Updates(map[string]any{"name": name, "updated_at": now}).Error; err != nil {
			return err
		}
	}
	if len(want) == 0 {
		return nil
	}
	gids, err := loginGroups(tx, accountID, source, want)
	if err != nil {
		return err
	}
	add := make([]Member, 0, len(gids))
	for _, gid := range gids {
		add = append(add, Member{ID: id.New(), GroupID: gid, Key: key, Email: email, Name: name, CreatedAt: now, UpdatedAt: now})
	}
	return tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "group_id"}, {Name: "member_key"}},
		DoUpdates: clause.Assignments(map[string]any{"name": name, "updated_at": now}),
	}).Create(&add).Error
}

// loginGroups are the ids of the source's groups with these names, each
// made when it is new. The insert does nothing for a group that exists
// (or that a login at the same time is making: on PostgreSQL the read
// that follows waits for it).
func loginGroups(tx *store.Tx, accountID, source string, names map[string]bool) ([]string, error) {
	now := tx.Now()
	rows := make([]Group, 0, len(names))
	list := make([]string, 0, len(names))
	for n := range names {
		rows = append(rows, Group{ID: id.New(), AccountID: accountID, Source: source, ExternalID: n, Name: n, CreatedAt: now, UpdatedAt: now})
		list = append(list, n)
	}
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "account_id"}, {Name: "source"}, {Name: "external_id"}},
		DoNothing: true,
	}).Create(&rows).Error
	if err != nil {
		return nil, err
	}
	var ids []string
	err = tx.Raw("SELECT id FROM groups WHERE account_id = ? AND source = ? AND external_id IN ?", accountID, source, list).Scan(&ids).Error
	if err == nil && len(ids) != len(list) {
		err = fmt.Errorf("group: %d of %d login groups of %s were neither made nor found", len(list)-len(ids), len(list), source)
	}
	return ids, err
}

// loginGroupNames are the asserted names trimmed, each once, the empty
// and the too long left out, at most maxLoginGroups.
func loginGroupNames(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range in {
		n = strings.TrimSpace(n)
		if n == "" || len(n) > maxLoginGroupName || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
		if len(out) == maxLoginGroups {
			break
		}
	}
	return out
}
