package group

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/core/webhook"
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
	// Held says the mass-removal guard held the removals (Sync.Run):
	// HeldMembers and HeldGroups are what the held sync HeldID would
	// remove; MembersRemoved and GroupsRemoved are then 0.
	Held        bool   `json:"held,omitempty"`
	HeldID      string `json:"held_id,omitempty"`
	HeldMembers int    `json:"held_members,omitempty"`
	HeldGroups  int    `json:"held_groups,omitempty"`
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
	if r.Held {
		s += fmt.Sprintf(", held: would remove %d members and %d groups", r.HeldMembers, r.HeldGroups)
	}
	return s
}

// ErrIncomplete wraps the stream's error when the member stream did not
// finish: what arrived was saved, nothing was removed.
var ErrIncomplete = errors.New("member stream interrupted; members not received were kept")

// flushEvery is how many member writes go in one transaction. It bounds the
// pending writes in memory (two batches: one being written, one filling)
// and how long a SQLite write transaction holds the single writer (some
// 50 ms on the 2-core test machines). Transactions of 10,000 cost SQLite
// a third less than transactions of 2,000: each commit copies every page it
// changed to the WAL, and the same index pages change in batch after batch.
const flushEvery = 10000

// Apply makes the account's groups from source match groups and members:
// it inserts what is new, updates what changed and, only when the member
// stream completed, removes what the source no longer has. It never deletes
// and re-inserts a member that did not change, so member ids (and anything
// pointing at them) survive a sync. Apply has no mass-removal guard: the
// scheduler's syncs go through Sync.Run, which has one.
//
// Writes happen in batches as members arrive, one transaction each, written
// by a goroutine of their own while the stream goes on, so a large directory
// is applied in bounded memory for the pending writes; the existing members
// of the source are held in memory for the comparison.
func Apply(ctx context.Context, sdb *store.DB, accountID, source string, groups []SourceGroup, members MemberStream) (Result, error) {
	return apply(ctx, sdb, Sync{Account: accountID, Source: source, Groups: groups, Members: members}, nil)
}

// apply is Apply, with the guard g when it is not nil.
func apply(ctx context.Context, sdb *store.DB, s Sync, g *guard) (Result, error) {
	var res Result
	if s.Account == "" || s.Source == "" {
		return res, problem.New(problem.Invalid, "invalid", "group sync needs an account and a source")
	}
	now := sdb.Now()
	gs, err := saveGroups(ctx, sdb, s.Account, s.Source, s.Groups, now)
	if err != nil {
		return res, err
	}
	res.GroupsAdded, res.GroupsUpdated = gs.added, gs.renamed
	rows, err := loadMembers(sdb.W.WithContext(ctx), s.Account, s.Source, gs.byExt)
	if err != nil {
		return res, fmt.Errorf("load members: %w", err)
	}
	seen, streamErr, writeErr := applyMembers(ctx, sdb, gs.listed, rows, counted(s.Members, len(rows), s.Progress), now, &res)
	if writeErr != nil {
		return res, fmt.Errorf("save members: %w", writeErr)
	}
	if streamErr != nil {
		return res, fmt.Errorf("%w: %w", ErrIncomplete, streamErr)
	}
	gone := findGone(gs, rows)
	if held, why := g.holds(seen, len(rows), len(gone.members)); held {
		h := &HeldSync{ID: id.New(), AccountID: s.Account, Source: s.Source, RunID: g.runID, Reason: why, MaxRemovalShare: g.share,
			MembersBefore: len(rows), MembersRemove: len(gone.members), GroupsRemove: len(gone.groups),
			MembersAdded: res.MembersAdded, GroupsAdded: res.GroupsAdded, CreatedAt: now}
		if err := holdGone(ctx, sdb, h, gone, &res); err != nil {
			return res, fmt.Errorf("hold removals: %w", err)
		}
		return res, nil
	}
	if err := removeGone(ctx, sdb, s.Account, s.Source, gone, &res); err != nil {
		res.Complete = false
		return res, fmt.Errorf("remove members: %w", err)
	}
	return res, nil
}

// counted passes members through, counting them: the count is what the
// guard weighs an empty answer by, and what progress reports.
func counted(members MemberStream, before int, progress func(seen, before int)) func(*int) MemberStream {
	return func(seen *int) MemberStream {
		return func(emit func(SourceMember) error) error {
			err := members(func(m SourceMember) error {
				*seen++
				if progress != nil && *seen%progressEvery == 0 {
					progress(*seen, before)
				}
				return emit(m)
			})
			if progress != nil {
				progress(*seen, before)
			}
			return err
		}
	}
}

// sourceGroups are a source's groups once saved: byExt those stored before
// the sync, listed those the source listed, by external id.
type sourceGroups struct {
	byExt, listed  map[string]*Group
	added, renamed int
}

// saveGroups inserts the groups the source lists that are new and renames
// those whose name changed.
func saveGroups(ctx context.Context, sdb *store.DB, accountID, source string, groups []SourceGroup, now time.Time) (*sourceGroups, error) {
	var existing []Group
	if err := sdb.W.WithContext(ctx).Where("account_id = ? AND source = ?", accountID, source).Find(&existing).Error; err != nil {
		return nil, err
	}
	gs := &sourceGroups{byExt: make(map[string]*Group, len(existing)), listed: make(map[string]*Group, len(groups))}
	for i := range existing {
		gs.byExt[existing[i].ExternalID] = &existing[i]
	}
	var newGroups []Group
	var renamed []*Group
	for _, sg := range groups {
		if sg.ExternalID == "" {
			return nil, problem.New(problem.Invalid, "invalid", "group source "+source+" listed a group without an id")
		}
		if _, dup := gs.listed[sg.ExternalID]; dup {
			continue
		}
		if g, ok := gs.byExt[sg.ExternalID]; ok {
			if g.Name != sg.Name {
				g.Name, g.UpdatedAt = sg.Name, now
				renamed = append(renamed, g)
			}
			gs.listed[sg.ExternalID] = g
			continue
		}
		newGroups = append(newGroups, Group{ID: id.New(), AccountID: accountID, Source: source, ExternalID: sg.ExternalID, Name: sg.Name, CreatedAt: now, UpdatedAt: now})
		gs.listed[sg.ExternalID] = &newGroups[len(newGroups)-1]
	}
	// newGroups may have moved while growing: point listed at the final copies.
	for i := range newGroups {
		gs.listed[newGroups[i].ExternalID] = &newGroups[i]
	}
	err := sdb.Tx(ctx, func(tx *store.Tx) error {
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
		return nil, fmt.Errorf("save groups: %w", err)
	}
	gs.added, gs.renamed = len(newGroups), len(renamed)
	return gs, nil
}

// applyMembers compares the stream's members with rows, the stored ones,
// marking those it sees, and writes what is new or changed in batches of
// flushEvery, written in a goroutine of their own while the stream goes
// on: the source's listing and the comparison overlap the database work.
// What arrived is saved even when the stream broke (streamErr).
func applyMembers(ctx context.Context, sdb *store.DB, listed map[string]*Group, rows []storedMember, count func(*int) MemberStream, now time.Time, res *Result) (seen int, streamErr, writeErr error) {
	members := count(&seen)
	// have maps a member to its index in rows, or to -1 when this sync
	// inserts it.
	type gk struct{ group, key string }
	have := make(map[gk]int32, len(rows))
	for i := range rows {
		have[gk{rows[i].GroupID, rows[i].MemberKey}] = int32(i)
	}
	wr := startWriting(ctx, sdb, &memberWriter{now: now})
	var inserts []newMember
	var updates []changedMember
	flush := func() {
		if len(inserts) > 0 || len(updates) > 0 {
			wr.write(inserts, updates)
			inserts, updates = nil, nil
		}
	}
	streamErr = members(func(sm SourceMember) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		g, ok := listed[sm.GroupExternalID]
		email := user.FoldEmail(sm.Email)
		key := memberKey(sm.ExternalID, email)
		if !ok || key == "" {
			res.MembersSkipped++
			return nil
		}
		k := gk{g.ID, key}
		if i, ok := have[k]; ok {
			if i < 0 || rows[i].seen {
				res.MembersSkipped++
				return nil
			}
			s := &rows[i]
			s.seen = true
			if s.Email != email || s.Name != sm.Name || s.ExternalID != sm.ExternalID {
				if updates == nil {
					updates = make([]changedMember, 0, flushEvery)
				}
				updates = append(updates, changedMember{ID: s.ID, ExternalID: sm.ExternalID, Email: email, Name: sm.Name})
			}
		} else {
			have[k] = -1
			if inserts == nil {
				inserts = make([]newMember, 0, flushEvery)
			}
			inserts = append(inserts, newMember{GroupID: g.ID, Key: key, ExternalID: sm.ExternalID, Email: email, Name: sm.Name})
		}
		if len(inserts)+len(updates) >= flushEvery {
			if err := wr.failure(); err != nil {
				return err
			}
			flush()
		}
		return nil
	})
	flush()
	res.MembersAdded, res.MembersUpdated, writeErr = wr.finish()
	return seen, streamErr, writeErr
}

// gone is what a complete stream did not send: the ids of the stored
// members it did not send (those of groups no longer listed among them) and
// of the groups it no longer lists.
type gone struct {
	members, groups []string
}

func findGone(gs *sourceGroups, rows []storedMember) gone {
	var out gone
	for i := range rows {
		if !rows[i].seen {
			out.members = append(out.members, rows[i].ID)
		}
	}
	for ext, g := range gs.byExt {
		if _, ok := gs.listed[ext]; !ok {
			out.groups = append(out.groups, g.ID)
		}
	}
	return out
}

// removeGone removes, once the source sent everything, the members it did
// not send and the groups it did not list, drops the source's held sync
// (this newer answer supersedes it) and records the sync.
func removeGone(ctx context.Context, sdb *store.DB, accountID, source string, gone gone, res *Result) error {
	return sdb.Tx(ctx, func(tx *store.Tx) error {
		for _, chunk := range chunks(gone.members, 500) {
			r := tx.Where("id IN ?", chunk).Delete(&Member{})
			if r.Error != nil {
				return r.Error
			}
			res.MembersRemoved += int(r.RowsAffected)
		}
		for _, chunk := range chunks(gone.groups, 500) {
			if err := tx.Where("group_id IN ?", chunk).Delete(&Member{}).Error; err != nil {
				return err
			}
			r := tx.Where("id IN ?", chunk).Delete(&Group{})
			if r.Error != nil {
				return r.Error
			}
			res.GroupsRemoved += int(r.RowsAffected)
		}
		if err := dropHeld(tx, accountID, source); err != nil {
			return err
		}
		res.Complete = true
		if err := webhook.Emit(tx, accountID, webhook.GroupSyncCompleted, "group_source:"+source, webhook.Payload{"source": source, "result": res}); err != nil {
			return err
		}
		if *res == (Result{Complete: true}) {
			return nil
		}
		return audit.Record(tx, accountID, audit.Actor{Kind: audit.ActorPlugin, ID: source}, "group.synced", "group_source", source,
			map[string]any{"result": res.String()})
	})
}

// holdGone records h, the source's held sync, in place of the removals.
func holdGone(ctx context.Context, sdb *store.DB, h *HeldSync, gone gone, res *Result) error {
	return sdb.Tx(ctx, func(tx *store.Tx) error {
		if err := hold(tx, h, gone.members, gone.groups); err != nil {
			return err
		}
		res.Complete, res.Held, res.HeldID = true, true, h.ID
		res.HeldMembers, res.HeldGroups = h.MembersRemove, h.GroupsRemove
		if err := webhook.Emit(tx, h.AccountID, webhook.GroupSyncHeld, "group_source:"+h.Source, webhook.Payload{"source": h.Source,
			"held_id": h.ID, "reason": h.Reason, "members_remove": h.MembersRemove, "groups_remove": h.GroupsRemove}); err != nil {
			return err
		}
		return audit.Record(tx, h.AccountID, audit.Actor{Kind: audit.ActorPlugin, ID: h.Source}, "group.sync_held", "group_source", h.Source,
			map[string]any{"result": res.String(), "reason": h.Reason, "held_id": h.ID})
	})
}

// storedMember is a member row as the comparison needs it.
type storedMember struct {
	ID, GroupID, MemberKey, ExternalID, Email, Name string
	seen                                            bool
}

// loadMembers reads the members of the source's existing groups (byExt),
// with plain database/sql scanning: a large directory has many.
func loadMembers(db *gorm.DB, accountID, source string, byExt map[string]*Group) ([]storedMember, error) {
	if len(byExt) == 0 {
		return nil, nil
	}
	// The group ids are those of byExt: use its strings rather than a copy
	// per member.
	groupIDs := make(map[string]string, len(byExt))
	for _, g := range byExt {
		groupIDs[g.ID] = g.ID
	}
	var out []storedMember
	rs, err := db.Raw("SELECT m.id, m.group_id, m.member_key, m.external_id, m.email, m.name FROM group_members m "+
		"JOIN groups g ON g.id = m.group_id WHERE g.account_id = ? AND g.source = ?", accountID, source).Rows()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var groupID sql.RawBytes
	var ext, email, name sql.NullString
	for rs.Next() {
		var m storedMember
		if err := rs.Scan(&m.ID, &groupID, &m.MemberKey, &ext, &email, &name); err != nil {
			return nil, err
		}
		gid, ok := groupIDs[string(groupID)]
		if !ok {
			gid = string(groupID)
		}
		m.GroupID, m.ExternalID, m.Email, m.Name = gid, ext.String, email.String, name.String
		out = append(out, m)
	}
	return out, rs.Err()
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
