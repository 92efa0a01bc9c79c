package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Membership is a provisioned person the provider put in one of its
// groups, active or not: the provider's word, which it reads back. The
// memberships access reads are core/group's rows, one per active member.
type Membership struct {
	GroupID   string    `gorm:"primaryKey;size:36" json:"group_id"`
	PersonID  string    `gorm:"primaryKey;size:36;index" json:"person_id"`
	AccountID string    `gorm:"size:36;not null" json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName names the table.
func (Membership) TableName() string { return "scim_group_members" }

// GroupView is a pushed group with its members.
type GroupView struct {
	group.Group
	// Members are the provisioned people in it (nil when not asked for).
	Members []MemberView `json:"members"`
}

// MemberView is a member as the provider reads it back.
type MemberView struct {
	ID       string `json:"id"`
	UserName string `json:"user_name"`
}

// GroupInput is a group as a push describes it; Members are provisioned
// ids.
type GroupInput struct {
	DisplayName, ExternalID string
	Members                 []string
}

func (in *GroupInput) normalize() error {
	var fs problem.Fields
	in.DisplayName, in.ExternalID = strings.TrimSpace(in.DisplayName), strings.TrimSpace(in.ExternalID)
	if in.DisplayName == "" {
		fs.Add("displayName", "displayName is required")
	}
	checkText(&fs, "displayName", in.DisplayName)
	checkText(&fs, "externalId", in.ExternalID)
	return fs.Err()
}

// members of a group, the provider's view, by userName.
func members(db *gorm.DB, groupID string) ([]MemberView, error) {
	out := []MemberView{}
	err := db.Table("scim_group_members AS m").Select("s.id, s.user_name").
		Joins("JOIN scim_users s ON s.id = m.person_id").
		Where("m.group_id = ?", groupID).Order("s.user_name_key, s.id").Scan(&out).Error
	return out, err
}

func getGroup(db *gorm.DB, accountID, groupID string, withMembers bool) (*GroupView, error) {
	g, err := group.Pushed(db, accountID, groupID)
	if errors.Is(err, group.ErrNotFound) {
		return nil, ErrGroupNotFound
	}
	if err != nil {
		return nil, err
	}
	v := &GroupView{Group: *g}
	if withMembers {
		v.Members, err = members(db, g.ID)
	}
	return v, err
}

// GetGroup returns a pushed group of the caller's account with its
// members.
func (s *Service) GetGroup(ctx context.Context, c Caller, groupID string) (*GroupView, error) {
	return getGroup(s.DB.R.WithContext(ctx), c.AccountID, groupID, true)
}

// GroupQuery narrows the list: DisplayName (exactly) and ExternalID when
// set; Offset and Limit page it; Members loads each group's members.
type GroupQuery struct {
	DisplayName, ExternalID string
	Offset, Limit           int
	Members                 bool
}

// Groups lists the account's pushed groups by creation, a page of them,
// and how many match in all.
func (s *Service) Groups(ctx context.Context, c Caller, q GroupQuery) ([]GroupView, int64, error) {
	db := s.DB.R.WithContext(ctx)
	l := func() *gorm.DB {
		l := db.Model(&group.Group{}).Where("account_id = ? AND source = ?", c.AccountID, group.SourcePushed)
		if q.DisplayName != "" {
			l = l.Where("name = ?", q.DisplayName)
		}
		if q.ExternalID != "" {
			l = l.Where("external_id = ?", q.ExternalID)
		}
		return l
	}
	var total int64
	if err := l().Count(&total).Error; err != nil {
		return nil, 0, err
	}
	out := []GroupView{}
	if q.Limit <= 0 {
		return out, total, nil
	}
	var gs []group.Group
	if err := l().Order("created_at, id").Offset(q.Offset).Limit(q.Limit).Find(&gs).Error; err != nil {
		return nil, 0, err
	}
	for _, g := range gs {
		v := GroupView{Group: g}
		if q.Members {
			ms, err := members(db, g.ID)
			if err != nil {
				return nil, 0, err
			}
			v.Members = ms
		}
		out = append(out, v)
	}
	return out, total, nil
}

// CreateGroup makes a pushed group with its first members.
func (s *Service) CreateGroup(ctx context.Context, c Caller, in GroupInput) (*GroupView, error) {
	if err := in.normalize(); err != nil {
		return nil, err
	}
	var out *GroupView
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := externalIDFree(tx, c.AccountID, in.ExternalID, ""); err != nil {
			return err
		}
		g, err := group.CreatePushed(tx, c.AccountID, in.DisplayName, in.ExternalID)
		if store.IsUniqueViolation(err) {
			return ErrGroupExternalIDTaken
		}
		if err != nil {
			return err
		}
		added, err := addMembers(tx, c.AccountID, g.ID, in.Members)
		if err != nil {
			return err
		}
		if err := audit.Record(tx, c.AccountID, c.actor(), "scim.group_created", "group", g.ID,
			map[string]any{"name": g.Name, "source": group.SourcePushed, "members_added": added}); err != nil {
			return err
		}
		out, err = getGroup(tx.DB, c.AccountID, g.ID, true)
		return err
	})
	return out, err
}

// externalIDFree refuses an externalId another pushed group of the
// account has (but except, the one being changed).
func externalIDFree(tx *store.Tx, accountID, externalID, except string) error {
	if externalID == "" {
		return nil
	}
	var n int64
	q := tx.Model(&group.Group{}).Where("account_id = ? AND source = ? AND external_id = ?", accountID, group.SourcePushed, externalID)
	if except != "" {
		q = q.Where("id <> ?", except)
	}
	if err := q.Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return ErrGroupExternalIDTaken
	}
	return nil
}

// GroupChange is one step of a PATCH of a group, applied in order.
type GroupChange struct {
	Op GroupOp
	// Value is the new name or external id.
	Value string
	// Members are provisioned ids to add or remove, or the whole new list
	// (ReplaceMembers).
	Members []string
}

// GroupOp is what a GroupChange does.
type GroupOp int

// The changes a PATCH of a group can make.
const (
	Rename GroupOp = iota + 1
	SetExternalID
	AddMembers
	RemoveMembers
	RemoveAllMembers
	ReplaceMembers
)

// ChangeGroup applies changes to a pushed group, in order, all or none,
// and returns the group without its members (a large group has many).
// Adding a member who is in it, or removing one who is not, changes
// nothing; adding an id that is no provisioned person of the account is
// refused, naming members.
func (s *Service) ChangeGroup(ctx context.Context, c Caller, groupID string, changes []GroupChange) (*GroupView, error) {
	var out *GroupView
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		v, err := getGroup(tx.DB, c.AccountID, groupID, false)
		if err != nil {
			return err
		}
		g := &v.Group
		added, removed := 0, 0
		for _, ch := range changes {
			var n int
			switch ch.Op {
			case Rename, SetExternalID:
				in := GroupInput{DisplayName: g.Name, ExternalID: g.ExternalID}
				if in.ExternalID == g.ID {
					in.ExternalID = ""
				}
				if ch.Op == Rename {
					in.DisplayName = ch.Value
				} else {
					in.ExternalID = ch.Value
				}
				if err := in.normalize(); err != nil {
					return err
				}
				if err := externalIDFree(tx, c.AccountID, in.ExternalID, g.ID); err != nil {
					return err
				}
				err = group.RenamePushed(tx, g, in.DisplayName, in.ExternalID)
			case AddMembers:
				n, err = addMembers(tx, c.AccountID, g.ID, ch.Members)
				added += n
			case RemoveMembers:
				n, err = removeMembers(tx, c.AccountID, g.ID, ch.Members)
				removed += n
			case RemoveAllMembers:
				n, err = removeMembers(tx, c.AccountID, g.ID, nil)
				removed += n
			case ReplaceMembers:
				var gone []string
				if gone, err = notIn(tx, g.ID, ch.Members); err == nil {
					n, err = removeMembers(tx, c.AccountID, g.ID, gone)
					removed += n
				}
				if err == nil {
					n, err = addMembers(tx, c.AccountID, g.ID, ch.Members)
					added += n
				}
			default:
				err = fmt.Errorf("provision: unknown group change %d", ch.Op)
			}
			if err != nil {
				return err
			}
		}
		out = v
		return audit.Record(tx, c.AccountID, c.actor(), "scim.group_updated", "group", g.ID,
			map[string]any{"name": g.Name, "members_added": added, "members_removed": removed})
	})
	return out, err
}

// ReplaceGroup makes a pushed group what in says: its name, external id
// and exactly its members.
func (s *Service) ReplaceGroup(ctx context.Context, c Caller, groupID string, in GroupInput) (*GroupView, error) {
	if err := in.normalize(); err != nil {
		return nil, err
	}
	_, err := s.ChangeGroup(ctx, c, groupID, []GroupChange{
		{Op: Rename, Value: in.DisplayName}, {Op: SetExternalID, Value: in.ExternalID},
		{Op: ReplaceMembers, Members: in.Members},
	})
	if err != nil {
		return nil, err
	}
	return s.GetGroup(ctx, c, groupID)
}

// DeleteGroup removes a pushed group: its members (the pushed group holds
// no one else's) and the group go, so access it gave ends at the next
// request.
func (s *Service) DeleteGroup(ctx context.Context, c Caller, groupID string) error {
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		v, err := getGroup(tx.DB, c.AccountID, groupID, false)
		if err != nil {
			return err
		}
		if err := tx.Where("group_id = ?", v.ID).Delete(&Membership{}).Error; err != nil {
			return err
		}
		if err := group.DeletePushed(tx, v.ID); err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, c.actor(), "scim.group_deleted", "group", v.ID, map[string]any{"name": v.Name})
	})
}

// addMembers puts provisioned people (by id) in a pushed group and returns
// how many were not in it; the active ones are in it for access too.
func addMembers(tx *store.Tx, accountID, groupID string, ids []string) (int, error) {
	ids = distinct(ids)
	if len(ids) == 0 {
		return 0, nil
	}
	var people []UserView
	for _, chunk := range chunks(ids, 500) {
		var part []UserView
		if err := userViews(tx.DB, accountID).Where("s.id IN ?", chunk).Scan(&part).Error; err != nil {
			return 0, err
		}
		people = append(people, part...)
	}
	if len(people) != len(ids) {
		found := make(map[string]bool, len(people))
		for _, p := range people {
			found[p.ID] = true
		}
		for _, pid := range ids {
			if !found[pid] {
				return 0, problem.Field("members", fmt.Sprintf("members: %q is not the id of a user provisioned in this account (only users are members here, not groups)", pid))
			}
		}
	}
	now := tx.Now()
	added := 0
	var active []group.PushedMember
	for _, p := range people {
		r := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&Membership{GroupID: groupID, PersonID: p.ID, AccountID: accountID, CreatedAt: now})
		if r.Error != nil {
			return 0, r.Error
		}
		added += int(r.RowsAffected)
		if p.Active {
			active = append(active, group.PushedMember{ID: p.ID, Email: p.Email, Name: strings.TrimSpace(p.GivenName + " " + p.FamilyName)})
		}
	}
	return added, group.AddPushed(tx, groupID, active)
}

// removeMembers takes provisioned people (by id; nil: everyone) off a
// pushed group and returns how many were in it.
func removeMembers(tx *store.Tx, accountID, groupID string, ids []string) (int, error) {
	if ids == nil {
		if err := tx.Model(&Membership{}).Where("group_id = ?", groupID).Pluck("person_id", &ids).Error; err != nil {
			return 0, err
		}
	}
	ids = distinct(ids)
	removed := 0
	for _, chunk := range chunks(ids, 500) {
		r := tx.Where("group_id = ? AND account_id = ? AND person_id IN ?", groupID, accountID, chunk).Delete(&Membership{})
		if r.Error != nil {
			return 0, r.Error
		}
		removed += int(r.RowsAffected)
		if err := group.RemovePushed(tx, groupID, chunk); err != nil {
			return 0, err
		}
	}
	return removed, nil
}

// notIn is the group's members whose ids are not in ids: those a
// replacement of the members takes out, while the others keep their rows.
func notIn(tx *store.Tx, groupID string, ids []string) ([]string, error) {
	var have []string
	if err := tx.Model(&Membership{}).Where("group_id = ?", groupID).Pluck("person_id", &have).Error; err != nil {
		return nil, err
	}
	keep := make(map[string]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	gone := []string{}
	for _, id := range have {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	return gone, nil
}

// distinct keeps each of ids once.
func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, s := range ids {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}
