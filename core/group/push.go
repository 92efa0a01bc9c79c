package group

import (
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// SourcePushed is the source of the groups an identity provider pushes to
// the gateway by SCIM provisioning. Like SourceManual it holds a colon, so
// no group source plugin's name can take it: a scheduled sync never
// touches these groups, and a push never touches a sync's.
const SourcePushed = "scim:push"

// PushedMember is a person a push puts in a group: keyed by their
// provisioned id (so an address change keeps the membership), matched by
// email for access, as every member is.
type PushedMember struct {
	// ID is the provisioned person's id (core/provision).
	ID    string
	Email string
	Name  string
}

func (m PushedMember) key() string { return memberKey(m.ID, "") }

// CreatePushed makes, in tx, a group a push announced. Its external id
// is the provider's when it sent one, else the group's own id: the unique
// index on (account, source, external id) then refuses a second group
// with the provider's id (store.IsUniqueViolation).
func CreatePushed(tx *store.Tx, accountID, name, externalID string) (*Group, error) {
	now := tx.Now()
	g := &Group{ID: id.New(), AccountID: accountID, Source: SourcePushed, Name: name, ExternalID: externalID, CreatedAt: now, UpdatedAt: now}
	if g.ExternalID == "" {
		g.ExternalID = g.ID
	}
	if err := tx.Create(g).Error; err != nil {
		return nil, err
	}
	return g, nil
}

// Pushed loads, with db, a pushed group of the account: ErrNotFound for
// any other, so a push cannot reach a directory's or a manual group.
func Pushed(db *gorm.DB, accountID, groupID string) (*Group, error) {
	if !id.Valid(groupID) {
		return nil, ErrNotFound
	}
	var g Group
	err := db.Where("account_id = ? AND id = ? AND source = ?", accountID, groupID, SourcePushed).Take(&g).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// RenamePushed gives a pushed group the name and external id a push sent
// (an empty external id keeps the group's own id).
func RenamePushed(tx *store.Tx, g *Group, name, externalID string) error {
	if externalID == "" {
		externalID = g.ID
	}
	g.Name, g.ExternalID, g.UpdatedAt = name, externalID, tx.Now()
	return tx.Model(&Group{}).Where("id = ?", g.ID).
		Updates(map[string]any{"name": name, "external_id": externalID, "updated_at": g.UpdatedAt}).Error
}

// AddPushed puts people in a pushed group; those already in it keep their
// row, with the email and name given. The group's updated_at moves, as the
// Event access tab's Last update shows it.
func AddPushed(tx *store.Tx, groupID string, ms []PushedMember) error {
	if len(ms) == 0 {
		return nil
	}
	now := tx.Now()
	for _, m := range ms {
		row := Member{ID: id.New(), GroupID: groupID, Key: m.key(), ExternalID: m.ID, Email: user.FoldEmail(m.Email), Name: m.Name, CreatedAt: now, UpdatedAt: now}
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "group_id"}, {Name: "member_key"}},
			DoUpdates: clause.Assignments(map[string]any{"email": row.Email, "name": row.Name, "updated_at": now}),
		}).Create(&row).Error
		if err != nil {
			return err
		}
	}
	return touch(tx, groupID)
}

// RemovePushed takes people (by provisioned id) off a pushed group: their
// access through it ends at their next request.
func RemovePushed(tx *store.Tx, groupID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, len(ids))
	for i, pid := range ids {
		keys[i] = memberKey(pid, "")
	}
	if err := tx.Where("group_id = ? AND member_key IN ?", groupID, keys).Delete(&Member{}).Error; err != nil {
		return err
	}
	return touch(tx, groupID)
}

// pushedOf narrows q to the account's pushed groups.
func pushedOf(tx *store.Tx, accountID string) *gorm.DB {
	return tx.Session(&gorm.Session{NewDB: true}).Model(&Group{}).Select("id").Where("account_id = ? AND source = ?", accountID, SourcePushed)
}

// LeavePushed takes a person (by provisioned id) off every pushed group of
// the account, as deactivating or deleting them does.
func LeavePushed(tx *store.Tx, accountID, personID string) error {
	return tx.Where("member_key = ? AND group_id IN (?)", memberKey(personID, ""), pushedOf(tx, accountID)).Delete(&Member{}).Error
}

// RenamePushedMember keeps a person's rows in the pushed groups in step
// with their name.
func RenamePushedMember(tx *store.Tx, accountID string, m PushedMember) error {
	return tx.Model(&Member{}).Where("member_key = ? AND group_id IN (?)", m.key(), pushedOf(tx, accountID)).
		Updates(map[string]any{"email": user.FoldEmail(m.Email), "name": m.Name, "updated_at": tx.Now()}).Error
}

// DeletePushed removes a pushed group and its members, as a sync removes
// a group its source no longer lists. Grants of it stay behind harmlessly
// (see event.Grant).
func DeletePushed(tx *store.Tx, groupID string) error {
	if err := tx.Where("group_id = ?", groupID).Delete(&Member{}).Error; err != nil {
		return err
	}
	return tx.Where("id = ? AND source = ?", groupID, SourcePushed).Delete(&Group{}).Error
}

func touch(tx *store.Tx, groupID string) error {
	return tx.Model(&Group{}).Where("id = ?", groupID).Update("updated_at", tx.Now()).Error
}
