package resource

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Fields are what a platform says of one of its resources. The gateway
// keeps them as the platform last said: a course renamed on the platform
// renames its room here at the next launch.
type Fields struct {
	Type  Type
	Title string
	// StartsAt and EndsAt are the platform's schedule; nil when it has none.
	StartsAt, EndsAt *time.Time
	// ChatCollab and MediaPage are the platform's Chat & Collaboration
	// setting of a room and media page setting of a media entry; nil
	// leaves the gateway's value (on, for a new resource) as it is, which
	// the API may change.
	ChatCollab, MediaPage *bool
	// By is who brought the resource in (the API caller, the LTI
	// launcher), named in the audit entries; zero means the adapter itself.
	By audit.Actor
}

// MaxAdapter is the longest adapter name the resources table holds;
// maxTitle the longest title.
const (
	MaxAdapter = 100
	maxTitle   = 300
)

// Indexes implements store.Indexer: one live resource per platform
// resource, so a room that arrives twice (from two launches, a launch and
// an API call, or two replicas at once) is one resource. Resources the
// gateway hosts itself have no adapter and are not in the index, whatever
// external id the API gave them; a deleted resource leaves it, so the
// platform's resource can come back as a new one, its old links still
// saying it was deleted.
func (Resource) Indexes() []string {
	return []string{
		"CREATE UNIQUE INDEX IF NOT EXISTS idx_resources_platform ON resources (account_id, adapter, external_id) WHERE adapter <> '' AND deleted_at IS NULL",
	}
}

const (
	// The unique index decides between concurrent upserts: the insert of
	// all but one does nothing (on PostgreSQL, once the first commits).
	sqlInsertExternal = `INSERT INTO resources (id, account_id, type, title, description, starts_at, ends_at, time_zone, chat_collab, adapter, external_id, created_by, created_at, updated_at, media_page_off)
VALUES ($1, $2, $3, $4, '', $5, $6, '', $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (account_id, adapter, external_id) WHERE adapter <> '' AND deleted_at IS NULL DO NOTHING`

	// Only a change is written, and only once: of concurrent upserts
	// bringing the same change, the WHERE (re-checked on PostgreSQL after
	// the row lock) lets one through, so one audit entry tells of it.
	// A setting the platform does not give ($6, $7 NULL) is left as it
	// is. Parameters first appear in their order: SQLite numbers them so.
	sqlUpdateExternal = `UPDATE resources SET type = $1, title = $2, starts_at = $3, ends_at = $4, updated_at = $5,
chat_collab = COALESCE(CAST($6 AS BOOLEAN), chat_collab), media_page_off = COALESCE(CAST($7 AS BOOLEAN), media_page_off)
WHERE id = $8 AND (type <> $1 OR title <> $2 OR starts_at IS DISTINCT FROM $3 OR ends_at IS DISTINCT FROM $4
OR chat_collab <> COALESCE(CAST($6 AS BOOLEAN), chat_collab) OR media_page_off <> COALESCE(CAST($7 AS BOOLEAN), media_page_off))`
)

// Upsert makes, in tx, the account's resource for the adapter's resource
// externalID, or brings the one there is up to date with f. created
// tells which. It is the one way resources arrive from outside (LTI
// launches, the API's link, adapters): the unique index on (account,
// adapter, external id) makes it exactly once however many arrive at the
// same time, and each creation and change is in the audit log.
func Upsert(tx *store.Tx, accountID, adapter, externalID string, f Fields) (*Resource, bool, error) {
	if err := checkKey(accountID, adapter, externalID); err != nil {
		return nil, false, err
	}
	if err := f.normalize(externalID); err != nil {
		return nil, false, err
	}
	by := f.By
	if by.Kind == "" {
		by = audit.Actor{Kind: audit.ActorPlugin, ID: adapter}
	}
	now := tx.Now()
	r := &Resource{ID: id.New(), AccountID: accountID, Type: f.Type, Title: f.Title, StartsAt: f.StartsAt, EndsAt: f.EndsAt,
		ChatCollab: f.ChatCollab == nil || *f.ChatCollab, MediaPageOff: f.MediaPage != nil && !*f.MediaPage,
		Adapter: adapter, ExternalID: externalID, CreatedBy: f.By.ID, CreatedAt: now, UpdatedAt: now}
	res, err := tx.ExecSQL(sqlInsertExternal, r.ID, accountID, string(r.Type), r.Title, timeArg(r.StartsAt), timeArg(r.EndsAt),
		r.ChatCollab, adapter, externalID, r.CreatedBy, now, now, r.MediaPageOff)
	if err != nil {
		return nil, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, err
	} else if n == 1 {
		err := audit.Record(tx, accountID, by, "resource.created", "resource", r.ID, map[string]any{"type": r.Type, "adapter": adapter, "external_id": externalID})
		return r, true, err
	}
	cur, err := byExternal(tx, accountID, adapter, externalID)
	if err != nil {
		return nil, false, err
	}
	changed := cur.differences(&f)
	if len(changed) == 0 {
		return cur, false, nil
	}
	var mediaPageOff *bool
	if f.MediaPage != nil {
		off := !*f.MediaPage
		mediaPageOff = &off
	}
	res, err = tx.ExecSQL(sqlUpdateExternal, string(f.Type), f.Title, timeArg(f.StartsAt), timeArg(f.EndsAt), now,
		boolArg(f.ChatCollab), boolArg(mediaPageOff), cur.ID)
	if err != nil {
		return nil, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, err
	} else if n == 0 {
		// Another upsert made the same change first.
		cur, err = byExternal(tx, accountID, adapter, externalID)
		return cur, false, err
	}
	cur.Type, cur.Title, cur.StartsAt, cur.EndsAt, cur.UpdatedAt = f.Type, f.Title, f.StartsAt, f.EndsAt, now
	if f.ChatCollab != nil {
		cur.ChatCollab = *f.ChatCollab
	}
	if mediaPageOff != nil {
		cur.MediaPageOff = *mediaPageOff
	}
	err = audit.Record(tx, accountID, by, "resource.updated", "resource", cur.ID, map[string]any{"changed": changed, "adapter": adapter})
	return cur, false, err
}

// checkKey refuses a platform resource the table cannot hold.
func checkKey(accountID, adapter, externalID string) error {
	var fs problem.Fields
	switch {
	case accountID == "":
		return errors.New("resource: upsert without an account")
	case adapter == "":
		fs.Add("adapter", "adapter is required")
	case len(adapter) > MaxAdapter:
		fs.Add("adapter", fmt.Sprintf("adapter is longer than %d characters", MaxAdapter))
	}
	if externalID == "" {
		fs.Add("external_id", "external id is required")
	} else if len(externalID) > MaxExternalID {
		fs.Add("external_id", fmt.Sprintf("external id is longer than %d characters", MaxExternalID))
	}
	return fs.Err()
}

// normalize makes what a platform said fit the gateway's rules, rather than
// refusing it: the platform is the truth about its resources, and the
// person who launched one did not write its title. A missing title is the
// external id; a long one is cut; media have no schedule; an end that is
// not after the start is dropped.
func (f *Fields) normalize(externalID string) error {
	if !f.Type.Valid() {
		return problem.Field("type", fmt.Sprintf("unknown resource type %q", f.Type))
	}
	f.Title = strings.TrimSpace(f.Title)
	if f.Title == "" {
		f.Title = externalID
	}
	if len(f.Title) > maxTitle {
		cut := maxTitle
		for cut > 0 && !utf8.RuneStart(f.Title[cut]) {
			cut--
		}
		f.Title = f.Title[:cut]
	}
	f.StartsAt, f.EndsAt = utc(f.StartsAt), utc(f.EndsAt)
	if !f.Type.Scheduled() {
		f.StartsAt, f.EndsAt = nil, nil
	}
	if f.StartsAt != nil && f.EndsAt != nil && !f.EndsAt.After(*f.StartsAt) {
		f.EndsAt = nil
	}
	return nil
}

// differences names the fields the platform changed.
func (r *Resource) differences(f *Fields) []string {
	var out []string
	if r.Type != f.Type {
		out = append(out, "type")
	}
	if r.Title != f.Title {
		out = append(out, "title")
	}
	if !sameTime(r.StartsAt, f.StartsAt) {
		out = append(out, "starts_at")
	}
	if !sameTime(r.EndsAt, f.EndsAt) {
		out = append(out, "ends_at")
	}
	if f.ChatCollab != nil && *f.ChatCollab != r.ChatCollab {
		out = append(out, "chat_collaboration")
	}
	if f.MediaPage != nil && *f.MediaPage == r.MediaPageOff {
		out = append(out, "media_page")
	}
	return out
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// boolArg binds an optional bool: NULL when there is none.
func boolArg(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// timeArg binds an optional time: NULL when there is none.
func timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// byExternal loads the live resource of the account for a platform resource.
func byExternal(tx *store.Tx, accountID, adapter, externalID string) (*Resource, error) {
	var r Resource
	err := tx.Read(tx.Context()).Where("account_id = ? AND adapter = ? AND external_id = ? AND deleted_at IS NULL", accountID, adapter, externalID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.StartsAt, r.EndsAt = utc(r.StartsAt), utc(r.EndsAt)
	return &r, nil
}

// PlatformID is the resource's id on its platform: its external id, or
// the gateway's id for a resource an adapter hosts under it.
func (r *Resource) PlatformID() string {
	if r.ExternalID != "" {
		return r.ExternalID
	}
	return r.ID
}
