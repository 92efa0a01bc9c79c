package group

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
)

// SourceGroup is a group as a source lists it.
type SourceGroup struct {
	ExternalID string
	Name       string
}

// SourceMember is a member as a source streams it.
type SourceMember struct {
	GroupExternalID string
	ExternalID      string
	Email           string
	Name            string
}

// MemberStream pushes every member of a source to emit and returns nil only
// when it sent them all. An error (a broken connection, a crashed plugin)
// means the members not yet sent are unknown, not gone.
type MemberStream func(emit func(SourceMember) error) error

// Result counts what Apply changed.
type Result struct {
	GroupsAdded    int `json:"groups_added"`
	GroupsUpdated  int `json:"groups_updated"`
	GroupsRemoved  int `json:"groups_removed"`
	MembersAdded   int `json:"members_added"`
	MembersUpdated int `json:"members_updated"`
	MembersRemoved int `json:"members_removed"`
	// MembersSkipped counts members Apply could not use: no id and no email,
	// a group not in the list, or sent twice.
	MembersSkipped int `json:"members_skipped"`
	// Complete is false when the stream failed: then nothing was removed.
	Complete bool `json:"complete"`
}

func (r Result) String() string {
	s := fmt.Sprintf("groups +%d ~%d -%d, members +%d ~%d -%d",
		r.GroupsAdded, r.GroupsUpdated, r.GroupsRemoved, r.MembersAdded, r.MembersUpdated, r.MembersRemoved)
	if r.MembersSkipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.MembersSkipped)
	}
	if !r.Complete {
		s += ", incomplete (nothing removed)"
	}
	return s
}

// ErrIncomplete wraps the stream's error when the member stream did not
// finish: what arrived was saved, nothing was removed.
var ErrIncomplete = errors.New("member stream interrupted; members not received were kept")

// flushEvery bounds how many pending writes wait in memory, and how long a
// SQLite write transaction holds the single writer.
const flushEvery = 2000

// Apply makes the account's groups from source match groups and members:
// it inserts what is new, updates what changed and, only when the member
// stream completed, removes what the source no longer has. It never deletes
// and re-inserts a member that did not change, so member ids (and anything
// pointing at them) survive a sync.
//
// Writes happen in batches as members arrive, so a large directory is
// applied in bounded memory for the pending writes; the existing members of
// the source are held in memory for the comparison.
func Apply(ctx context.Context, db *gorm.DB, accountID, source string, groups []SourceGroup, members MemberStream) (Result, error) {
	var res Result
	if accountID == "" || source == "" {
		return res, problem.New(problem.Invalid, "invalid", "group sync needs an account and a source")
	}
	db = db.WithContext(ctx)
	now := time.Now().UTC()

	// Groups: insert new, rename changed.
	var existing []Group
	if err := db.Where("account_id = ? AND source = ?", accountID, source).Find(&existing).Error; err != nil {
		return res, err
	}
	byExt := make(map[string]*Group, len(existing))
	for i := range existing {
		byExt[existing[i].ExternalID] = &existing[i]
	}
	listed := make(map[string]*Group, len(groups))
	var newGroups []Group
	var renamed []*Group
	for _, sg := range groups {
		if sg.ExternalID == "" {
			return res, problem.New(problem.Invalid, "invalid", "group source "+source+" listed a group without an id")
		}
		if _, dup := listed[sg.ExternalID]; dup {
			continue
		}
		if g, ok := byExt[sg.ExternalID]; ok {
			if g.Name != sg.Name {
				g.Name, g.UpdatedAt = sg.Name, now
				renamed = append(renamed, g)
			}
			listed[sg.ExternalID] = g
			continue
		}
		newGroups = append(newGroups, Group{ID: id.New(), AccountID: accountID, Source: source, ExternalID: sg.ExternalID, Name: sg.Name, CreatedAt: now, UpdatedAt: now})
		listed[sg.ExternalID] = &newGroups[len(newGroups)-1]
	}
	// newGroups may have moved while growing: point listed at the final copies.
	for i := range newGroups {
		listed[newGroups[i].ExternalID] = &newGroups[i]
	}
	err := db.Transaction(func(tx *gorm.DB) error {
		if len(newGroups) > 0 {
			if err := tx.CreateInBatches(newGroups, 500).Error; err != nil {
				return err
			}
		}
		for _, g := range renamed {
			if err := tx.Model(&Group{}).Where("id = ?", g.ID).Updates(map[string]any{"name": g.Name, "updated_at": now}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("save groups: %w", err)
	}
	res.GroupsAdded, res.GroupsUpdated = len(newGroups), len(renamed)

	// Members already stored for this source, keyed by group then member key.
	type stored struct {
		ID, GroupID, MemberKey, ExternalID, Email, Name string
		seen                                            bool
	}
	var rows []stored
	err = db.Model(&Member{}).
		Select("group_members.id, group_members.group_id, group_members.member_key, group_members.external_id, group_members.email, group_members.name").
		Joins("JOIN groups ON groups.id = group_members.group_id").
		Where("groups.account_id = ? AND groups.source = ?", accountID, source).
		Scan(&rows).Error
	if err != nil {
		return res, fmt.Errorf("load members: %w", err)
	}
	type gk struct{ group, key string }
	have := make(map[gk]*stored, len(rows))
	for i := range rows {
		have[gk{rows[i].GroupID, rows[i].MemberKey}] = &rows[i]
	}
	added := make(map[gk]bool)

	var inserts []Member
	var updates []Member
	flush := func() error {
		if len(inserts) == 0 && len(updates) == 0 {
			return nil
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if len(inserts) > 0 {
				if err := tx.CreateInBatches(inserts, 500).Error; err != nil {
					return err
				}
			}
			for _, m := range updates {
				if err := tx.Model(&Member{}).Where("id = ?", m.ID).
					Updates(map[string]any{"external_id": m.ExternalID, "email": m.Email, "name": m.Name, "updated_at": now}).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save members: %w", err)
		}
		res.MembersAdded += len(inserts)
		res.MembersUpdated += len(updates)
		inserts, updates = inserts[:0], updates[:0]
		return nil
	}

	var writeErr error
	streamErr := members(func(sm SourceMember) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		g, ok := listed[sm.GroupExternalID]
		email := NormalizeEmail(sm.Email)
		key := memberKey(sm.ExternalID, email)
		if !ok || key == "" {
			res.MembersSkipped++
			return nil
		}
		k := gk{g.ID, key}
		if s, ok := have[k]; ok {
			if s.seen {
				res.MembersSkipped++
				return nil
			}
			s.seen = true
			if s.Email != email || s.Name != sm.Name || s.ExternalID != sm.ExternalID {
				updates = append(updates, Member{ID: s.ID, ExternalID: sm.ExternalID, Email: email, Name: sm.Name})
			}
		} else {
			if added[k] {
				res.MembersSkipped++
				return nil
			}
			added[k] = true
			inserts = append(inserts, Member{ID: id.New(), GroupID: g.ID, Key: key, ExternalID: sm.ExternalID, Email: email, Name: sm.Name, CreatedAt: now, UpdatedAt: now})
		}
		if len(inserts)+len(updates) >= flushEvery {
			if err := flush(); err != nil {
				writeErr = err
				return err
			}
		}
		return nil
	})
	if writeErr != nil {
		return res, writeErr
	}
	// What arrived is real, even when the stream broke: save it.
	if err := flush(); err != nil {
		return res, err
	}
	if streamErr != nil {
		return res, fmt.Errorf("%w: %w", ErrIncomplete, streamErr)
	}

	// The source sent everything: what was not sent is gone.
	var goneMembers []string
	for i := range rows {
		if !rows[i].seen {
			goneMembers = append(goneMembers, rows[i].ID)
		}
	}
	var goneGroups []string
	for ext, g := range byExt {
		if _, ok := listed[ext]; !ok {
			goneGroups = append(goneGroups, g.ID)
		}
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		for _, chunk := range chunks(goneMembers, 500) {
			r := tx.Where("id IN ?", chunk).Delete(&Member{})
			if r.Error != nil {
				return r.Error
			}
			res.MembersRemoved += int(r.RowsAffected)
		}
		for _, chunk := range chunks(goneGroups, 500) {
			if err := tx.Where("group_id IN ?", chunk).Delete(&Member{}).Error; err != nil {
				return err
			}
			r := tx.Where("id IN ?", chunk).Delete(&Group{})
			if r.Error != nil {
				return r.Error
			}
			res.GroupsRemoved += int(r.RowsAffected)
		}
		res.Complete = true
		if res == (Result{Complete: true}) {
			return nil
		}
		return audit.Record(tx, accountID, audit.Actor{Kind: audit.ActorPlugin, ID: source}, "group.synced", "group_source", source,
			map[string]any{"result": res.String()})
	})
	if err != nil {
		res.Complete = false
		return res, fmt.Errorf("remove members: %w", err)
	}
	return res, nil
}

func memberKey(externalID, email string) string {
	if externalID != "" {
		return "id:" + externalID
	}
	if email != "" {
		return "email:" + email
	}
	return ""
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
