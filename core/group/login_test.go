package group_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// A login's groups become exactly the person's memberships of the
// connection's source: new groups are made once, groups no longer
// asserted are left, a new name is followed, an unchanged login writes
// nothing, and memberships of other sources (a manual group) are never
// touched.
func TestRecordLogin(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const acct = "acct-1"
		manual, err := group.CreateManual(ctx, db, acct, admin, "Speakers")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := group.AddMember(ctx, db, acct, admin, manual.ID, "ann@uni.edu"); err != nil {
			t.Fatal(err)
		}
		login := func(name string, groups ...string) {
			t.Helper()
			if err := db.Tx(ctx, func(tx *store.Tx) error {
				return group.RecordLogin(tx, acct, "conn-1", "Ann@UNI.edu", name, groups)
			}); err != nil {
				t.Fatal(err)
			}
		}
		type row struct {
			Group, Name string
			Updated     time.Time
		}
		memberships := func() []row {
			t.Helper()
			var out []row
			err := db.R.Raw("SELECT g.external_id AS \"group\", m.name, m.updated_at AS updated FROM group_members m JOIN groups g ON g.id = m.group_id "+
				"WHERE m.email = ? AND g.source = ? ORDER BY g.external_id", "ann@uni.edu", group.LoginSource("conn-1")).Scan(&out).Error
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		groupsOf := func() []string {
			var out []string
			db.R.Raw("SELECT external_id FROM groups WHERE source = ? ORDER BY external_id", group.LoginSource("conn-1")).Scan(&out)
			return out
		}
		names := func(rs []row) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.Group+"/"+r.Name)
			}
			return out
		}

		login("Ann", "staff", " admins ", "staff", "")
		first := memberships()
		if got := names(first); !slices.Equal(got, []string{"admins/Ann", "staff/Ann"}) {
			t.Fatalf("after the first login: %v", got)
		}
		login("Ann", "admins", "staff")
		if again := memberships(); !slices.EqualFunc(again, first, func(a, b row) bool { return a.Group == b.Group && a.Updated.Equal(b.Updated) }) {
			t.Fatalf("an unchanged login rewrote memberships: %v, then %v", first, again)
		}
		login("Ann Lee", "staff", "board")
		if got := names(memberships()); !slices.Equal(got, []string{"board/Ann Lee", "staff/Ann Lee"}) {
			t.Fatalf("after a login with other groups and a new name: %v", got)
		}
		if got := groupsOf(); !slices.Equal(got, []string{"admins", "board", "staff"}) {
			t.Fatalf("the source's groups: %v (a group is kept when its last member leaves)", got)
		}
		login("Ann Lee")
		if got := memberships(); len(got) != 0 {
			t.Fatalf("a login asserting no groups left %v", got)
		}
		ids, _ := group.GroupsOf(ctx, db.R, acct, "ann@uni.edu")
		if !slices.Equal(ids, []string{manual.ID}) {
			t.Fatalf("the manual group's membership after the logins: %v", ids)
		}
	})
}
