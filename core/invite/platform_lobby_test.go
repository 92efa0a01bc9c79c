package invite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// A wrong email on a link to a platform's room shows the lobby again on
// the platform's one answer: the press of Enter asks it once.
func TestLobbyAfterAWrongEmailAsksThePlatformOnce(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		side := &roomSide{}
		f.svc.Platform = side.mock()
		var hosted *resource.Resource
		err := db.Tx(ctx, func(tx *store.Tx) error {
			var err error
			hosted, _, err = resource.Upsert(tx, f.caller.AccountID, "rooms", "chem-1", resource.Fields{Type: resource.Room, Title: "Chemistry"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.Create(ctx, f.caller, hosted.ID, invite.NewInput{Email: "lab@example.org", FirstName: "L", LastName: "Ab", Role: "viewer"})
		if err != nil {
			t.Fatal(err)
		}
		end := f.clock.Add(time.Hour).UTC()
		side.set(resource.Status{Exists: true, EndsAt: &end}, nil)

		_, refusal := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "wrong@example.org"})
		if !errors.Is(refusal, invite.ErrEmailMismatch) || code(refusal) != "email_mismatch" {
			t.Fatalf("redeem with a wrong email: %v", refusal)
		}
		v, err := f.svc.InspectAfter(ctx, c.Token, invite.Visitor{}, refusal)
		if err != nil || v.State != invite.StateLobby || v.Resource.EndsAt == nil || !v.Resource.EndsAt.Equal(end) || v.Resource.Title != "Chemistry" {
			t.Fatalf("lobby after the refusal: %+v %v", v, err)
		}
		if q := side.questions(); len(q) != 1 || q[0] != "rooms/chem-1" {
			t.Fatalf("a refused press of Enter and its lobby asked the platform %v, want once", q)
		}

		// A refusal that did not come from a redemption asks as Inspect does.
		if _, err := f.svc.InspectAfter(ctx, c.Token, invite.Visitor{}, invite.ErrEmailTooLong); err != nil {
			t.Fatal(err)
		}
		if q := side.questions(); len(q) != 2 {
			t.Fatalf("the platform was asked %v, want twice", q)
		}
	})
}
