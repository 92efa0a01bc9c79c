package invite_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// roomSide is a platform whose answer about its resources the test sets,
// counting the questions.
type roomSide struct {
	mu     sync.Mutex
	status resource.Status
	err    error
	asked  []string
}

func (p *roomSide) mock() *resource.PlatformMock {
	return &resource.PlatformMock{StatusFunc: func(_ context.Context, adapter, externalID string) (resource.Status, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.asked = append(p.asked, adapter+"/"+externalID)
		return p.status, p.err
	}}
}

func (p *roomSide) set(st resource.Status, err error) {
	p.mu.Lock()
	p.status, p.err, p.asked = st, err, nil
	p.mu.Unlock()
}

func (p *roomSide) questions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// rowOf is what the database holds of a resource, to see that opening and
// redeeming links wrote nothing of what the platform said.
func rowOf(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	var r struct {
		StartsAt  *time.Time
		DeletedAt *time.Time
		UpdatedAt time.Time
	}
	if err := db.W.Raw("SELECT starts_at, deleted_at, updated_at FROM resources WHERE id = ?", id).Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	return fmtTime(r.StartsAt) + "|" + fmtTime(r.DeletedAt) + "|" + r.UpdatedAt.UTC().String()
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().String()
}

func TestLinksToResourcesAPlatformHosts(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		side := &roomSide{}
		f.svc.Platform = side.mock()
		var hosted *resource.Resource
		err := db.Tx(ctx, func(tx *store.Tx) error {
			var err error
			hosted, _, err = resource.Upsert(tx, f.caller.AccountID, "rooms", "bio-101", resource.Fields{Type: resource.Room, Title: "Biology 101"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		newLink := func(email string) string {
			c, err := f.svc.Create(ctx, f.caller, hosted.ID, invite.NewInput{Email: email, FirstName: "G", LastName: "Guest", Role: "viewer"})
			if err != nil {
				t.Fatal(err)
			}
			return c.Token
		}
		stored := rowOf(t, db, hosted.ID)
		later := f.clock.Add(2 * time.Hour).UTC()
		end := later.Add(time.Hour)

		t.Run("the countdown counts to the platform's start", func(t *testing.T) {
			tok := newLink("count@example.org")
			side.set(resource.Status{Exists: true, StartsAt: &later, EndsAt: &end}, nil)
			v, err := f.svc.Inspect(ctx, tok, invite.Visitor{})
			if err != nil || v.State != invite.StateCountdown || !v.Resource.StartsAt.Equal(later) || !v.Resource.EndsAt.Equal(end) || v.PlatformErr != nil {
				t.Fatalf("view %+v, %v", v, err)
			}
			if q := side.questions(); len(q) != 1 || q[0] != "rooms/bio-101" {
				t.Fatalf("the platform was asked %v", q)
			}
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: tok, Email: "count@example.org"}); !errors.Is(err, invite.ErrNotOpen) {
				t.Fatalf("redeemed before the platform's start: %v", err)
			}
			// The platform moved the session to now: the same link opens.
			side.set(resource.Status{Exists: true}, nil)
			if v, err := f.svc.Inspect(ctx, tok, invite.Visitor{}); err != nil || v.State != invite.StateLobby {
				t.Fatalf("after the move: %+v %v", v, err)
			}
			e, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: tok, Email: "count@example.org"})
			if err != nil || e.PlatformErr != nil {
				t.Fatalf("redeem: %+v %v", e, err)
			}
			if q := side.questions(); len(q) != 2 {
				t.Fatalf("a page and a redemption asked the platform %d times, want 2: %v", len(q), q)
			}
		})

		t.Run("a resource gone from its platform is deleted for its links", func(t *testing.T) {
			tok := newLink("gone@example.org")
			side.set(resource.Status{Exists: false}, nil)
			if _, err := f.svc.Inspect(ctx, tok, invite.Visitor{}); !errors.Is(err, invite.ErrResourceGone) {
				t.Fatalf("inspect: %v", err)
			}
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: tok, Email: "gone@example.org"}); !errors.Is(err, invite.ErrResourceGone) {
				t.Fatalf("redeem: %v", err)
			}
			var uses int
			db.W.Raw("SELECT uses FROM invitations WHERE resource_id = ? AND email = 'gone@example.org'", hosted.ID).Scan(&uses)
			if uses != 0 {
				t.Fatalf("a refused redemption used the link: %d", uses)
			}
		})

		t.Run("a platform that cannot answer leaves the stored values", func(t *testing.T) {
			tok := newLink("down@example.org")
			side.set(resource.Status{}, resource.PlatformDown("rooms", errors.New("plugin not running")))
			v, err := f.svc.Inspect(ctx, tok, invite.Visitor{})
			if err != nil || v.State != invite.StateLobby || v.Resource.StartsAt != nil || !errors.Is(v.PlatformErr, resource.ErrPlatformDown) {
				t.Fatalf("view %+v, %v", v, err)
			}
			e, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: tok, Email: "down@example.org"})
			if err != nil || !errors.Is(e.PlatformErr, resource.ErrPlatformDown) {
				t.Fatalf("redeem: %+v %v", e, err)
			}
		})

		if now := rowOf(t, db, hosted.ID); now != stored {
			t.Fatalf("what the platform said was written: %s, was %s", now, stored)
		}

		t.Run("a removed link is refused without asking the platform", func(t *testing.T) {
			tok := newLink("removed@example.org")
			var inv invite.Invitation
			if err := db.W.Where("email = ? AND resource_id = ?", "removed@example.org", hosted.ID).Take(&inv).Error; err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Remove(ctx, f.caller, hosted.ID, inv.ID); err != nil {
				t.Fatal(err)
			}
			// A platform that hangs would make the person wait for a
			// refusal it has no part in.
			side.set(resource.Status{}, errors.New("the platform is down"))
			if _, err := f.svc.Inspect(ctx, tok, invite.Visitor{}); !errors.Is(err, invite.ErrRemoved) {
				t.Fatalf("opening a removed link: %v", err)
			}
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: tok, Email: "removed@example.org"}); !errors.Is(err, invite.ErrRemoved) {
				t.Fatalf("redeeming a removed link: %v", err)
			}
			if q := side.questions(); len(q) != 0 {
				t.Fatalf("the platform was asked about a removed link: %v", q)
			}
		})

		t.Run("resources the gateway hosts ask no platform", func(t *testing.T) {
			side.set(resource.Status{}, nil)
			c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "own@example.org", FirstName: "O", LastName: "Wn", Role: "viewer"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Inspect(ctx, c.Token, invite.Visitor{}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "own@example.org"}); err != nil {
				t.Fatal(err)
			}
			if q := side.questions(); len(q) != 0 {
				t.Fatalf("the platform was asked about the gateway's own room: %v", q)
			}
		})
	})
}
