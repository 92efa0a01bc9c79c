package group

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Why a sync was held.
const (
	HeldShare = "share" // it would remove more than the source's allowed share
	HeldEmpty = "empty" // the directory sent no member, though the source had some
)

// HeldSync is a sync of a source whose removals were not applied: the
// mass-removal guard stopped them until an admin confirms or discards
// them. A source has at most one: a newer sync replaces it, since the
// directory's newer answer is the truth to judge.
type HeldSync struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;uniqueIndex:idx_group_held_source,priority:1" json:"account_id"`
	Source    string `gorm:"size:100;not null;uniqueIndex:idx_group_held_source,priority:2" json:"source"`
	// RunID is the run record (plugin_runs) of the sync, when the scheduler
	// ran it.
	RunID  string `gorm:"size:36" json:"run_id,omitempty"`
	Reason string `gorm:"size:16;not null" json:"reason"`
	// MaxRemovalShare is the share (0-1) in force when it was held.
	MaxRemovalShare float64 `json:"max_removal_share"`
	// MembersBefore is how many members the source's groups had.
	MembersBefore int `json:"members_before"`
	// MembersRemove and GroupsRemove are what confirming removes (at most:
	// rows gone since are skipped).
	MembersRemove int `json:"members_remove"`
	GroupsRemove  int `json:"groups_remove"`
	// MembersAdded and GroupsAdded are what the same sync added: additions
	// take nothing away, so they were applied at once.
	MembersAdded int       `json:"members_added"`
	GroupsAdded  int       `json:"groups_added"`
	CreatedAt    time.Time `json:"created_at"`
}

// TableName keeps the table name plain.
func (HeldSync) TableName() string { return "group_held_syncs" }

// HeldMember is a member a held sync would remove. It names the member row
// only: the person's details stay in group_members.
type HeldMember struct {
	HeldID   string `gorm:"primaryKey;size:36"`
	MemberID string `gorm:"primaryKey;size:36"`
}

// TableName keeps the table name plain.
func (HeldMember) TableName() string { return "group_held_members" }

// HeldGroup is a group a held sync would remove.
type HeldGroup struct {
	HeldID  string `gorm:"primaryKey;size:36"`
	GroupID string `gorm:"primaryKey;size:36"`
}

// TableName keeps the table name plain.
func (HeldGroup) TableName() string { return "group_held_groups" }

// ErrNoHeldSync is returned for a source without a held sync, or when the
// held sync named is no longer the source's (a newer sync replaced it, or
// someone confirmed or discarded it first).
var ErrNoHeldSync = problem.New(problem.NotFound, "no_held_sync", "this group source has no held sync (a newer sync may have replaced it, or it was confirmed or discarded)")

var heldMemberRows = store.Rows{Table: "group_held_members", Columns: []string{"held_id", "member_id"}, Shared: []string{"held_id"}, PerStatement: 1000}

var heldGroupRows = store.Rows{Table: "group_held_groups", Columns: []string{"held_id", "group_id"}, Shared: []string{"held_id"}, PerStatement: 1000}

// hold records h with the members and groups it would remove in tx, in
// place of the source's previous held sync.
func hold(tx *store.Tx, h *HeldSync, members, groups []string) error {
	if err := dropHeld(tx, h.AccountID, h.Source); err != nil {
		return err
	}
	if err := tx.Create(h).Error; err != nil {
		return err
	}
	if _, err := tx.Insert(&heldMemberRows, len(members), func(args []any, i int) []any { return append(args, h.ID, members[i]) }); err != nil {
		return err
	}
	_, err := tx.Insert(&heldGroupRows, len(groups), func(args []any, i int) []any { return append(args, h.ID, groups[i]) })
	return err
}

// dropHeld deletes the source's held sync, if any, and its rows.
func dropHeld(tx *store.Tx, accountID, source string) error {
	ids := tx.Session(&gorm.Session{NewDB: true}).Model(&HeldSync{}).Select("id").Where("account_id = ? AND source = ?", accountID, source)
	if err := tx.Where("held_id IN (?)", ids).Delete(&HeldMember{}).Error; err != nil {
		return err
	}
	if err := tx.Where("held_id IN (?)", ids).Delete(&HeldGroup{}).Error; err != nil {
		return err
	}
	return tx.Where("account_id = ? AND source = ?", accountID, source).Delete(&HeldSync{}).Error
}

// Held returns the source's held sync, or nil when it has none.
func Held(ctx context.Context, db *gorm.DB, accountID, source string) (*HeldSync, error) {
	var h HeldSync
	err := db.WithContext(ctx).Where("account_id = ? AND source = ?", accountID, source).Limit(1).Find(&h).Error
	if err != nil || h.ID == "" {
		return nil, err
	}
	return &h, nil
}

// HeldRemoval is a member a held sync would remove, as an admin reviews it.
type HeldRemoval struct {
	MemberID   string `json:"member_id"`
	GroupID    string `json:"group_id"`
	GroupName  string `json:"group_name"`
	ExternalID string `json:"external_id,omitempty"`
	Email      string `json:"email"`
	Name       string `json:"name"`
}

// HeldRemovals returns a page of the members the held sync would remove,
// by group name and email, and how many there are still (rows gone since
// are left out); page counts from 1.
func HeldRemovals(ctx context.Context, db *gorm.DB, heldID string, page, perPage int) ([]HeldRemoval, int64, error) {
	q := db.WithContext(ctx).Table("group_held_members h").
		Joins("JOIN group_members m ON m.id = h.member_id").
		Joins("JOIN groups g ON g.id = m.group_id").
		Where("h.held_id = ?", heldID)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	out := []HeldRemoval{}
	err := q.Select("m.id AS member_id, g.id AS group_id, g.name AS group_name, m.external_id, m.email, m.name").
		Order("g.name, m.email, m.id").Offset((page - 1) * perPage).Limit(perPage).Scan(&out).Error
	return out, total, err
}

// HeldGroups returns the groups the held sync would remove, by name.
func HeldGroups(ctx context.Context, db *gorm.DB, heldID string) ([]Group, error) {
	out := []Group{}
	err := db.WithContext(ctx).Model(&Group{}).
		Where("id IN (?)", db.Model(&HeldGroup{}).Select("group_id").Where("held_id = ?", heldID)).
		Order("name, id").Find(&out).Error
	return out, err
}

// Confirm applies the source's held sync: it removes the members and
// groups the sync found gone that are still there, exactly those, and
// records who confirmed. It applies what the admin reviewed rather than
// listing the directory again, whose new answer could differ from it in
// either direction. heldID, when set, must be the held sync's id, so a
// confirmation never applies a newer held sync its author did not see.
// Taking the held row is one conditional DELETE: of two admins confirming
// at once, one applies it and the other gets ErrNoHeldSync.
func Confirm(ctx context.Context, sdb *store.DB, accountID, source, heldID string, who audit.Actor) (Result, error) {
	var res Result
	err := sdb.Tx(ctx, func(tx *store.Tx) error {
		h, err := takeHeld(tx, accountID, source, heldID)
		if err != nil {
			return err
		}
		members := tx.Session(&gorm.Session{NewDB: true}).Model(&HeldMember{}).Select("member_id").Where("held_id = ?", h.ID)
		groups := tx.Session(&gorm.Session{NewDB: true}).Model(&HeldGroup{}).Select("group_id").Where("held_id = ?", h.ID)
		ofSource := tx.Session(&gorm.Session{NewDB: true}).Model(&Group{}).Select("id").Where("account_id = ? AND source = ?", accountID, source)
		r := tx.Where("(id IN (?) OR group_id IN (?)) AND group_id IN (?)", members, groups, ofSource).Delete(&Member{})
		if r.Error != nil {
			return r.Error
		}
		res.MembersRemoved = int(r.RowsAffected)
		r = tx.Where("id IN (?) AND account_id = ? AND source = ?", groups, accountID, source).Delete(&Group{})
		if r.Error != nil {
			return r.Error
		}
		res.GroupsRemoved, res.Complete = int(r.RowsAffected), true
		if err := tx.Where("held_id = ?", h.ID).Delete(&HeldMember{}).Error; err != nil {
			return err
		}
		if err := tx.Where("held_id = ?", h.ID).Delete(&HeldGroup{}).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "group.held_sync_confirmed", "group_source", source,
			map[string]any{"held_id": h.ID, "members_removed": res.MembersRemoved, "groups_removed": res.GroupsRemoved})
	})
	return res, err
}

// Discard drops the source's held sync: nothing is removed, and the next
// sync judges the directory's answer afresh.
func Discard(ctx context.Context, sdb *store.DB, accountID, source, heldID string, who audit.Actor) error {
	return sdb.Tx(ctx, func(tx *store.Tx) error {
		h, err := takeHeld(tx, accountID, source, heldID)
		if err != nil {
			return err
		}
		if err := tx.Where("held_id = ?", h.ID).Delete(&HeldMember{}).Error; err != nil {
			return err
		}
		if err := tx.Where("held_id = ?", h.ID).Delete(&HeldGroup{}).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "group.held_sync_discarded", "group_source", source,
			map[string]any{"held_id": h.ID, "members_kept": h.MembersRemove, "groups_kept": h.GroupsRemove})
	})
}

// takeHeld deletes the source's held sync row (heldID's, when set) and
// returns it; the row count decides who took it.
func takeHeld(tx *store.Tx, accountID, source, heldID string) (*HeldSync, error) {
	var h HeldSync
	q := tx.Where("account_id = ? AND source = ?", accountID, source)
	if heldID != "" {
		q = q.Where("id = ?", heldID)
	}
	if err := q.Limit(1).Find(&h).Error; err != nil {
		return nil, err
	}
	if h.ID == "" {
		return nil, ErrNoHeldSync
	}
	r := tx.Where("id = ?", h.ID).Delete(&HeldSync{})
	if r.Error != nil {
		return nil, r.Error
	}
	if r.RowsAffected != 1 {
		return nil, ErrNoHeldSync
	}
	return &h, nil
}
