package group_test

import (
	"context"
	"errors"
	"testing"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

var admin = audit.Actor{Kind: audit.ActorUser, ID: "admin-1"}

// An admin makes a group by hand and changes its members by email; a
// directory's group takes no members this way.
func TestManualGroups(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const acct = "acct-1"
		g, err := group.CreateManual(ctx, db, acct, admin, "  Guest speakers ")
		if err != nil {
			t.Fatal(err)
		}
		if g.Name != "Guest speakers" || g.Source != group.SourceManual {
			t.Fatalf("group %+v", g)
		}
		if _, err := group.CreateManual(ctx, db, acct, admin, "guest SPEAKERS"); !errors.Is(err, group.ErrNameTaken) {
			t.Fatalf("same name again: %v", err)
		}
		if _, err := group.CreateManual(ctx, db, "acct-2", admin, "Guest speakers"); err != nil {
			t.Fatalf("same name in another account: %v", err)
		}
		for _, bad := range []string{"", "   ", string(make([]rune, 201)), "a\x07b"} {
			if pe, _ := problem.As(func() error { _, err := group.CreateManual(ctx, db, acct, admin, bad); return err }()); pe == nil || pe.Field != "name" {
				t.Fatalf("name %q: %v", bad, pe)
			}
		}
		if _, err := group.AddMember(ctx, db, acct, admin, g.ID, "Ann@Example.org"); err != nil {
			t.Fatal(err)
		}
		if _, err := group.AddMember(ctx, db, acct, admin, g.ID, "ann@example.org"); !errors.Is(err, group.ErrMemberExists) {
			t.Fatalf("twice: %v", err)
		}
		if _, err := group.AddMember(ctx, db, acct, admin, g.ID, "not an email"); err == nil || problem.KindOf(err) != problem.Invalid {
			t.Fatalf("bad email: %v", err)
		}
		if _, err := group.AddMember(ctx, db, "acct-2", admin, g.ID, "bob@example.org"); !errors.Is(err, group.ErrNotFound) {
			t.Fatalf("another account's group: %v", err)
		}
		ids, _ := group.GroupsOf(ctx, db.R, acct, "ann@example.org")
		if len(ids) != 1 || ids[0] != g.ID {
			t.Fatalf("GroupsOf = %v", ids)
		}
		if err := group.RemoveMember(ctx, db, acct, admin, g.ID, "bob@example.org"); !errors.Is(err, group.ErrMemberNotFound) {
			t.Fatalf("removing a non-member: %v", err)
		}
		if err := group.RemoveMember(ctx, db, acct, admin, g.ID, "ANN@example.org"); err != nil {
			t.Fatal(err)
		}
		if ids, _ := group.GroupsOf(ctx, db.R, acct, "ann@example.org"); len(ids) != 0 {
			t.Fatalf("still a member: %v", ids)
		}

		// A directory's group: its members are the directory's.
		if _, err := group.Apply(ctx, db, acct, "ldap", []group.SourceGroup{{ExternalID: "x", Name: "Staff"}}, stream()); err != nil {
			t.Fatal(err)
		}
		gs, _ := group.List(ctx, db.R, acct)
		var synced string
		for _, x := range gs {
			if x.Source == "ldap" {
				synced = x.ID
			}
		}
		if _, err := group.AddMember(ctx, db, acct, admin, synced, "ann@example.org"); !errors.Is(err, group.ErrNotManual) {
			t.Fatalf("adding to a synced group: %v", err)
		}
		entries, _ := audit.List(ctx, db, acct, 10)
		var actions []string
		for _, e := range entries {
			if e.ActorID == admin.ID {
				actions = append(actions, e.Action)
			}
		}
		if len(actions) != 3 {
			t.Fatalf("audit entries by the admin: %v, want created, member added, member removed", actions)
		}
	})
}

// The groups list: search by name prefix, provenance and source filters,
// sizes and pages.
func TestSearchGroups(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const acct = "acct-1"
		if _, err := group.Apply(ctx, db, acct, "ldap", []group.SourceGroup{{ExternalID: "1", Name: "Staff"}, {ExternalID: "2", Name: "Students 2026"}}, stream(
			group.SourceMember{GroupExternalID: "1", Email: "a@x.org"},
			group.SourceMember{GroupExternalID: "1", Email: "b@x.org"},
			group.SourceMember{GroupExternalID: "2", Email: "c@x.org"},
		)); err != nil {
			t.Fatal(err)
		}
		if _, err := group.Apply(ctx, db, acct, "sso:conn-1", []group.SourceGroup{{ExternalID: "s", Name: "Stage crew"}}, stream()); err != nil {
			t.Fatal(err)
		}
		m, err := group.CreateManual(ctx, db, acct, admin, "Speakers_100%")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := group.CreateManual(ctx, db, "acct-2", admin, "Staff of another account"); err != nil {
			t.Fatal(err)
		}
		names := func(q group.Query, page, per int) ([]string, int64) {
			t.Helper()
			p, err := group.Search(ctx, db.R, acct, q, page, per)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range p.Rows {
				out = append(out, r.Name+"/"+r.Provenance)
			}
			return out, p.Total
		}
		if got, n := names(group.Query{}, 1, 10); n != 4 || len(got) != 4 || got[0] != "Speakers_100%/manual" || got[1] != "Staff/sync" || got[2] != "Stage crew/login" {
			t.Fatalf("all = %v (%d)", got, n)
		}
		if got, n := names(group.Query{Search: "st"}, 2, 2); n != 3 || len(got) != 1 || got[0] != "Students 2026/sync" {
			t.Fatalf("search st, page 2 = %v (%d)", got, n)
		}
		if got, n := names(group.Query{Search: "speakers_1"}, 1, 10); n != 1 || got[0] != "Speakers_100%/manual" {
			t.Fatalf("search with an underscore = %v (%d)", got, n)
		}
		if got, n := names(group.Query{Search: "s_"}, 1, 10); n != 0 {
			t.Fatalf("an underscore matched any character: %v", got)
		}
		if got, n := names(group.Query{Provenance: group.ProvenanceSync}, 1, 10); n != 2 || got[0] != "Staff/sync" {
			t.Fatalf("sync = %v (%d)", got, n)
		}
		if got, n := names(group.Query{Provenance: group.ProvenanceLogin}, 1, 10); n != 1 || got[0] != "Stage crew/login" {
			t.Fatalf("login = %v (%d)", got, n)
		}
		if got, n := names(group.Query{Source: "ldap", Search: "stu"}, 1, 10); n != 1 || got[0] != "Students 2026/sync" {
			t.Fatalf("source ldap = %v (%d)", got, n)
		}
		p, _ := group.Search(ctx, db.R, acct, group.Query{Search: "Staff"}, 1, 10)
		if len(p.Rows) != 1 || p.Rows[0].Size != 2 {
			t.Fatalf("Staff's size: %+v", p.Rows)
		}
		if _, err := group.AddMember(ctx, db, acct, admin, m.ID, "z@x.org"); err != nil {
			t.Fatal(err)
		}
		p, _ = group.Search(ctx, db.R, acct, group.Query{Provenance: group.ProvenanceManual}, 1, 10)
		if len(p.Rows) != 1 || p.Rows[0].Size != 1 || !p.Rows[0].UpdatedAt.After(m.UpdatedAt) && !p.Rows[0].UpdatedAt.Equal(m.UpdatedAt) {
			t.Fatalf("manual group after a member was added: %+v", p.Rows)
		}
	})
}
