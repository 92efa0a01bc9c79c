package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// User is a person as the provider provisioned them: the record the
// provider reads back and changes (its id is the SCIM id), pointing at the
// account's user. One provisioned record per user of the account.
type User struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;uniqueIndex:idx_scim_users_name,priority:1;uniqueIndex:idx_scim_users_user,priority:1" json:"account_id"`
	UserID    string `gorm:"size:36;not null;uniqueIndex:idx_scim_users_user,priority:2" json:"user_id"`
	UserName  string `gorm:"size:255;not null" json:"user_name"`
	// UserNameKey is UserName folded: SCIM's userName is unique and
	// compared without case.
	UserNameKey string `gorm:"size:255;not null;uniqueIndex:idx_scim_users_name,priority:2" json:"-"`
	ExternalID  string `gorm:"size:255;index" json:"external_id,omitempty"`
	DisplayName string `gorm:"size:255" json:"display_name,omitempty"`
	// Active false is a deactivated person: their memberships of pushed
	// groups are kept here (Membership) but give no access until they are
	// active again.
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TableName names the table.
func (User) TableName() string { return "scim_users" }

// UserView is a provisioned person with what their user holds.
type UserView struct {
	User
	Email      string `json:"email"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
}

// UserInput is a person as a push describes them. Email empty is
// UserName (Entra ID and Okta send the person's address as userName).
type UserInput struct {
	UserName, ExternalID, DisplayName string
	GivenName, FamilyName             string
	Email                             string
	Active                            bool
}

// maxText bounds each provider-given text, in characters; the columns
// hold as much.
const maxText = 255

func checkText(fs *problem.Fields, attr, v string) {
	if n := utf8.RuneCountInString(v); n > maxText {
		fs.Add(attr, fmt.Sprintf("%s is %d characters long; at most %d are allowed", attr, n, maxText))
	}
}

// normalize trims in and reports what is wrong with it, by SCIM attribute.
func (in *UserInput) normalize() error {
	var fs problem.Fields
	in.UserName, in.ExternalID, in.DisplayName = strings.TrimSpace(in.UserName), strings.TrimSpace(in.ExternalID), strings.TrimSpace(in.DisplayName)
	in.GivenName, in.FamilyName, in.Email = strings.TrimSpace(in.GivenName), strings.TrimSpace(in.FamilyName), strings.TrimSpace(in.Email)
	if in.UserName == "" {
		fs.Add("userName", "userName is required")
	}
	checkText(&fs, "userName", in.UserName)
	checkText(&fs, "externalId", in.ExternalID)
	checkText(&fs, "displayName", in.DisplayName)
	attr := "emails"
	if in.Email == "" {
		in.Email, attr = in.UserName, "userName"
	}
	if in.Email != "" {
		e, err := user.NormalizeEmail(in.Email)
		if err != nil {
			fs.Add(attr, attr+": the gateway knows people by email, and "+err.Error())
		}
		in.Email = e
	}
	for _, n := range []struct{ attr, v string }{{"name.givenName", in.GivenName}, {"name.familyName", in.FamilyName}} {
		if c := utf8.RuneCountInString(n.v); c > user.MaxName {
			fs.Add(n.attr, fmt.Sprintf("%s is %d characters long; at most %d are allowed", n.attr, c, user.MaxName))
		}
	}
	return fs.Err()
}

func userViews(db *gorm.DB, accountID string) *gorm.DB {
	return db.Table("scim_users AS s").
		Select("s.id, s.account_id, s.user_id, s.user_name, s.user_name_key, s.external_id, s.display_name, s.active, s.created_at, s.updated_at, "+
			"u.email AS email, u.first_name AS given_name, u.last_name AS family_name").
		Joins("JOIN users u ON u.id = s.user_id").
		Where("s.account_id = ?", accountID)
}

func getUser(db *gorm.DB, accountID, scimID string) (*UserView, error) {
	if !id.Valid(scimID) {
		return nil, ErrUserNotFound
	}
	var v []UserView
	if err := userViews(db, accountID).Where("s.id = ?", scimID).Limit(1).Scan(&v).Error; err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, ErrUserNotFound
	}
	return &v[0], nil
}

// GetUser returns a provisioned person of the caller's account.
func (s *Service) GetUser(ctx context.Context, c Caller, scimID string) (*UserView, error) {
	return getUser(s.DB.R.WithContext(ctx), c.AccountID, scimID)
}

// UserQuery narrows the list: UserName (compared without case) and
// ExternalID exactly, when set; Offset and Limit page it.
type UserQuery struct {
	UserName, ExternalID string
	Offset, Limit        int
}

// Users lists the account's provisioned people by creation, a page of
// them, and how many match in all.
func (s *Service) Users(ctx context.Context, c Caller, q UserQuery) ([]UserView, int64, error) {
	db := s.DB.R.WithContext(ctx)
	where := func(l *gorm.DB) *gorm.DB {
		if q.UserName != "" {
			l = l.Where("s.user_name_key = ?", foldName(q.UserName))
		}
		if q.ExternalID != "" {
			l = l.Where("s.external_id = ?", q.ExternalID)
		}
		return l
	}
	var total int64
	if err := where(db.Table("scim_users AS s").Where("s.account_id = ?", c.AccountID)).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	out := []UserView{}
	if q.Limit <= 0 {
		return out, total, nil
	}
	err := where(userViews(db, c.AccountID)).Order("s.created_at, s.id").Offset(q.Offset).Limit(q.Limit).Scan(&out).Error
	return out, total, err
}

func foldName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// CreateUser provisions a person: their user is found or made by
// user.Resolve from the identity (Issuer, the new provisioned id) and
// their email, linked to the account's existing user of that email only
// when the caller's token links by email.
func (s *Service) CreateUser(ctx context.Context, c Caller, in UserInput) (*UserView, error) {
	if err := in.normalize(); err != nil {
		return nil, err
	}
	var out *UserView
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := userNameFree(tx, c.AccountID, in.UserName, ""); err != nil {
			return err
		}
		now := tx.Now()
		su := &User{ID: id.New(), AccountID: c.AccountID, UserName: in.UserName, UserNameKey: foldName(in.UserName),
			ExternalID: in.ExternalID, DisplayName: in.DisplayName, Active: in.Active, CreatedAt: now, UpdatedAt: now}
		u, err := user.Resolve(tx, user.Identity{AccountID: c.AccountID, Issuer: Issuer, Subject: su.ID, Email: in.Email,
			FirstName: in.GivenName, LastName: in.FamilyName, LinkByEmail: c.LinkByEmail})
		if errors.Is(err, user.ErrNotLinked) {
			return ErrNotLinked
		}
		if err != nil {
			return scimFields(err)
		}
		if in.GivenName != "" || in.FamilyName != "" {
			if err := user.SetNames(tx, u, in.GivenName, in.FamilyName); err != nil {
				return scimFields(err)
			}
		}
		su.UserID = u.ID
		if err := tx.Create(su).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return ErrEmailTaken
			}
			return err
		}
		if err := audit.Record(tx, c.AccountID, c.actor(), "scim.user_created", "user", u.ID,
			map[string]any{"scim_id": su.ID, "active": su.Active}); err != nil {
			return err
		}
		out = &UserView{User: *su, Email: u.Email, GivenName: u.FirstName, FamilyName: u.LastName}
		return nil
	})
	return out, err
}

// userNameFree refuses a userName another provisioned person of the
// account has (but except, the one being changed).
func userNameFree(tx *store.Tx, accountID, userName, except string) error {
	var n int64
	q := tx.Model(&User{}).Where("account_id = ? AND user_name_key = ?", accountID, foldName(userName))
	if except != "" {
		q = q.Where("id <> ?", except)
	}
	if err := q.Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return ErrUserNameTaken
	}
	return nil
}

// ReplaceUser makes a provisioned person what in says: userName,
// externalId, displayName and names change; their email may not (a person
// is known by it across the gateway: ErrEmailChange); Active false
// deactivates them (see setActive).
func (s *Service) ReplaceUser(ctx context.Context, c Caller, scimID string, in UserInput) (*UserView, error) {
	if err := in.normalize(); err != nil {
		return nil, err
	}
	var out *UserView
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		v, err := getUser(tx.DB, c.AccountID, scimID)
		if err != nil {
			return err
		}
		if in.Email != v.Email {
			return ErrEmailChange
		}
		if err := userNameFree(tx, c.AccountID, in.UserName, v.ID); err != nil {
			return err
		}
		u := &user.User{ID: v.UserID, AccountID: c.AccountID, FirstName: v.GivenName, LastName: v.FamilyName}
		if err := user.SetNames(tx, u, in.GivenName, in.FamilyName); err != nil {
			return scimFields(err)
		}
		changes := map[string]any{"user_name": in.UserName, "user_name_key": foldName(in.UserName),
			"external_id": in.ExternalID, "display_name": in.DisplayName, "active": in.Active, "updated_at": tx.Now()}
		if err := tx.Model(&User{}).Where("id = ?", v.ID).Updates(changes).Error; err != nil {
			return err
		}
		m := group.PushedMember{ID: v.ID, Email: v.Email, Name: u.Name()}
		if in.Active != v.Active {
			if err := setActive(tx, c.AccountID, m, in.Active); err != nil {
				return err
			}
		} else if in.Active && u.Name() != strings.TrimSpace(v.GivenName+" "+v.FamilyName) {
			if err := group.RenamePushedMember(tx, c.AccountID, m); err != nil {
				return err
			}
		}
		action := "scim.user_updated"
		switch {
		case v.Active && !in.Active:
			action = "scim.user_deactivated"
		case !v.Active && in.Active:
			action = "scim.user_reactivated"
		}
		if err := audit.Record(tx, c.AccountID, c.actor(), action, "user", v.UserID, map[string]any{"scim_id": v.ID}); err != nil {
			return err
		}
		out, err = getUser(tx.DB, c.AccountID, scimID)
		return err
	})
	return out, err
}

// setActive gives a person's memberships of the pushed groups (those the
// provider put them in) effect, or takes it away: deactivated, they are in
// none of the groups for access, so what those groups gave them ends at
// their next request; reactivated, they are back in each.
func setActive(tx *store.Tx, accountID string, m group.PushedMember, active bool) error {
	if !active {
		return group.LeavePushed(tx, accountID, m.ID)
	}
	var groups []string
	if err := tx.Model(&Membership{}).Where("account_id = ? AND person_id = ?", accountID, m.ID).Pluck("group_id", &groups).Error; err != nil {
		return err
	}
	for _, gid := range groups {
		if err := group.AddPushed(tx, gid, []group.PushedMember{m}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser deprovisions a person: they leave every pushed group, their
// provisioned record and identity go. Their user stays, with their
// invitations, attendance and any other sign-in (erasing a person is
// DELETE /api/v1/users/{id}).
func (s *Service) DeleteUser(ctx context.Context, c Caller, scimID string) error {
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		v, err := getUser(tx.DB, c.AccountID, scimID)
		if err != nil {
			return err
		}
		if err := group.LeavePushed(tx, c.AccountID, v.ID); err != nil {
			return err
		}
		if err := tx.Where("account_id = ? AND person_id = ?", c.AccountID, v.ID).Delete(&Membership{}).Error; err != nil {
			return err
		}
		if err := user.Unlink(tx, c.AccountID, Issuer, v.ID); err != nil {
			return err
		}
		if err := tx.Where("id = ?", v.ID).Delete(&User{}).Error; err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, c.actor(), "scim.user_deleted", "user", v.UserID, map[string]any{"scim_id": v.ID})
	})
}

// scimFields renames the fields of core/user's refusals to the SCIM
// attributes they came from.
func scimFields(err error) error {
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		return err
	}
	names := map[string]string{"email": "emails", "first_name": "name.givenName", "last_name": "name.familyName"}
	out := *p
	out.Details = nil
	for _, d := range p.Details {
		if n, ok := names[d.Field]; ok {
			d.Field = n
		}
		out.Details = append(out.Details, d)
	}
	if n, ok := names[p.Field]; ok {
		out.Field = n
	}
	return &out
}
