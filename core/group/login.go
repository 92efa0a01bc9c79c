package group

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
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
func RecordLogin(tx *store.Tx, accountID, connectionID, email, name string, groups []string) error {
	email = user.FoldEmail(email)
	if email == "" {
		return fmt.Errorf("group: a login's memberships need the person's email")
	}
	source := LoginSource(connectionID)
	names := loginGroupNames(groups)
	now := tx.Now()
	keep := make([]string, 0, len(names))
	for _, n := range names {
		g := Group{ID: id.New(), AccountID: accountID, Source: source, ExternalID: n, Name: n, CreatedAt: now, UpdatedAt: now}
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "account_id"}, {Name: "source"}, {Name: "external_id"}},
			DoNothing: true,
		}).Create(&g).Error
		if err != nil {
			return err
		}
		var gid string
		if err := tx.Raw("SELECT id FROM groups WHERE account_id = ? AND source = ? AND external_id = ?", accountID, source, n).
			Scan(&gid).Error; err != nil {
			return err
		}
		keep = append(keep, gid)
	}
	key := "email:" + email
	ofSource := tx.Session(&gorm.Session{NewDB: true}).Model(&Group{}).Select("id").Where("account_id = ? AND source = ?", accountID, source)
	drop := tx.Where("member_key = ? AND group_id IN (?)", key, ofSource)
	if len(keep) > 0 {
		drop = drop.Where("group_id NOT IN ?", keep)
	}
	if err := drop.Delete(&Member{}).Error; err != nil {
		return err
	}
	for _, gid := range keep {
		m := Member{ID: id.New(), GroupID: gid, Key: key, Email: email, Name: name, CreatedAt: now, UpdatedAt: now}
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "group_id"}, {Name: "member_key"}},
			DoUpdates: clause.Assignments(map[string]any{"name": name, "updated_at": now}),
		}).Create(&m).Error
		if err != nil {
			return err
		}
	}
	return nil
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
