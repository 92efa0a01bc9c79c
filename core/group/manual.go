package group

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// SourceManual is the source of the groups an admin makes by hand. The
// colon, which no plugin name may hold, keeps it apart from the names of
// the group source plugins, as "sso:<connection>" is for groups asserted
// at single sign-on.
const SourceManual = "manual:"

// MaxNameLength bounds a manual group's name, in characters.
const MaxNameLength = 200

// Refusals of manual groups.
var (
	ErrNameTaken = &problem.Error{Kind: problem.Conflict, Code: "group_name_taken", Field: "name",
		Message: "another manual group of this account has this name; choose another"}
	ErrNotManual = problem.New(problem.Conflict, "group_not_manual",
		"this group comes from a directory or single sign-on, and its members change there; only manual groups take members here")
	ErrMemberNotFound = &problem.Error{Kind: problem.NotFound, Code: "group_member_not_found", Field: "email",
		Message: "this email is not a member of the group"}
	ErrMemberExists = &problem.Error{Kind: problem.Conflict, Code: "group_member_exists", Field: "email",
		Message: "this email is already a member of the group"}
)

// CreateManual makes a manual group. Its external id is its name folded,
// so the unique index on (account, source, external id) keeps two manual
// groups of one name apart.
func CreateManual(ctx context.Context, sdb *store.DB, accountID string, by audit.Actor, name string) (*Group, error) {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return nil, problem.Field("name", "name is required")
	case n > MaxNameLength:
		return nil, problem.Field("name", fmt.Sprintf("name is %d characters long; at most %d are allowed", n, MaxNameLength))
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return nil, problem.Field("name", fmt.Sprintf("name contains the control character %U", r))
		}
	}
	now := sdb.Now()
	g := &Group{ID: id.New(), AccountID: accountID, Source: SourceManual, ExternalID: strings.ToLower(name), Name: name, CreatedAt: now, UpdatedAt: now}
	err := sdb.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(g).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return ErrNameTaken
			}
			return err
		}
		return audit.Record(tx, accountID, by, "group.created", "group", g.ID, map[string]any{"name": name, "source": SourceManual})
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// AddMember adds a person by email to a manual group. The group's
// updated_at moves with its members, so the Event access tab's Last update
// says when the group last changed.
func AddMember(ctx context.Context, sdb *store.DB, accountID string, by audit.Actor, groupID, email string) (*Member, error) {
	email, err := memberEmail(email)
	if err != nil {
		return nil, err
	}
	var m *Member
	err = sdb.Tx(ctx, func(tx *store.Tx) error {
		g, err := manualGroup(ctx, tx.DB, accountID, groupID)
		if err != nil {
			return err
		}
		now := sdb.Now()
		m = &Member{ID: id.New(), GroupID: g.ID, Key: memberKey("", email), Email: email, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(m).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return ErrMemberExists
			}
			return err
		}
		if err := tx.Model(&Group{}).Where("id = ?", g.ID).Update("updated_at", now).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, by, "group.member_added", "group", g.ID, map[string]any{"member_id": m.ID})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveMember takes a person off a manual group: their access through it
// ends at their next request.
func RemoveMember(ctx context.Context, sdb *store.DB, accountID string, by audit.Actor, groupID, email string) error {
	email, err := memberEmail(email)
	if err != nil {
		return err
	}
	return sdb.Tx(ctx, func(tx *store.Tx) error {
		g, err := manualGroup(ctx, tx.DB, accountID, groupID)
		if err != nil {
			return err
		}
		var m Member
		if err := tx.Where("group_id = ? AND member_key = ?", g.ID, memberKey("", email)).Take(&m).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrMemberNotFound
			}
			return err
		}
		if err := tx.Delete(&Member{}, "id = ?", m.ID).Error; err != nil {
			return err
		}
		if err := tx.Model(&Group{}).Where("id = ?", g.ID).Update("updated_at", sdb.Now()).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, by, "group.member_removed", "group", g.ID, map[string]any{"member_id": m.ID})
	})
}

// memberEmail is a member's address as the gateway accepts it from a person.
func memberEmail(email string) (string, error) {
	e, err := user.NormalizeEmail(email)
	if err != nil {
		return "", problem.Field("email", err.Error())
	}
	return user.FoldEmail(e), nil
}

func manualGroup(ctx context.Context, db *gorm.DB, accountID, groupID string) (*Group, error) {
	if !id.Valid(groupID) {
		return nil, ErrNotFound
	}
	g, err := Get(ctx, db, accountID, groupID)
	if err != nil {
		return nil, err
	}
	if g.Source != SourceManual {
		return nil, ErrNotManual
	}
	return g, nil
}
