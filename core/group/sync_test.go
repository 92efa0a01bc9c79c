package group_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/webhook"
)

// people are n members of group g1 (u0..), from index from.
func people(from, n int) []group.SourceMember {
	out := make([]group.SourceMember, n)
	for i := range out {
		k := from + i
		out[i] = group.SourceMember{GroupExternalID: "g1", ExternalID: fmt.Sprintf("u%d", k), Email: fmt.Sprintf("p%02d@example.org", k), Name: fmt.Sprintf("P %d", k)}
	}
	return out
}

var staff = []group.SourceGroup{{ExternalID: "g1", Name: "Staff"}}

func syncOf(ms group.MemberStream) group.Sync {
	return group.Sync{Account: "acct-1", Source: "ldap", Groups: staff, Members: ms, MaxRemovalShare: group.DefaultMaxRemovalShare, RunID: "run-1"}
}

func memberEmails(t *testing.T, db *store.DB) []string {
	t.Helper()
	var out []string
	if err := db.R.Model(&group.Member{}).Order("email").Pluck("email", &out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func auditActions(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	var as []string
	if err := db.R.Model(&audit.Entry{}).Pluck("action", &as).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range as {
		out[a]++
	}
	return out
}

// A sync that would remove 30% of a source's members is held: its
// additions are applied, nothing is removed, the held sync lists exactly the
// members it would remove; confirming removes them.
func TestSyncHoldsMassRemovalUntilConfirmed(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hooks, err := webhook.New(db, webhook.Config{AllowPrivateTargets: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hooks.Create(ctx, "acct-1", audit.Actor{Kind: audit.ActorUser, ID: "admin"},
			webhook.Input{URL: "http://127.0.0.1:9/in", Types: []string{webhook.GroupSyncHeld}}); err != nil {
			t.Fatal(err)
		}
		if res, err := syncOf(stream(people(0, 10)...)).Run(ctx, db); err != nil || res.MembersAdded != 10 || res.Held {
			t.Fatalf("first sync = %+v, %v", res, err)
		}
		// u0..u2 gone (30%), u10 new.
		res, err := syncOf(stream(append(people(3, 7), people(10, 1)...)...)).Run(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Held || res.HeldMembers != 3 || res.MembersRemoved != 0 || res.MembersAdded != 1 || !res.Complete {
			t.Fatalf("30%% removal = %+v, want held with 3 members, 1 added", res)
		}
		if n := len(memberEmails(t, db)); n != 11 {
			t.Fatalf("members after the held sync = %d, want 11 (nothing removed, one added)", n)
		}
		var held []string
		db.R.Raw("SELECT body FROM webhook_events WHERE type = ?", webhook.GroupSyncHeld).Scan(&held)
		if len(held) != 1 || !strings.Contains(held[0], `"members_remove":3`) || !strings.Contains(held[0], res.HeldID) {
			t.Fatalf("group_sync.held events %v, want one naming the held sync and its 3 removals", held)
		}
		h, err := group.Held(ctx, db.R, "acct-1", "ldap")
		if err != nil || h == nil {
			t.Fatalf("held = %v, %v", h, err)
		}
		if h.ID != res.HeldID || h.Reason != group.HeldShare || h.MembersBefore != 10 || h.MembersRemove != 3 || h.MembersAdded != 1 || h.RunID != "run-1" {
			t.Fatalf("held sync = %+v", h)
		}
		rm, total, err := group.HeldRemovals(ctx, db.R, h.ID, 1, 2)
		if err != nil || total != 3 || len(rm) != 2 || rm[0].Email != "p00@example.org" || rm[1].Email != "p01@example.org" || rm[0].GroupName != "Staff" {
			t.Fatalf("held removals page 1 = %+v (total %d), %v", rm, total, err)
		}
		rm, _, _ = group.HeldRemovals(ctx, db.R, h.ID, 2, 2)
		if len(rm) != 1 || rm[0].Email != "p02@example.org" {
			t.Fatalf("held removals page 2 = %+v", rm)
		}

		if _, err := group.Confirm(ctx, db, "acct-1", "ldap", "not-the-id", audit.Actor{Kind: audit.ActorUser, ID: "admin"}); !errors.Is(err, group.ErrNoHeldSync) {
			t.Fatalf("confirm of another held id = %v, want ErrNoHeldSync", err)
		}
		done, err := group.Confirm(ctx, db, "acct-1", "ldap", h.ID, audit.Actor{Kind: audit.ActorUser, ID: "admin"})
		if err != nil || done.MembersRemoved != 3 {
			t.Fatalf("confirm = %+v, %v", done, err)
		}
		got := memberEmails(t, db)
		if len(got) != 8 || got[0] != "p03@example.org" {
			t.Fatalf("members after confirm = %v", got)
		}
		if h, _ := group.Held(ctx, db.R, "acct-1", "ldap"); h != nil {
			t.Fatalf("held sync still there after confirm: %+v", h)
		}
		if _, err := group.Confirm(ctx, db, "acct-1", "ldap", "", audit.Actor{Kind: audit.ActorUser, ID: "admin"}); !errors.Is(err, group.ErrNoHeldSync) {
			t.Fatalf("second confirm = %v, want ErrNoHeldSync", err)
		}
		var left int64
		db.R.Model(&group.HeldMember{}).Count(&left)
		if a := auditActions(t, db); a["group.sync_held"] != 1 || a["group.held_sync_confirmed"] != 1 || left != 0 {
			t.Fatalf("audit = %v, held member rows left %d", a, left)
		}
	})
}

// Discarding a held sync removes nothing and drops it; the next sync of the
// same answer is held again, judged afresh.
func TestSyncDiscardKeepsMembers(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		syncOf(stream(people(0, 10)...)).Run(ctx, db)
		res, err := syncOf(stream(people(5, 5)...)).Run(ctx, db)
		if err != nil || !res.Held || res.HeldMembers != 5 {
			t.Fatalf("50%% removal = %+v, %v", res, err)
		}
		if err := group.Discard(ctx, db, "acct-1", "ldap", res.HeldID, audit.Actor{Kind: audit.ActorUser, ID: "admin"}); err != nil {
			t.Fatal(err)
		}
		if n := len(memberEmails(t, db)); n != 10 {
			t.Fatalf("members after discard = %d, want 10", n)
		}
		if h, _ := group.Held(ctx, db.R, "acct-1", "ldap"); h != nil {
			t.Fatalf("held sync after discard: %+v", h)
		}
		if err := group.Discard(ctx, db, "acct-1", "ldap", "", audit.Actor{Kind: audit.ActorUser, ID: "admin"}); !errors.Is(err, group.ErrNoHeldSync) {
			t.Fatalf("second discard = %v", err)
		}
		again, err := syncOf(stream(people(5, 5)...)).Run(ctx, db)
		if err != nil || !again.Held || again.HeldID == res.HeldID {
			t.Fatalf("same answer again = %+v, %v", again, err)
		}
		if a := auditActions(t, db); a["group.held_sync_discarded"] != 1 || a["group.sync_held"] != 2 {
			t.Fatalf("audit = %v", a)
		}
	})
}

// An empty answer for a source with members is held, whatever the share;
// a failing stream removes nothing and holds nothing.
func TestSyncEmptyOrFailingAnswerRemovesNothing(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		syncOf(stream(people(0, 10)...)).Run(ctx, db)
		s := syncOf(stream())
		s.MaxRemovalShare = 1
		res, err := s.Run(ctx, db)
		if err != nil || !res.Held || res.HeldMembers != 10 || res.MembersRemoved != 0 {
			t.Fatalf("empty answer = %+v, %v", res, err)
		}
		if h, _ := group.Held(ctx, db.R, "acct-1", "ldap"); h == nil || h.Reason != group.HeldEmpty {
			t.Fatalf("held sync of an empty answer = %+v", h)
		}
		// The whole directory gone, groups too: still held.
		s = syncOf(stream())
		s.Groups = nil
		if res, err = s.Run(ctx, db); err != nil || !res.Held || res.HeldGroups != 1 || res.GroupsRemoved != 0 {
			t.Fatalf("empty listing = %+v, %v", res, err)
		}

		res, err = syncOf(brokenStream(people(0, 2)...)).Run(ctx, db)
		if !errors.Is(err, group.ErrIncomplete) || res.Complete || res.Held || res.MembersRemoved != 0 {
			t.Fatalf("broken stream = %+v, %v", res, err)
		}
		if n := len(memberEmails(t, db)); n != 10 {
			t.Fatalf("members after an empty and a failing answer = %d, want 10", n)
		}
		var groups int64
		db.R.Model(&group.Group{}).Count(&groups)
		if groups != 1 {
			t.Fatalf("groups = %d, want 1", groups)
		}
	})
}

// Removals within the share are applied at once, and the newer answer
// drops a held sync it supersedes.
func TestSyncWithinShareApplies(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		syncOf(stream(people(0, 10)...)).Run(ctx, db)
		if res, _ := syncOf(stream(people(5, 5)...)).Run(ctx, db); !res.Held {
			t.Fatalf("50%% removal not held: %+v", res)
		}
		res, err := syncOf(stream(people(2, 8)...)).Run(ctx, db) // 20%: not more than the share
		if err != nil || res.Held || res.MembersRemoved != 2 {
			t.Fatalf("20%% removal = %+v, %v", res, err)
		}
		if h, _ := group.Held(ctx, db.R, "acct-1", "ldap"); h != nil {
			t.Fatalf("superseded held sync still there: %+v", h)
		}
		var rows int64
		db.R.Model(&group.HeldMember{}).Count(&rows)
		if rows != 0 {
			t.Fatalf("held member rows left: %d", rows)
		}
		s := syncOf(stream(people(2, 7)...))
		s.MaxRemovalShare = 0
		if res, _ := s.Run(ctx, db); !res.Held || res.HeldMembers != 1 {
			t.Fatalf("share 0, one removal = %+v, want held", res)
		}
		s.MaxRemovalShare = 1.5
		if _, err := s.Run(ctx, db); err == nil {
			t.Fatal("share 1.5 accepted")
		}
	})
}
