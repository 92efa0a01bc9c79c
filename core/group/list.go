package group

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/user"
)

// Provenances: where a group's membership comes from, as the console and
// the API show it. A group's source decides it.
const (
	ProvenanceSync   = "sync"   // a group source plugin's scheduled sync
	ProvenanceLogin  = "login"  // groups asserted at single sign-on ("sso:<connection>")
	ProvenanceManual = "manual" // made and filled by an admin
	ProvenanceSCIM   = "scim"   // pushed by an identity provider's SCIM provisioning (SourcePushed)
)

// sourceSSOPrefix starts the source of groups asserted at SSO login.
var sourceSSOPrefix = LoginSource("")

// ProvenanceOf is the provenance of a group of source.
func ProvenanceOf(source string) string {
	switch {
	case source == SourceManual:
		return ProvenanceManual
	case source == SourcePushed:
		return ProvenanceSCIM
	case strings.HasPrefix(source, sourceSSOPrefix):
		return ProvenanceLogin
	}
	return ProvenanceSync
}

// Query narrows the account's groups: Search is a prefix of the name (case
// folded), Source a source's exact name, Provenance one of the
// provenances.
type Query struct {
	Search     string
	Source     string
	Provenance string
}

// Listed is a group with what a list shows of it.
type Listed struct {
	Group
	// Size is the number of members.
	Size       int64  `json:"size"`
	Provenance string `json:"provenance"`
}

// Listing is the query of the account's groups matching q, each row a
// group with its member count as "size", for callers to order, page or
// join (the Event access tab joins its grants). The count is a subquery on
// the members' (group, key) index, worked out only for the rows returned.
func Listing(db *gorm.DB, accountID string, q Query) *gorm.DB {
	l := db.Table("groups").
		Select("groups.id, groups.account_id, groups.source, groups.external_id, groups.name, groups.created_at, groups.updated_at, "+
			"(SELECT COUNT(*) FROM group_members m WHERE m.group_id = groups.id) AS size").
		Where("groups.account_id = ?", accountID)
	if s := strings.TrimSpace(q.Search); s != "" {
		l = l.Where("LOWER(groups.name) LIKE ? ESCAPE '\\'", likePrefix(strings.ToLower(s)))
	}
	if q.Source != "" {
		l = l.Where("groups.source = ?", q.Source)
	}
	switch q.Provenance {
	case ProvenanceManual:
		l = l.Where("groups.source = ?", SourceManual)
	case ProvenanceLogin:
		l = l.Where("groups.source LIKE ?", sourceSSOPrefix+"%")
	case ProvenanceSCIM:
		l = l.Where("groups.source = ?", SourcePushed)
	case ProvenanceSync:
		l = l.Where("groups.source NOT IN ? AND groups.source NOT LIKE ?", []string{SourceManual, SourcePushed}, sourceSSOPrefix+"%")
	}
	return l
}

// Page is a page of groups and how many match in all.
type Page struct {
	Rows  []Listed `json:"items"`
	Total int64    `json:"total"`
}

// Search returns a page of the account's groups matching q, by name;
// page counts from 1.
func Search(ctx context.Context, db *gorm.DB, accountID string, q Query, page, perPage int) (*Page, error) {
	db = db.WithContext(ctx)
	out := &Page{Rows: []Listed{}}
	if err := db.Table("(?) AS l", Listing(db, accountID, q)).Count(&out.Total).Error; err != nil {
		return nil, err
	}
	err := Listing(db, accountID, q).Order("groups.name, groups.id").Offset((page - 1) * perPage).Limit(perPage).Scan(&out.Rows).Error
	for i := range out.Rows {
		out.Rows[i].Provenance = ProvenanceOf(out.Rows[i].Source)
	}
	return out, err
}

// likePrefix is a LIKE pattern matching what starts with s.
func likePrefix(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// MembersOf is the query of the ids of the account's groups whose members
// include the email, for callers to join (a closed event's grants).
func MembersOf(db *gorm.DB, accountID, email string) *gorm.DB {
	return db.Table("group_members").Select("group_members.group_id").
		Joins("JOIN groups ON groups.id = group_members.group_id").
		Where("groups.account_id = ? AND group_members.email = ?", accountID, user.FoldEmail(email))
}
