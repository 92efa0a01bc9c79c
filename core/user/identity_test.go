package user_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

// resolveAll runs n resolutions of in at once, each in its own write
// transaction, and returns their users and errors.
func resolveAll(t *testing.T, db *store.DB, n int, in user.Identity) ([]*user.User, []error) {
	t.Helper()
	users, errs := make([]*user.User, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.Tx(context.Background(), func(tx *store.Tx) (err error) {
				users[i], err = user.Resolve(tx, in)
				return err
			})
		}()
	}
	close(start)
	wg.Wait()
	return users, errs
}

func count(t *testing.T, db *store.DB, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.R.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Fifty resolutions of one person at once make one user and one identity,
// and every one of them is told that user, on both databases.
func TestResolveMakesOneUserUnderConcurrency(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acc, err := account.Create(ctx, db, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		const n = 50
		cases := []struct {
			name  string
			in    user.Identity
			known bool // a user with the email exists before
			want  string
		}{
			{name: "new identity", in: user.Identity{Issuer: "https://idp.acme.test", Subject: "u-1", Email: "Ada@Acme.test", FirstName: "Ada", LastName: "Lovelace"}},
			{name: "known email, linking allowed", known: true, in: user.Identity{Issuer: "https://idp.acme.test", Subject: "u-2", Email: "grace@acme.test", LinkByEmail: true}},
			{name: "known email, linking refused", known: true, want: "identity_not_linked", in: user.Identity{Issuer: "https://idp.acme.test", Subject: "u-3", Email: "alan@acme.test"}},
			{name: "email only", in: user.Identity{Email: "edsger@acme.test", FirstName: "Edsger"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tc.in.AccountID = acc.ID
				var before *user.User
				if tc.known {
					if err := db.Tx(ctx, func(tx *store.Tx) (err error) {
						before, err = user.Resolve(tx, user.Identity{AccountID: acc.ID, Email: tc.in.Email})
						return err
					}); err != nil {
						t.Fatal(err)
					}
				}
				users, errs := resolveAll(t, db, n, tc.in)
				email, _ := user.NormalizeEmail(tc.in.Email)
				if got := count(t, db, "users", "account_id = ? AND email = ?", acc.ID, email); got != 1 {
					t.Fatalf("%d users with %s, want 1", got, email)
				}
				links := count(t, db, "user_identities", "account_id = ? AND subject = ?", acc.ID, tc.in.Subject)
				if tc.want != "" {
					for i, err := range errs {
						if !errors.Is(err, user.ErrNotLinked) {
							t.Fatalf("resolution %d: %v, want %s", i, err, tc.want)
						}
					}
					if links != 0 {
						t.Fatalf("%d identities linked to a user the identity may not take", links)
					}
					return
				}
				if wantLinks := int64(1); tc.in.Issuer == "" {
					wantLinks = 0
					if links != wantLinks {
						t.Fatalf("%d identities for an email-only arrival", links)
					}
				} else if links != wantLinks {
					t.Fatalf("%d identities, want 1", links)
				}
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("resolution %d: %v", i, errs[i])
					}
					if users[i].ID != users[0].ID || users[i].Email != email {
						t.Fatalf("resolution %d got user %s (%s), resolution 0 got %s", i, users[i].ID, users[i].Email, users[0].ID)
					}
				}
				if before != nil && users[0].ID != before.ID {
					t.Fatalf("linked to user %s, want the existing %s", users[0].ID, before.ID)
				}
				if tc.in.FirstName != "" && users[0].FirstName != tc.in.FirstName {
					t.Fatalf("names not filled in: %+v", users[0])
				}
			})
		}
	})
}

// A known identity finds its user even when the issuer now sends another
// email, and never links to a second user.
func TestResolveKnownIdentityKeepsItsUser(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acc, err := account.Create(ctx, db, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		resolve := func(in user.Identity) (u *user.User, err error) {
			in.AccountID = acc.ID
			err = db.Tx(ctx, func(tx *store.Tx) error { u, err = user.Resolve(tx, in); return err })
			return u, err
		}
		first, err := resolve(user.Identity{Issuer: "iss", Subject: "s", Email: "old@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		again, err := resolve(user.Identity{Issuer: "iss", Subject: "s", Email: "new@acme.test"})
		if err != nil || again.ID != first.ID {
			t.Fatalf("second sign-in: %v, user %v, want %s", err, again, first.ID)
		}
		if n := count(t, db, "users", "account_id = ?", acc.ID); n != 1 {
			t.Fatalf("%d users, want 1", n)
		}
		// Names are bounded in characters, as everywhere else: 100 of
		// them take 200 bytes here.
		long := strings.Repeat("é", user.MaxName)
		if u, err := resolve(user.Identity{Issuer: "iss", Subject: "long", Email: "long@acme.test", FirstName: long}); err != nil || u.FirstName != long {
			t.Fatalf("a name of %d characters: %v, %+v", user.MaxName, err, u)
		}
		for _, tc := range []struct {
			name  string
			in    user.Identity
			field string
		}{
			{"subject without issuer", user.Identity{Subject: "s", Email: "a@acme.test"}, "subject"},
			{"no email", user.Identity{Issuer: "iss", Subject: "t"}, "email"},
			{"bad email", user.Identity{Issuer: "iss", Subject: "t", Email: "not an email"}, "email"},
			{"a first name of 101 characters", user.Identity{Issuer: "iss", Subject: "t", Email: "t@acme.test", FirstName: strings.Repeat("é", 101)}, "first_name"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := resolve(tc.in)
				if err == nil || !containsField(err, tc.field) {
					t.Fatalf("%v, want a problem with %s", err, tc.field)
				}
			})
		}
	})
}

func containsField(err error, field string) bool {
	pe, ok := problem.As(err)
	if !ok {
		return false
	}
	for _, d := range pe.Details {
		if d.Field == field {
			return true
		}
	}
	return pe.Field == field
}
