package invite_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// Every entry and every role upgrade leaves an audit entry whose detail is
// JSON naming the resource and roles, and no token.
func TestRedemptionIsAudited(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		c1, _ := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "au@x.test", FirstName: "A", LastName: "U", Role: "viewer"})
		c2, _ := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "au@x.test", FirstName: "A", LastName: "U", Role: "moderator"})
		e1, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c1.Token, Email: "au@x.test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c2.Token, Email: "au@x.test"}); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			Action, ActorKind, ActorID, TargetID, Detail string
		}
		db.R.Raw("SELECT action, actor_kind, actor_id, target_id, detail FROM audit_entries WHERE action = 'invitation.redeemed' ORDER BY at, id").Scan(&rows)
		if len(rows) != 2 {
			t.Fatalf("want 2 redemption entries, got %d", len(rows))
		}
		var d map[string]string
		if err := json.Unmarshal([]byte(rows[1].Detail), &d); err != nil {
			t.Fatalf("detail %q: %v", rows[1].Detail, err)
		}
		if rows[1].ActorKind != "invitee" || rows[1].ActorID != e1.User.ID || rows[1].TargetID != c2.Invitation.ID ||
			d["resource_id"] != f.room.ID || d["role"] != "moderator" || d["previous_role"] != "viewer" {
			t.Fatalf("entry %+v detail %v", rows[1], d)
		}
		for _, r := range rows {
			if len(r.Detail) > 200 || strings.Contains(r.Detail, c1.Token) || strings.Contains(r.Detail, c2.Token) {
				t.Fatalf("detail leaks: %s", r.Detail)
			}
		}
	})
}
