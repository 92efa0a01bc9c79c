package user_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

// EnsureMany creates the people the account does not have yet, with the
// transaction's time, finds the others, fills the names of those that had
// none and keeps the names of those that had some; it tells which users it
// created. Batches of more than one statement and of new people only (that
// read nothing back) give the same. A person without an id to be created
// with is refused, and nothing is written.
func TestEnsureMany(t *testing.T) {
	storetest.Each(t, []any{&user.User{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ensure := func(tx func(context.Context, func(*store.Tx) error) error, account string, people []user.NewUser) (map[string]string, map[string]bool) {
			t.Helper()
			var ids map[string]string
			var created map[string]bool
			err := tx(ctx, func(tx *store.Tx) (err error) {
				ids, created, err = user.EnsureMany(tx, account, people)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return ids, created
		}
		var before []user.User
		err := db.Tx(ctx, func(tx *store.Tx) error {
			for _, p := range [][3]string{{"nameless@example.org", "", ""}, {"named@example.org", "Nora", "Named"}, {"nameless2@example.org", "", ""}} {
				u, err := user.Resolve(tx, user.Identity{AccountID: "acc", Email: p[0], FirstName: p[1], LastName: p[2]})
				if err != nil {
					return err
				}
				before = append(before, *u)
			}
			_, err := user.Resolve(tx, user.Identity{AccountID: "other", Email: "new0@example.org", FirstName: "In", LastName: "Another account"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now().UTC().Add(-time.Second)
		people := []user.NewUser{{ID: id.New(), Email: "nameless@example.org", FirstName: "Nat", LastName: "Less"},
			{ID: id.New(), Email: "named@example.org", FirstName: "Other", LastName: "Name"},
			{ID: id.New(), Email: "nameless2@example.org", FirstName: "Nia", LastName: "Less"}}
		for i := range 1500 {
			people = append(people, user.NewUser{ID: id.New(), Email: fmt.Sprintf("new%d@example.org", i), FirstName: "New", LastName: fmt.Sprint(i)})
		}
		ids, created := ensure(db.Tx, "acc", people)
		if len(ids) != len(people) || len(created) != 1500 {
			t.Fatalf("%d ids, %d created; want %d and 1500", len(ids), len(created), len(people))
		}
		if ids["nameless@example.org"] != before[0].ID || ids["named@example.org"] != before[1].ID || created[before[0].ID] || created[before[1].ID] {
			t.Fatalf("known people: ids %s %s, want %s %s, not created", ids["nameless@example.org"], ids["named@example.org"], before[0].ID, before[1].ID)
		}
		var stored []user.User
		db.R.Where("account_id = ?", "acc").Find(&stored)
		if len(stored) != len(people) {
			t.Fatalf("%d users stored, want %d", len(stored), len(people))
		}
		for _, u := range stored {
			switch u.Email {
			case "nameless@example.org":
				if u.FirstName != "Nat" || u.LastName != "Less" {
					t.Fatalf("nameless user not named: %+v", u)
				}
			case "nameless2@example.org":
				if u.ID != before[2].ID || created[u.ID] || u.FirstName != "Nia" || u.LastName != "Less" {
					t.Fatalf("second nameless user not named: %+v", u)
				}
			case "named@example.org":
				if u.FirstName != "Nora" || u.LastName != "Named" {
					t.Fatalf("named user renamed: %+v", u)
				}
			default:
				if !created[u.ID] || ids[u.Email] != u.ID || u.FirstName != "New" || u.CreatedAt.Before(start) || !u.UpdatedAt.Equal(u.CreatedAt) || u.ConsoleRole != "" {
					t.Fatalf("new user %+v (created %v, id %s)", u, created[u.ID], ids[u.Email])
				}
			}
		}
		// New people only, in a run: every id is one made for them.
		run, err := db.NewRun(ctx, user.BatchStatements()...)
		if err != nil {
			t.Fatal(err)
		}
		defer run.Close()
		fresh := []user.NewUser{{ID: id.New(), Email: "fresh1@example.org", FirstName: "F", LastName: "One"},
			{ID: id.New(), Email: "fresh2@example.org", FirstName: "F", LastName: "Two"}}
		ids, created = ensure(run.Tx, "acc", fresh)
		for _, p := range fresh {
			var u user.User
			if err := db.R.Where("account_id = ? AND email = ?", "acc", p.Email).Take(&u).Error; err != nil || ids[p.Email] != u.ID || !created[u.ID] || u.LastName != p.LastName {
				t.Fatalf("%s: stored %+v (%v), id %s, created %v", p.Email, u, err, ids[p.Email], created[u.ID])
			}
			if u.ID != p.ID {
				t.Fatalf("%s: created as %s, want the id it was given, %s", p.Email, u.ID, p.ID)
			}
		}
		// A person without an id is refused before anything is written.
		err = db.Tx(ctx, func(tx *store.Tx) error {
			_, _, err := user.EnsureMany(tx, "acc", []user.NewUser{{ID: id.New(), Email: "withid@example.org"}, {Email: "noid@example.org"}})
			return err
		})
		var n int64
		db.R.Model(&user.User{}).Where("email IN ?", []string{"withid@example.org", "noid@example.org"}).Count(&n)
		if err == nil || n != 0 {
			t.Fatalf("a person without an id: err %v, %d users written; want an error and none", err, n)
		}
	})
}
