package invite_test

import (
	"context"
	"testing"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// An invitee whose user row went away after the invitation was made still
// enters: the redemption makes the row again, named as in the invitation.
func TestRedeemRecreatesErasedInvitee(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "gone@x.test", FirstName: "Ada", LastName: "Byron", Role: "viewer"})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.W.Exec("DELETE FROM users WHERE email = ?", "gone@x.test").Error; err != nil {
			t.Fatal(err)
		}
		e, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "gone@x.test"})
		if err != nil {
			t.Fatal(err)
		}
		var u struct{ ID, AccountID, FirstName, LastName string }
		if err := db.R.Raw("SELECT id, account_id, first_name, last_name FROM users WHERE email = ?", "gone@x.test").Scan(&u).Error; err != nil {
			t.Fatal(err)
		}
		if u.ID == "" || u.ID != e.User.ID || u.AccountID != f.caller.AccountID || u.FirstName != "Ada" || u.LastName != "Byron" {
			t.Fatalf("user row %+v, entry user %+v", u, e.User)
		}
		if e.User.Name() == "" || e.User.FirstName != "Ada" {
			t.Fatalf("entry user %+v", e.User)
		}
		var role string
		db.R.Raw("SELECT role FROM participants WHERE resource_id = ? AND user_id = ?", f.room.ID, u.ID).Scan(&role)
		if role != "viewer" {
			t.Fatalf("participant role %q", role)
		}
	})
}
