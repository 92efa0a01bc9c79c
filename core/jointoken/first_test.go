package jointoken_test

import (
	"context"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

// TestFirstKeyOnceAcrossStarts: replicas starting together on an empty
// database make one signing key between them, and every one of them signs
// with it.
func TestFirstKeyOnceAcrossStarts(t *testing.T) {
	storetest.Each(t, table.Models(jointoken.Tables()), func(t *testing.T, db *store.DB) {
		const starts = 6
		signers := make([]*jointoken.Signer, starts)
		errs := make([]error, starts)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range starts {
			wg.Go(func() {
				<-gate
				signers[i], errs[i] = jointoken.Open(context.Background(), db, jointoken.Options{Issuer: "https://gw.test"})
			})
		}
		close(gate)
		wg.Wait()
		var keys []jointoken.Key
		if err := db.R.Find(&keys).Error; err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].RetiredAt != nil {
			t.Fatalf("%d signing keys after %d concurrent starts, want one active", len(keys), starts)
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
			set, err := signers[i].JWKS(context.Background())
			if err != nil || len(set.Keys) != 1 || set.Keys[0].KeyID != keys[0].KID {
				t.Fatalf("start %d publishes %+v (%v), want the one key %s", i, set, err, keys[0].KID)
			}
		}
	})
}
