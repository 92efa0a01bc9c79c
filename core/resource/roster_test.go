package resource_test

import (
	"context"
	"errors"
	"testing"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

func TestSuggestMergesTheRosterWithTheAccountsPeople(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acct := newAccount(t, db)
		for _, p := range [][3]string{{"ada@uni.test", "Ada", "Lovelace"}, {"zed@uni.test", "Zed", "Known"}, {"carl@other.test", "Carl", "Other"}} {
			err := db.Tx(ctx, func(tx *store.Tx) error {
				_, err := user.Resolve(tx, user.Identity{AccountID: acct, Email: p[0], FirstName: p[1], LastName: p[2]})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		hosted, _, err := upsert(db, acct, "rooms", "bio-101", resource.Fields{Type: resource.Room, Title: "Biology"})
		if err != nil {
			t.Fatal(err)
		}
		var asked []string
		p := &resource.PlatformMock{RosterFunc: func(_ context.Context, adapter, externalID, q string, limit int, _ []resource.Person) ([]resource.Person, error) {
			asked = append(asked, adapter+"/"+externalID+"/"+q)
			return []resource.Person{
				{Email: "ADA@uni.test", Name: "Ada L."},          // known: shown as the user
				{Email: "zed@uni.test", Name: "Zed"},             // known, past the account's first results
				{Email: "bea@uni.test", Name: "Bea  de la Cruz"}, // new
				{Email: "not an address", Name: "Nobody"},        // cannot be invited
				{Email: "bea@uni.test", Name: "Bea again"},       // twice on the roster
				{Email: "al@uni.test", Name: ""},                 // no name
			}, nil
		}}

		s, err := resource.Suggest(ctx, db, p, hosted, "a", 10)
		if err != nil || s.RosterErr != nil {
			t.Fatal(err, s.RosterErr)
		}
		type row struct {
			email, first, last string
			known              bool
		}
		var got []row
		for _, x := range s.People {
			got = append(got, row{x.Email, x.FirstName, x.LastName, x.User != nil})
		}
		want := []row{
			{"ada@uni.test", "Ada", "Lovelace", true},
			{"admin@acme.test", "Admin", "", true}, // the account's first admin
			{"al@uni.test", "", "", false},
			{"bea@uni.test", "Bea", "de la Cruz", false},
			{"zed@uni.test", "Zed", "Known", true},
		}
		if len(got) != len(want) {
			t.Fatalf("suggestions %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("suggestion %d = %+v, want %+v (all: %+v)", i, got[i], want[i], got)
			}
		}
		if len(asked) != 1 || asked[0] != "rooms/bio-101/a" {
			t.Fatalf("the platform was asked %v", asked)
		}

		// Bounded by limit, across both sources.
		if s, err := resource.Suggest(ctx, db, p, hosted, "a", 3); err != nil || len(s.People) != 3 || s.People[2].Email != "al@uni.test" {
			t.Fatalf("limit 3: %+v %v", s, err)
		}

		// The roster unavailable: the account's people still.
		down := &resource.PlatformMock{RosterFunc: func(context.Context, string, string, string, int, []resource.Person) ([]resource.Person, error) {
			return nil, resource.PlatformDown("rooms", errors.New("connection refused"))
		}}
		s, err = resource.Suggest(ctx, db, down, hosted, "a", 10)
		if err != nil || !errors.Is(s.RosterErr, resource.ErrPlatformDown) || len(s.People) != 2 || s.People[0].Email != "ada@uni.test" {
			t.Fatalf("roster down: %+v %v", s, err)
		}

		// A resource the gateway hosts asks no platform.
		own, err := resource.Create(ctx, db, acct, audit.System, resource.Input{Type: resource.Room, Title: "Own"})
		if err != nil {
			t.Fatal(err)
		}
		asked = nil
		if s, err := resource.Suggest(ctx, db, p, own, "", 10); err != nil || len(s.People) != 4 || len(asked) != 0 {
			t.Fatalf("own resource: %+v %v, platform asked %v", s, err, asked)
		}
	})
}
