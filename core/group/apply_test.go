package group_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/core/webhook"
)

func models() []any {
	return append(table.Models(append(group.Tables(), webhook.Tables()...)), &audit.Entry{})
}

func stream(ms ...group.SourceMember) group.MemberStream {
	return func(emit func(group.SourceMember) error) error {
		for _, m := range ms {
			if err := emit(m); err != nil {
				return err
			}
		}
		return nil
	}
}

// brokenStream sends ms then fails, as a crashed plugin's stream does.
func brokenStream(ms ...group.SourceMember) group.MemberStream {
	return func(emit func(group.SourceMember) error) error {
		if err := stream(ms...)(emit); err != nil {
			return err
		}
		return errors.New("plugin unavailable: connection reset")
	}
}

type snapshot map[string][]string // group external id -> "key|email|name"

func snap(t *testing.T, db *store.DB, account, source string) snapshot {
	t.Helper()
	ctx := context.Background()
	gs, err := group.List(ctx, db.R, account)
	if err != nil {
		t.Fatal(err)
	}
	out := snapshot{}
	for _, g := range gs {
		if g.Source != source {
			continue
		}
		ms, err := group.Members(ctx, db.R, g.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		list := []string{}
		for _, m := range ms {
			list = append(list, fmt.Sprintf("%s|%s|%s", m.ExternalID, m.Email, m.Name))
		}
		sort.Strings(list)
		out[g.ExternalID+"="+g.Name] = list
	}
	return out
}

func TestApply(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const acct, src = "acct-1", "okta"
		groups := []group.SourceGroup{{ExternalID: "g1", Name: "Staff"}, {ExternalID: "g2", Name: "Students"}}

		res, err := group.Apply(ctx, db, acct, src, groups, stream(
			group.SourceMember{GroupExternalID: "g1", ExternalID: "u1", Email: "Ann@Example.org", Name: "Ann"},
			group.SourceMember{GroupExternalID: "g1", Email: "bob@example.org", Name: "Bob"},
			group.SourceMember{GroupExternalID: "g2", ExternalID: "u3", Email: "cy@example.org", Name: "Cy"},
			group.SourceMember{GroupExternalID: "g2", ExternalID: "u3", Email: "cy@example.org", Name: "Cy"}, // duplicate
			group.SourceMember{GroupExternalID: "nope", ExternalID: "u4"},                                    // unknown group
			group.SourceMember{GroupExternalID: "g2"},                                                        // no identity
		))
		if err != nil {
			t.Fatal(err)
		}
		want := group.Result{GroupsAdded: 2, MembersAdded: 3, MembersSkipped: 3, Complete: true}
		if res != want {
			t.Fatalf("first sync = %+v, want %+v", res, want)
		}
		before, _ := group.List(ctx, db.R, acct)
		var memberIDs []string
		for _, g := range before {
			ms, _ := group.Members(ctx, db.R, g.ID, 0, 0)
			for _, m := range ms {
				memberIDs = append(memberIDs, m.ID)
			}
		}

		// Same data again: nothing changes, ids survive.
		res, err = group.Apply(ctx, db, acct, src, groups, stream(
			group.SourceMember{GroupExternalID: "g1", ExternalID: "u1", Email: "ann@example.org", Name: "Ann"},
			group.SourceMember{GroupExternalID: "g1", Email: "bob@example.org", Name: "Bob"},
			group.SourceMember{GroupExternalID: "g2", ExternalID: "u3", Email: "cy@example.org", Name: "Cy"},
		))
		if err != nil || res != (group.Result{Complete: true}) {
			t.Fatalf("unchanged sync = %+v, %v", res, err)
		}
		var after []string
		gs, _ := group.List(ctx, db.R, acct)
		for _, g := range gs {
			ms, _ := group.Members(ctx, db.R, g.ID, 0, 0)
			for _, m := range ms {
				after = append(after, m.ID)
			}
		}
		sort.Strings(memberIDs)
		sort.Strings(after)
		if fmt.Sprint(memberIDs) != fmt.Sprint(after) {
			t.Fatalf("member ids changed on an unchanged sync: %v -> %v", memberIDs, after)
		}

		// Rename g1, drop g2, change Ann's name, remove Bob, add Dee.
		res, err = group.Apply(ctx, db, acct, src, []group.SourceGroup{{ExternalID: "g1", Name: "All staff"}}, stream(
			group.SourceMember{GroupExternalID: "g1", ExternalID: "u1", Email: "ann@example.org", Name: "Ann Lee"},
			group.SourceMember{GroupExternalID: "g1", ExternalID: "u5", Email: "dee@example.org", Name: "Dee"},
		))
		if err != nil {
			t.Fatal(err)
		}
		want = group.Result{GroupsUpdated: 1, GroupsRemoved: 1, MembersAdded: 1, MembersUpdated: 1, MembersRemoved: 2, Complete: true}
		if res != want {
			t.Fatalf("third sync = %+v, want %+v", res, want)
		}
		got := snap(t, db, acct, src)
		wantSnap := snapshot{"g1=All staff": {"u1|ann@example.org|Ann Lee", "u5|dee@example.org|Dee"}}
		if fmt.Sprint(got) != fmt.Sprint(wantSnap) {
			t.Fatalf("groups = %v, want %v", got, wantSnap)
		}
		ids, err := group.GroupsOf(ctx, db.R, acct, "DEE@example.org")
		if err != nil || len(ids) != 1 {
			t.Fatalf("GroupsOf = %v, %v", ids, err)
		}
		entries, _ := audit.List(context.Background(), db, acct, 10)
		if len(entries) != 2 {
			t.Fatalf("audit entries = %d, want one per sync that changed something (2)", len(entries))
		}
	})
}

// A stream that breaks half-way saves what arrived and removes nothing.
func TestApplyInterruptedStreamRemovesNothing(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const acct, src = "acct-1", "ldap"
		groups := []group.SourceGroup{{ExternalID: "g1", Name: "Staff"}}
		all := []group.SourceMember{
			{GroupExternalID: "g1", ExternalID: "u1", Email: "a@x.org", Name: "A"},
			{GroupExternalID: "g1", ExternalID: "u2", Email: "b@x.org", Name: "B"},
			{GroupExternalID: "g1", ExternalID: "u3", Email: "c@x.org", Name: "C"},
		}
		if _, err := group.Apply(ctx, db, acct, src, groups, stream(all...)); err != nil {
			t.Fatal(err)
		}
		// Next sync: u1 renamed, a newcomer, then the connection drops
		// before u2 and u3 were sent.
		res, err := group.Apply(ctx, db, acct, src, groups, brokenStream(
			group.SourceMember{GroupExternalID: "g1", ExternalID: "u1", Email: "a@x.org", Name: "A renamed"},
		))
		if !errors.Is(err, group.ErrIncomplete) {
			t.Fatalf("err = %v, want ErrIncomplete", err)
		}
		if res.Complete || res.MembersRemoved != 0 || res.GroupsRemoved != 0 {
			t.Fatalf("interrupted sync removed something: %+v", res)
		}
		got := snap(t, db, acct, src)
		want := snapshot{"g1=Staff": {"u1|a@x.org|A renamed", "u2|b@x.org|B", "u3|c@x.org|C"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after interrupted sync = %v, want %v", got, want)
		}
	})
}

// Sources and accounts do not touch each other's groups.
func TestApplyIsScopedBySourceAndAccount(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g := []group.SourceGroup{{ExternalID: "g1", Name: "Staff"}}
		m := stream(group.SourceMember{GroupExternalID: "g1", ExternalID: "u1", Email: "a@x.org"})
		for _, a := range []string{"acct-1", "acct-2"} {
			for _, s := range []string{"okta", "ldap"} {
				if _, err := group.Apply(ctx, db, a, s, g, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		res, err := group.Apply(ctx, db, "acct-1", "okta", nil, stream())
		if err != nil || res.GroupsRemoved != 1 || res.MembersRemoved != 1 {
			t.Fatalf("emptying acct-1/okta = %+v, %v", res, err)
		}
		for _, a := range []string{"acct-1", "acct-2"} {
			gs, _ := group.List(ctx, db.R, a)
			want := map[string]int{"acct-1": 1, "acct-2": 2}[a]
			if len(gs) != want {
				t.Fatalf("%s has %d groups, want %d", a, len(gs), want)
			}
		}
	})
}

// A sync larger than one INSERT and than one transaction: every member
// arrives once, with its details and timestamps; the next sync updates,
// removes and adds across batches and keeps the ids of the others.
func TestApplyLargeSync(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const acct, src, n = "acct-1", "ldap", 12_345
		groups := []group.SourceGroup{{ExternalID: "a", Name: "A"}, {ExternalID: "b", Name: "B"}, {ExternalID: "c", Name: "C"}}
		member := func(i int, name string) group.SourceMember {
			m := group.SourceMember{GroupExternalID: groups[i%3].ExternalID, Email: fmt.Sprintf("User%d@Example.org", i), Name: name}
			if i%5 != 0 { // every fifth is known by email only
				m.ExternalID = fmt.Sprintf("u%d", i)
			}
			return m
		}
		var first []group.SourceMember
		for i := range n {
			first = append(first, member(i, fmt.Sprintf("User %d", i)))
		}
		first = append(first, first[42], first[10_001]) // sent twice
		start := time.Now().UTC().Add(-time.Second)
		res, err := group.Apply(ctx, db, acct, src, groups, stream(first...))
		want := group.Result{GroupsAdded: 3, MembersAdded: n, MembersSkipped: 2, Complete: true}
		if err != nil || res != want {
			t.Fatalf("first sync = %+v, %v; want %+v", res, err, want)
		}
		byGroup := map[string]string{}
		ids := map[string]string{} // email -> id
		gs, _ := group.List(ctx, db.R, acct)
		for _, g := range gs {
			byGroup[g.ExternalID] = g.ID
			ms, err := group.Members(ctx, db.R, g.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if len(m.ID) != 36 || m.CreatedAt.Before(start) || !m.UpdatedAt.Equal(m.CreatedAt) {
					t.Fatalf("member %+v: want a 36-character id and both timestamps of the sync", m)
				}
				if _, dup := ids[m.Email]; dup {
					t.Fatalf("%s stored twice", m.Email)
				}
				ids[m.Email] = m.ID
			}
		}
		if len(ids) != n {
			t.Fatalf("%d members stored, want %d", len(ids), n)
		}
		m, _ := group.Members(ctx, db.R, byGroup["b"], 0, 1)
		if len(m) != 1 || m[0].Email != "user10000@example.org" || m[0].ExternalID != "" || // known by email only
			m[0].Name != "User 10000" {
			t.Fatalf("first member of b = %+v", m)
		}

		// Every 7th renamed, every 11th gone (unless renamed), 100 newcomers.
		var next []group.SourceMember
		renamed, gone := 0, 0
		for i := range n {
			switch {
			case i%7 == 0:
				next = append(next, member(i, fmt.Sprintf("Renamed %d", i)))
				renamed++
			case i%11 == 0:
				gone++
			default:
				next = append(next, member(i, fmt.Sprintf("User %d", i)))
			}
		}
		for i := n; i < n+100; i++ {
			next = append(next, member(i, "New"))
		}
		res, err = group.Apply(ctx, db, acct, src, groups, stream(next...))
		want = group.Result{MembersAdded: 100, MembersUpdated: renamed, MembersRemoved: gone, Complete: true}
		if err != nil || res != want {
			t.Fatalf("second sync = %+v, %v; want %+v", res, err, want)
		}
		count := 0
		for _, g := range groups {
			ms, _ := group.Members(ctx, db.R, byGroup[g.ExternalID], 0, 0)
			for _, m := range ms {
				count++
				var i int
				fmt.Sscanf(m.Email, "user%d@example.org", &i)
				wantName := fmt.Sprintf("User %d", i)
				switch {
				case i >= n:
					wantName = "New"
				case i%7 == 0:
					wantName = fmt.Sprintf("Renamed %d", i)
				case i%11 == 0:
					t.Fatalf("%s should be gone", m.Email)
				}
				if m.Name != wantName {
					t.Fatalf("%s is named %q, want %q", m.Email, m.Name, wantName)
				}
				if i < n && m.ID != ids[m.Email] {
					t.Fatalf("%s changed id", m.Email)
				}
				if i%7 == 0 && i < n && !m.UpdatedAt.After(m.CreatedAt) {
					t.Fatalf("renamed %+v: updated_at not moved", m)
				}
			}
		}
		if count != len(next) {
			t.Fatalf("%d members stored, want %d", count, len(next))
		}
	})
}

// A member's email is kept as the source sent it, trimmed and lower-cased,
// even when it is no address the gateway would accept from a person: it
// still identifies the member from one sync to the next, and finds its
// groups.
func TestApplyKeepsMemberEmailsAsSent(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const acct, src = "acct-1", "ldap"
		groups := []group.SourceGroup{{ExternalID: "g1", Name: "Rooms"}}
		res, err := group.Apply(ctx, db, acct, src, groups, stream(
			group.SourceMember{GroupExternalID: "g1", Email: "  Room-12@Campus ", Name: "Room 12"},
			group.SourceMember{GroupExternalID: "g1", Email: "Ünïcode@Example.org", Name: "U"},
		))
		if err != nil || res.MembersAdded != 2 {
			t.Fatalf("first sync = %+v, %v", res, err)
		}
		want := snapshot{"g1=Rooms": {"|room-12@campus|Room 12", "|ünïcode@example.org|U"}}
		if got := snap(t, db, acct, src); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("members = %v, want %v", got, want)
		}
		// The same members in another case are the same members.
		res, err = group.Apply(ctx, db, acct, src, groups, stream(
			group.SourceMember{GroupExternalID: "g1", Email: "ROOM-12@campus", Name: "Room 12"},
			group.SourceMember{GroupExternalID: "g1", Email: "Ünïcode@EXAMPLE.org", Name: "U"},
		))
		if err != nil || res != (group.Result{Complete: true}) {
			t.Fatalf("same members again = %+v, %v", res, err)
		}
		ids, err := group.GroupsOf(ctx, db.R, acct, " room-12@CAMPUS")
		if err != nil || len(ids) != 1 {
			t.Fatalf("GroupsOf = %v, %v", ids, err)
		}
	})
}
