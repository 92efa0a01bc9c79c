package event

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Sort orders of the All users list.
const (
	SortName      = "name"
	SortCreatedAt = "created_at"
)

// Paging limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Query asks for one page of an event's All users list.
type Query struct {
	// Search matches by prefix, case-insensitively, on the email address, the
	// first name (and so the full name "first last") or the last name:
	// "ada", "ada lov", "lovelace" and "ada@ex" all find Ada Lovelace
	// <ada@example.org>. Prefix, not contains, so that each alternative is an
	// index range and the query stays fast on large events.
	Search string
	// Roles keeps attendees with any of these roles; "attendee" matches all.
	Roles []string
	// Statuses keeps attendees in any of these statuses.
	Statuses []Status
	// Within, when set, keeps only the attendees whose ids the subquery it
	// builds (on the database handle it is given) selects: a filter on
	// data other packages own, such as the delivery status of the
	// attendee's last email (core/mail), which this package cannot read.
	Within func(r *gorm.DB) *gorm.DB
	// Sort is "name" (first then last name) or "created_at"; Desc reverses.
	Sort string
	Desc bool
	// Page counts from 1; PageSize defaults to 50, at most 500.
	Page     int
	PageSize int
}

// Page is one page of the list and the number of rows matching overall.
type Page struct {
	Rows  []Attendee `json:"rows"`
	Total int64      `json:"total"`
}

func (q *Query) normalize() error {
	var fs problem.Fields
	q.Search = strings.ToLower(strings.TrimSpace(q.Search))
	if utf8.RuneCountInString(q.Search) > 254 {
		fs.Add("search", "search is longer than 254 characters")
	}
	for _, r := range q.Roles {
		switch r {
		case RoleAttendee, RoleSpeaker, RoleModerator, RoleOrganizer:
		default:
			fs.Add("roles", fmt.Sprintf("unknown role %q: use attendee, speaker, moderator or organizer", r))
		}
	}
	for _, s := range q.Statuses {
		if !s.Valid() {
			fs.Add("statuses", fmt.Sprintf("unknown status %q: use invited, registered, attended, sso_login, unregistered or blocked", s))
		}
	}
	switch q.Sort {
	case "":
		q.Sort = SortCreatedAt
	case SortName, SortCreatedAt:
	default:
		fs.Add("sort", `sort must be "name" or "created_at"`)
	}
	if q.Page == 0 {
		q.Page = 1
	}
	if q.Page < 1 {
		fs.Add("page", "page counts from 1")
	}
	if q.PageSize == 0 {
		q.PageSize = DefaultPageSize
	}
	if q.PageSize < 1 || q.PageSize > MaxPageSize {
		fs.Add("page_size", fmt.Sprintf("page size must be between 1 and %d", MaxPageSize))
	}
	return fs.Err()
}

// prefixEnd is above every character, so key >= q AND key < q+prefixEnd is
// "key starts with q" in byte order.
const prefixEnd = "\U0010FFFF"

// List returns one page of an event's attendees and the total matching. The
// caller has checked that the event belongs to its account.
func List(ctx context.Context, db *store.DB, eventID string, q Query) (*Page, error) {
	if err := q.normalize(); err != nil {
		return nil, err
	}
	var out *Page
	err := db.ReadIndexed(ctx, func(r *gorm.DB) error {
		var err error
		out, err = list(db, r, eventID, q)
		return err
	})
	return out, err
}

func list(db *store.DB, r *gorm.DB, eventID string, q Query) (*Page, error) {
	filter := func(tx *gorm.DB) *gorm.DB { return q.where(tx.Where("event_id = ?", eventID)) }
	var out Page
	if err := filter(r.Model(&Attendee{})).Count(&out.Total).Error; err != nil {
		return nil, err
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	order, index := fmt.Sprintf("created_at %s, id %s", dir, dir), "idx_attendees_list_created"
	if q.Sort == SortName {
		order, index = fmt.Sprintf("name_key %s, id %s", dir, dir), "idx_attendees_list_name"
	}
	from := "attendees"
	if q.Search != "" && out.Total > denseSearch {
		// A broad search matches rows all along the sort order, so the
		// sort index (which holds every searched column) is walked.
		from = db.Walking("attendees", index)
	}
	// The page's ids come from the index alone, however deep the page;
	// only the rows shown are read from the table.
	ids := filter(r.Table(from)).Select("id").Order(order).Offset((q.Page - 1) * q.PageSize).Limit(q.PageSize)
	if err := r.Model(&Attendee{}).Where("id IN (?)", ids).Order(order).Find(&out.Rows).Error; err != nil {
		return nil, err
	}
	if out.Rows == nil {
		out.Rows = []Attendee{}
	}
	return &out, nil
}

// denseSearch is the number of matches above which a search is walked along
// the sort index on SQLite (see List).
const denseSearch = 1000

// where adds the query's search, role and status conditions.
func (q *Query) where(tx *gorm.DB) *gorm.DB {
	if q.Search != "" {
		hi := q.Search + prefixEnd
		tx = tx.Where("((email >= ? AND email < ?) OR (name_key >= ? AND name_key < ?) OR (last_key >= ? AND last_key < ?))",
			q.Search, hi, q.Search, hi, q.Search, hi)
	}
	if len(q.Roles) > 0 {
		var ors []string
		for _, r := range q.Roles {
			switch r {
			case RoleAttendee:
				ors = append(ors, "1 = 1")
			case RoleSpeaker:
				ors = append(ors, "speaker")
			case RoleModerator:
				ors = append(ors, "moderator")
			case RoleOrganizer:
				ors = append(ors, "organizer")
			}
		}
		tx = tx.Where("(" + strings.Join(ors, " OR ") + ")")
	}
	if len(q.Statuses) > 0 {
		tx = tx.Where("status IN ?", q.Statuses)
	}
	if q.Within != nil {
		tx = tx.Where("id IN (?)", q.Within(tx.Session(&gorm.Session{NewDB: true})))
	}
	return tx
}

// ListFor is List for an organizer: the event must be in their account.
func (s *Service) ListFor(ctx context.Context, c Caller, eventID string, q Query) (*Page, error) {
	ev, err := GetEvent(ctx, s.DB, c.AccountID, eventID)
	if err != nil {
		return nil, err
	}
	return List(ctx, s.DB, ev.ID, q)
}
