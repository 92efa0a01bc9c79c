package jointoken_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
)

func TestRotationKeepsIssuedTokensVerifiable(t *testing.T) {
	storetest.Each(t, table.Models(jointoken.Tables()), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, err := jointoken.Open(ctx, db, jointoken.Options{Issuer: "https://gw.test"})
		if err != nil {
			t.Fatal(err)
		}
		before, err := s.Issue(ctx, "room-a", jointoken.Claims{Role: "viewer", Resource: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		after, err := s.Issue(ctx, "room-a", jointoken.Claims{Role: "moderator", Resource: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := s.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys.Keys) != 2 {
			t.Fatalf("want the new and the retired key published, got %d", len(keys.Keys))
		}
		for _, tok := range []string{before, after} {
			if _, err := jointoken.Verify(tok, keys, "https://gw.test", "room-a", time.Now()); err != nil {
				t.Fatalf("verify after rotation: %v", err)
			}
		}
		if _, err := jointoken.Verify(after, keys, "https://other.test", "room-a", time.Now()); err == nil {
			t.Fatal("wrong issuer accepted")
		}
		// A second signer (another replica) picks up the rotation.
		other, err := jointoken.Open(ctx, db, jointoken.Options{Issuer: "https://gw.test"})
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := other.Issue(ctx, "room-a", jointoken.Claims{})
		if _, err := jointoken.Verify(tok, keys, "https://gw.test", "room-a", time.Now()); err != nil {
			t.Fatalf("replica signs with an unpublished key: %v", err)
		}
	})
}
