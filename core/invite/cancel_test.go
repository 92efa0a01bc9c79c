package invite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// A person whose request ends (they closed the tab, the proxy timed out)
// while their redemption is being written is told what really happened:
// every redemption answered "in" consumed its link's use, and every one
// answered with an error consumed nothing, wherever the end fell.
func TestCallerLeavingMidRedemptionLearnsTheOutcome(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		const n = 120
		tokens, ids := make([]string, n), make([]string, n)
		for i := range n {
			c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: fmt.Sprintf("g%d@x.test", i), FirstName: "G", LastName: "X"})
			if err != nil {
				t.Fatal(err)
			}
			tokens[i], ids[i] = c.Token, c.Invitation.ID
		}
		// How long one redemption takes here, alone.
		c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "timer@x.test", FirstName: "T", LastName: "X"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "timer@x.test"}); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Deadlines spread around the time a redemption takes.
				rctx, cancel := context.WithTimeout(ctx, time.Duration(rand.Int64N(int64(8*took))))
				defer cancel()
				_, errs[i] = f.svc.Redeem(rctx, invite.RedeemInput{Token: tokens[i], Email: fmt.Sprintf("g%d@x.test", i)})
			}()
		}
		wg.Wait()
		ok, cut := 0, 0
		for i := range n {
			var uses int
			if err := db.R.Raw("SELECT uses FROM invitations WHERE id = ?", ids[i]).Scan(&uses).Error; err != nil {
				t.Fatal(err)
			}
			switch {
			case errs[i] == nil && uses == 1:
				ok++
			case errs[i] != nil && uses == 0 && (errors.Is(errs[i], context.DeadlineExceeded) || errors.Is(errs[i], context.Canceled)):
				cut++
			default:
				t.Fatalf("redemption %d answered %v, and the link's uses are %d", i, errs[i], uses)
			}
		}
		t.Logf("%d entered, %d cut off before their write", ok, cut)
	})
}
