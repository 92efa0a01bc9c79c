package event

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/core/webhook"
)

// Grant gives the members of a group access to a closed event. A grant of
// a group its source later removed stays behind harmlessly: nobody is a
// member of it, and lists join the groups that exist.
type Grant struct {
	EventID   string    `gorm:"primaryKey;size:36" json:"event_id"`
	GroupID   string    `gorm:"primaryKey;size:36;index" json:"group_id"`
	AccountID string    `gorm:"size:36;not null" json:"-"`
	CreatedBy string    `gorm:"size:64" json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName names the table.
func (Grant) TableName() string { return "event_grants" }

// Grant filters of the Event access tab.
const (
	GrantsAll        = "all"
	GrantsGranted    = "granted"
	GrantsNotGranted = "not_granted"
)

// GrantQuery is the Event access tab's list: the account's groups, all or
// those granted or not, by name prefix, a page of them (from 1; PerPage 0
// is DefaultPageSize).
type GrantQuery struct {
	Filter  string
	Search  string
	Page    int
	PerPage int
}

// GroupAccess is a group as the Event access tab shows it.
type GroupAccess struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Source     string     `json:"source"`
	Provenance string     `json:"provenance"`
	Size       int64      `json:"size"`
	UpdatedAt  time.Time  `json:"updated_at"`
	Granted    bool       `json:"granted"`
	GrantedAt  *time.Time `json:"granted_at"`
	GrantedBy  string     `json:"granted_by,omitempty"`
}

// GrantPage is a page of the Event access tab: Total groups match the
// filter and search, Granted is how many groups the event grants in all
// (the banner).
type GrantPage struct {
	Items   []GroupAccess `json:"items"`
	Total   int64         `json:"total"`
	Granted int64         `json:"granted"`
}

// ErrBadGrantFilter refuses an unknown filter.
var ErrBadGrantFilter = problem.Field("filter", `filter must be "all", "granted" or "not_granted"`)

// grantListing is the account's groups matching search, each with its
// event's grant if any.
func grantListing(db *gorm.DB, ev *Event, search string) *gorm.DB {
	return db.Table("(?) AS l", group.Listing(db, ev.AccountID, group.Query{Search: search})).
		Select("l.id, l.name, l.source, l.size, l.updated_at, g.created_at AS granted_at, g.created_by AS granted_by, g.event_id IS NOT NULL AS granted").
		Joins("LEFT JOIN event_grants g ON g.group_id = l.id AND g.event_id = ?", ev.ID)
}

// Grants lists the account's groups with whether ev grants them access.
func (s *Service) Grants(ctx context.Context, c Caller, eventID string, q GrantQuery) (*GrantPage, error) {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	db := s.DB.R.WithContext(ctx)
	filtered := func() *gorm.DB {
		l := grantListing(db, ev, q.Search)
		switch q.Filter {
		case "", GrantsAll:
		case GrantsGranted:
			l = l.Where("g.event_id IS NOT NULL")
		case GrantsNotGranted:
			l = l.Where("g.event_id IS NULL")
		default:
			return nil
		}
		return l
	}
	if filtered() == nil {
		return nil, ErrBadGrantFilter
	}
	out := &GrantPage{Items: []GroupAccess{}}
	if err := db.Table("(?) AS f", filtered()).Count(&out.Total).Error; err != nil {
		return nil, err
	}
	if out.Granted, err = s.grantedCount(ctx, ev); err != nil {
		return nil, err
	}
	page, per := max(q.Page, 1), q.PerPage
	if per <= 0 {
		per = DefaultPageSize
	}
	err = filtered().Order("l.name, l.id").Offset((page - 1) * per).Limit(per).Scan(&out.Items).Error
	for i := range out.Items {
		out.Items[i].Provenance = group.ProvenanceOf(out.Items[i].Source)
	}
	return out, err
}

// grantedCount is how many groups that exist ev grants access to.
func (s *Service) grantedCount(ctx context.Context, ev *Event) (int64, error) {
	var n int64
	err := s.DB.R.WithContext(ctx).Table("event_grants g").Joins("JOIN groups ON groups.id = g.group_id").
		Where("g.event_id = ?", ev.ID).Count(&n).Error
	return n, err
}

// GroupAccessOf is one group of the account with whether ev grants it.
func (s *Service) GroupAccessOf(ctx context.Context, c Caller, eventID, groupID string) (*GroupAccess, error) {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	return groupAccess(ctx, s.DB.R, ev, groupID)
}

func groupAccess(ctx context.Context, db *gorm.DB, ev *Event, groupID string) (*GroupAccess, error) {
	var out []GroupAccess
	if err := grantListing(db.WithContext(ctx), ev, "").Where("l.id = ?", groupID).Scan(&out).Error; err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, group.ErrNotFound
	}
	out[0].Provenance = group.ProvenanceOf(out[0].Source)
	return &out[0], nil
}

// Grant gives a group of the account access to ev. Granting a group that
// has access already changes nothing.
func (s *Service) Grant(ctx context.Context, c Caller, eventID, groupID string) (*GroupAccess, error) {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	var out *GroupAccess
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		g, err := group.Get(ctx, tx.DB, ev.AccountID, groupID)
		if err != nil {
			return err
		}
		r := tx.Exec("INSERT INTO event_grants (event_id, group_id, account_id, created_by, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			ev.ID, g.ID, ev.AccountID, c.Actor.ID, s.now())
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 1 {
			if err := audit.Record(tx, ev.AccountID, c.Actor, "event.access_granted", "event", ev.ID, map[string]any{"group_id": g.ID, "group": g.Name}); err != nil {
				return err
			}
			if err := s.Webhooks.Emit(tx, ev.AccountID, webhook.AccessGranted, "event:"+ev.ID, grantPayload(ev, g.ID, g.Name)); err != nil {
				return err
			}
		}
		out, err = groupAccess(ctx, tx.DB, ev, g.ID)
		return err
	})
	return out, err
}

// Revoke takes a group's access to ev away: its members who are not let in
// another way are refused from their next request on. Revoking a group
// without access changes nothing.
func (s *Service) Revoke(ctx context.Context, c Caller, eventID, groupID string) error {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		g, err := group.Get(ctx, tx.DB, ev.AccountID, groupID)
		if err != nil {
			return err
		}
		r := tx.Where("event_id = ? AND group_id = ?", ev.ID, g.ID).Delete(&Grant{})
		if r.Error != nil || r.RowsAffected == 0 {
			return r.Error
		}
		if err := s.Webhooks.Emit(tx, ev.AccountID, webhook.AccessRemoved, "event:"+ev.ID, grantPayload(ev, g.ID, g.Name)); err != nil {
			return err
		}
		return audit.Record(tx, ev.AccountID, c.Actor, "event.access_revoked", "event", ev.ID, map[string]any{"group_id": g.ID, "group": g.Name})
	})
}

// grantedGroupsOf is the ids of ev's granted groups the email is a member
// of, in one query: all a closed event's decision needs of the groups.
func grantedGroupsOf(ctx context.Context, db *gorm.DB, ev *Event, email string) ([]string, error) {
	var ids []string
	err := db.WithContext(ctx).Model(&Grant{}).Where("event_id = ? AND group_id IN (?)", ev.ID, group.MembersOf(db, ev.AccountID, email)).
		Pluck("group_id", &ids).Error
	return ids, err
}

// grantedMembers maps each of the emails that is a member of one of ev's
// granted groups to those groups' ids, 500 emails a query.
func grantedMembers(ctx context.Context, db *gorm.DB, ev *Event, emails []string) (map[string][]string, error) {
	out := map[string][]string{}
	for start := 0; start < len(emails); start += 500 {
		chunk := make([]string, 0, 500)
		for _, e := range emails[start:min(start+500, len(emails))] {
			chunk = append(chunk, user.FoldEmail(e))
		}
		var rows []struct{ Email, GroupID string }
		err := db.WithContext(ctx).Table("group_members m").Select("m.email, m.group_id").
			Joins("JOIN event_grants g ON g.group_id = m.group_id AND g.event_id = ?", ev.ID).
			Where("m.email IN ?", chunk).Scan(&rows).Error
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.Email] = append(out[r.Email], r.GroupID)
		}
	}
	return out, nil
}
