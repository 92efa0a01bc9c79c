// Package group owns the groups synced from an organization's directory by
// group source plugins, and their members. A sync never replaces a group's
// members wholesale: Apply works out the difference and removes members only
// when the source promised it sent them all.
package group

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
)

// Group is a directory group of an account, as last seen in its source.
type Group struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;uniqueIndex:idx_groups_source_ext,priority:1" json:"account_id"`
	// Source is the name of the group source plugin (from the config) the
	// group comes from.
	Source string `gorm:"size:100;not null;uniqueIndex:idx_groups_source_ext,priority:2" json:"source"`
	// ExternalID is the source's stable identifier of the group.
	ExternalID string    `gorm:"size:255;not null;uniqueIndex:idx_groups_source_ext,priority:3" json:"external_id"`
	Name       string    `gorm:"size:255" json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TableName keeps the table name plain.
func (Group) TableName() string { return "groups" }

// Member is a person in a group, identified in the source by ExternalID or,
// when the source has none, by email.
type Member struct {
	ID      string `gorm:"primaryKey;size:36" json:"id"`
	GroupID string `gorm:"size:36;not null;uniqueIndex:idx_group_members_key,priority:1" json:"group_id"`
	// Key is "id:<external id>" or "email:<email>": how the member is
	// recognized from one sync to the next.
	Key        string `gorm:"column:member_key;size:330;not null;uniqueIndex:idx_group_members_key,priority:2" json:"-"`
	ExternalID string `gorm:"size:255" json:"external_id,omitempty"`
	// Email is as the source sent it, trimmed and lower-cased
	// (user.FoldEmail): a directory's address need not be a mailbox the
	// gateway would accept from a person, and is still the member's.
	Email     string    `gorm:"size:320;index" json:"email"`
	Name      string    `gorm:"size:255" json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TableName keeps the table name plain.
func (Member) TableName() string { return "group_members" }

// ErrNotFound is returned for a group that is not in the account.
var ErrNotFound = problem.New(problem.NotFound, "group_not_found", "no such group in this account")

// List returns the account's groups by name.
func List(ctx context.Context, db *gorm.DB, accountID string) ([]Group, error) {
	var out []Group
	err := db.WithContext(ctx).Where("account_id = ?", accountID).Order("name, id").Find(&out).Error
	return out, err
}

// Get returns one group of the account.
func Get(ctx context.Context, db *gorm.DB, accountID, groupID string) (*Group, error) {
	var g Group
	err := db.WithContext(ctx).Where("account_id = ? AND id = ?", accountID, groupID).Take(&g).Error
	if err == gorm.ErrRecordNotFound {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// Members returns a page of a group's members by email; limit <= 0 means all.
func Members(ctx context.Context, db *gorm.DB, groupID string, offset, limit int) ([]Member, error) {
	q := db.WithContext(ctx).Where("group_id = ?", groupID).Order("email, id").Offset(offset)
	if limit > 0 {
		q = q.Limit(limit)
	}
	var out []Member
	return out, q.Find(&out).Error
}

// GroupsOf returns the ids of the account's groups the email belongs to, so
// access checks can match grants.
func GroupsOf(ctx context.Context, db *gorm.DB, accountID, email string) ([]string, error) {
	var ids []string
	err := db.WithContext(ctx).Model(&Member{}).
		Joins("JOIN groups ON groups.id = group_members.group_id").
		Where("groups.account_id = ? AND group_members.email = ?", accountID, user.FoldEmail(email)).
		Distinct().Pluck("group_members.group_id", &ids).Error
	return ids, err
}
