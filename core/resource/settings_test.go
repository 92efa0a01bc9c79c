package resource_test

import (
	"context"
	"testing"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

func ptr[T any](v T) *T { return &v }

// A platform that says a room's Chat & Collaboration or a media entry's
// media page is off is followed, and inviting is refused with the reason;
// one that says nothing leaves what the API set.
func TestUpsertFollowsThePlatformsInviteSettings(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acct := newAccount(t, db)
		owner := access.Member{AccountID: acct, Collaborator: resource.Owner}

		room, _, err := upsert(db, acct, "sakai", "site-1", resource.Fields{Type: resource.Room, Title: "Bio", ChatCollab: ptr(false)})
		if err != nil || room.ChatCollab {
			t.Fatalf("created %+v %v", room, err)
		}
		if err := access.OnResource(ctx, owner, room, access.Invite, false); err != access.ErrChatOffInvite {
			t.Fatalf("invite with C&C off: %v", err)
		}
		room, _, err = upsert(db, acct, "sakai", "site-1", resource.Fields{Type: resource.Room, Title: "Bio", ChatCollab: ptr(true)})
		if err != nil || !room.ChatCollab {
			t.Fatalf("turned on %+v %v", room, err)
		}
		stored, _ := resource.Get(ctx, db, acct, room.ID)
		if !stored.ChatCollab || access.OnResource(ctx, owner, stored, access.Invite, false) != nil {
			t.Fatalf("stored %+v", stored)
		}
		// The API turns it off; a launch whose platform says nothing keeps that.
		if _, err := resource.Update(ctx, db, acct, room.ID, audit.System, resource.Input{Type: resource.Room, Title: "Bio", ChatCollab: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if r, _, err := upsert(db, acct, "sakai", "site-1", resource.Fields{Type: resource.Room, Title: "Bio"}); err != nil || r.ChatCollab {
			t.Fatalf("a silent platform changed the API's setting: %+v %v", r, err)
		}
		var detail []string
		db.W.Raw("SELECT detail FROM audit_entries WHERE action = 'resource.updated' AND target_id = ? AND actor_kind = 'plugin'", room.ID).Scan(&detail)
		if len(detail) != 1 || detail[0] != `{"adapter":"sakai","changed":["chat_collaboration"]}` {
			t.Fatalf("audit of the platform's change: %q", detail)
		}

		media, _, err := upsert(db, acct, "sakai", "entry-1", resource.Fields{Type: resource.Video, Title: "Lecture", MediaPage: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		media, _ = resource.Get(ctx, db, acct, media.ID)
		if err := access.OnResource(ctx, owner, media, access.Invite, false); err != access.ErrMediaPageOff {
			t.Fatalf("invite with the media page off: %v", err)
		}
		if err := access.OnResource(ctx, owner, media, access.View, false); err != nil {
			t.Fatalf("viewing needs no media page: %v", err)
		}
		if _, _, err := upsert(db, acct, "sakai", "entry-1", resource.Fields{Type: resource.Video, Title: "Lecture", MediaPage: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		media, _ = resource.Get(ctx, db, acct, media.ID)
		if err := access.OnResource(ctx, owner, media, access.Invite, false); err != nil {
			t.Fatalf("invite with the media page on: %v", err)
		}
	})
}

// Members are a resource's collaborators and the people who entered it,
// once each, and nobody else's.
func TestMembersOfAResource(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acct := newAccount(t, db)
		r, _, err := upsert(db, acct, "sakai", "site-1", resource.Fields{Type: resource.Room, Title: "Bio"})
		if err != nil {
			t.Fatal(err)
		}
		other, _, _ := upsert(db, acct, "sakai", "site-2", resource.Fields{Type: resource.Room, Title: "Chem"})
		ids := map[string]string{}
		for _, p := range [][3]string{{"ada@uni.test", "Ada", "Lovelace"}, {"bob@uni.test", "Bob", ""}, {"cy@uni.test", "Cy", "Other"}} {
			db.Tx(ctx, func(tx *store.Tx) error {
				u, err := user.Resolve(tx, user.Identity{AccountID: acct, Email: p[0], FirstName: p[1], LastName: p[2]})
				if err == nil {
					ids[p[0]] = u.ID
				}
				return err
			})
		}
		if err := resource.SetCollaborator(ctx, db, acct, r.ID, ids["ada@uni.test"], resource.Owner, audit.System); err != nil {
			t.Fatal(err)
		}
		e, err := resource.NewEntries(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Tx(ctx, func(tx *store.Tx) error {
			for _, in := range [][2]string{{r.ID, "ada@uni.test"}, {r.ID, "bob@uni.test"}, {other.ID, "cy@uni.test"}} {
				if _, _, err := e.Enter(tx, in[0], ids[in[1]], acct, resource.Viewer, tx.Now()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := resource.Members(ctx, db, r)
		if err != nil || len(got) != 2 || got[0] != (resource.Person{Email: "ada@uni.test", Name: "Ada Lovelace"}) || got[1] != (resource.Person{Email: "bob@uni.test", Name: "Bob"}) {
			t.Fatalf("members %+v %v", got, err)
		}
	})
}
