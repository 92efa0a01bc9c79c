package invite_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/webhook"
)

type fixture struct {
	svc    *invite.Service
	caller invite.Caller
	room   *resource.Resource
	video  *resource.Resource
	clock  *time.Time
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	b, err := account.EnsureFirst(ctx, db, "Acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	f := &fixture{clock: &now}
	clock := func() time.Time { return *f.clock }
	sessions, err := session.New(ctx, db, session.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	// As served, with the webhook service, which knows when no endpoint
	// wants an event.
	hooks, err := webhook.New(db, webhook.Config{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = &invite.Service{DB: db, Now: clock, Sessions: sessions, Webhooks: hooks}
	f.caller = invite.Caller{AccountID: b.Account.ID, Actor: audit.Actor{Kind: audit.ActorAPIKey, ID: "k"}, Admin: true}
	f.room, err = resource.Create(ctx, db, b.Account.ID, f.caller.Actor, resource.Input{Type: resource.Room, Title: "Weekly seminar"})
	if err != nil {
		t.Fatal(err)
	}
	f.video, err = resource.Create(ctx, db, b.Account.ID, f.caller.Actor, resource.Input{Type: resource.Video, Title: "Lecture 1"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func code(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return ""
}

func TestInvitations(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)

		t.Run("media is viewer only", func(t *testing.T) {
			_, err := f.svc.Create(ctx, f.caller, f.video.ID, invite.NewInput{Email: "a@b.test", FirstName: "A", LastName: "B", Role: "speaker"})
			if p, _ := problem.As(err); p == nil || p.Field != "role" {
				t.Fatalf("want role error, got %v", err)
			}
		})
		t.Run("names and email required, all reported", func(t *testing.T) {
			_, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "not-an-email"})
			p, _ := problem.As(err)
			if p == nil || len(p.Details) != 3 {
				t.Fatalf("want 3 field errors, got %+v", err)
			}
		})

		t.Run("single use: 200 concurrent redemptions give one entry", func(t *testing.T) {
			c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "Guest@Example.org", FirstName: "Gia", LastName: "Guest", Role: "speaker"})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[string]int{}
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "guest@example.org"})
					mu.Lock()
					codes[code(err)]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if codes[""] != 1 || codes["used_on_another_device"] != 199 {
				t.Fatalf("want 1 success and 199 used_on_another_device, got %v", codes)
			}
			var uses int
			db.W.Raw("SELECT uses FROM invitations WHERE id = ?", c.Invitation.ID).Scan(&uses)
			if uses != 1 {
				t.Fatalf("uses = %d", uses)
			}
		})

		t.Run("device returns, others refused, email checked", func(t *testing.T) {
			c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "dev@example.org", FirstName: "D", LastName: "V", Role: "viewer"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "wrong@example.org"}); code(err) != "email_mismatch" {
				t.Fatalf("want email_mismatch, got %v", err)
			}
			e, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "DEV@example.org"})
			if err != nil {
				t.Fatal(err)
			}
			again, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Visitor: invite.Visitor{DeviceSecret: e.DeviceSecret}})
			if err != nil || !again.Reentry {
				t.Fatalf("same device should re-enter: %v %+v", err, again)
			}
			if _, err := f.svc.Inspect(ctx, c.Token, invite.Visitor{}); code(err) != "used_on_another_device" {
				t.Fatalf("other device: %v", err)
			}
		})

		t.Run("guesses are rate limited per link", func(t *testing.T) {
			c, _ := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "rl@example.org", FirstName: "R", LastName: "L"})
			for i := 0; i < 5; i++ {
				if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "x@example.org"}); code(err) != "email_mismatch" {
					t.Fatalf("guess %d: %v", i, err)
				}
			}
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "rl@example.org"}); code(err) != "too_many_attempts" {
				t.Fatalf("want too_many_attempts, got %v", err)
			}
			*f.clock = f.clock.Add(16 * time.Minute)
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c.Token, Email: "rl@example.org"}); err != nil {
				t.Fatalf("after the window: %v", err)
			}
		})

		t.Run("higher role upgrades a present person", func(t *testing.T) {
			c1, _ := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "up@example.org", FirstName: "U", LastName: "P", Role: "viewer"})
			c2, _ := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "up@example.org", FirstName: "U", LastName: "P", Role: "moderator"})
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c1.Token, Email: "up@example.org"}); err != nil {
				t.Fatal(err)
			}
			e, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: c2.Token, Email: "up@example.org"})
			if err != nil || !e.Upgraded || e.PreviousRole != "viewer" || e.Role != "moderator" {
				t.Fatalf("want upgrade viewer->moderator, got %v %+v", err, e)
			}
			role, _ := resource.ParticipantRole(ctx, db, f.room.ID, e.User.ID)
			if role != "moderator" {
				t.Fatalf("participant role %q", role)
			}
		})

		t.Run("failures", func(t *testing.T) {
			mk := func(email string) *invite.Created {
				c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: email, FirstName: "F", LastName: "L"})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			removed := mk("rm@example.org")
			if err := f.svc.Remove(ctx, f.caller, f.room.ID, removed.Invitation.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Inspect(ctx, removed.Token, invite.Visitor{}); code(err) != "invite_removed" {
				t.Fatalf("removed: %v", err)
			}
			old := mk("re@example.org")
			nw, err := f.svc.Resend(ctx, f.caller, f.room.ID, old.Invitation.ID, invite.ResendInput{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Inspect(ctx, old.Token, invite.Visitor{}); !errors.Is(err, invite.ErrReplaced) {
				t.Fatalf("replaced: %v", err)
			}
			if v, err := f.svc.Inspect(ctx, nw.Token, invite.Visitor{}); err != nil || v.State != invite.StateLobby {
				t.Fatalf("new link: %v", err)
			}
			exp := mk("exp@example.org")
			*f.clock = f.clock.Add(8 * 24 * time.Hour)
			if _, err := f.svc.Inspect(ctx, exp.Token, invite.Visitor{}); code(err) != "invite_expired" {
				t.Fatalf("expired: %v", err)
			}
			*f.clock = time.Now().UTC()
			if _, err := f.svc.Inspect(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", invite.Visitor{}); code(err) != "invite_not_found" {
				t.Fatalf("unknown: %v", err)
			}
			blocked := mk("x@blocked.example.net")
			s := invite.DefaultSettings(f.caller.AccountID)
			s.BlockedDomains = []string{"*.example.net"}
			if err := invite.SaveSettings(ctx, db, f.caller.AccountID, f.caller.Actor, s); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Inspect(ctx, blocked.Token, invite.Visitor{}); code(err) != "domain_blocked" {
				t.Fatalf("blocked: %v", err)
			}
			if _, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "y@sub.example.net", FirstName: "F", LastName: "L"}); err == nil {
				t.Fatal("creating an invite to a blocked domain succeeded")
			}
			s.Enabled = false
			invite.SaveSettings(ctx, db, f.caller.AccountID, f.caller.Actor, s)
			if _, err := f.svc.Inspect(ctx, nw.Token, invite.Visitor{}); code(err) != "module_disabled" {
				t.Fatalf("disabled: %v", err)
			}
			invite.SaveSettings(ctx, db, f.caller.AccountID, f.caller.Actor, invite.DefaultSettings(f.caller.AccountID))
			if err := resource.Delete(ctx, db, f.caller.AccountID, f.room.ID, f.caller.Actor); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Inspect(ctx, nw.Token, invite.Visitor{}); code(err) != "resource_deleted" {
				t.Fatalf("deleted: %v", err)
			}
		})
	})
}

// The settings show and validate the account's domain policy; the policy
// itself is core/access's (see its tests).
func TestSettingsValidateTheDomainPolicy(t *testing.T) {
	s := invite.DefaultSettings("a")
	s.BlockedDomains = []string{" Bad.com ", "", "*.evil.org"}
	if err := s.Validate(); err != nil || len(s.BlockedDomains) != 2 || s.BlockedDomains[0] != "bad.com" {
		t.Fatalf("validate: %v, %v", err, s.BlockedDomains)
	}
	s.BlockedDomains = []string{"exa mple.com", "*.*.x.com"}
	if p, _ := problem.As(s.Validate()); p == nil || len(p.Details) != 2 || p.Details[0].Field != "blocked_domains[0]" {
		t.Fatalf("want 2 domain errors, got %v", p)
	}
}

// The common redemption, a first entry, is decided on a read made before
// its write (on PostgreSQL, one statement). A person who enters the same
// room through another link between that read and that write is entered
// once, with the higher role, as if the two had come one after the other.
func TestFirstEntryRacingAnotherEntry(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		mk := func(role string) *invite.Created {
			c, err := f.svc.Create(ctx, f.caller, f.room.ID, invite.NewInput{Email: "race@example.org", FirstName: "R", LastName: "C", Role: role})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		speaker, viewer := mk("speaker"), mk("viewer")
		raced := 0
		invite.BetweenReadAndWrite(f.svc, func() {
			raced++
			invite.BetweenReadAndWrite(f.svc, nil)
			if _, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: viewer.Token, Email: "race@example.org"}); err != nil {
				t.Errorf("the other entry: %v", err)
			}
		})
		e, err := f.svc.Redeem(ctx, invite.RedeemInput{Token: speaker.Token, Email: "race@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if db.Dialect == store.Postgres && raced != 1 {
			t.Fatalf("on PostgreSQL the first entry is read, then written: the other entry ran %d times between them", raced)
		}
		if raced == 1 && (e.Role != "speaker" || e.PreviousRole != "viewer" || !e.Upgraded) {
			t.Fatalf("entry after the race: role %q, previous %q, upgraded %v; want speaker over viewer", e.Role, e.PreviousRole, e.Upgraded)
		}
		var rows, uses int
		var role string
		db.W.Raw("SELECT count(*) FROM participants WHERE resource_id = ? AND user_id = ?", f.room.ID, e.User.ID).Scan(&rows)
		db.W.Raw("SELECT role FROM participants WHERE resource_id = ? AND user_id = ?", f.room.ID, e.User.ID).Scan(&role)
		db.W.Raw("SELECT uses FROM invitations WHERE id = ?", speaker.Invitation.ID).Scan(&uses)
		if rows != 1 || role != "speaker" || uses != 1 {
			t.Fatalf("participants rows %d (role %q), speaker link uses %d; want 1, speaker, 1", rows, role, uses)
		}
		var redeemed, sessions int
		db.W.Raw("SELECT count(*) FROM audit_entries WHERE action = 'invitation.redeemed' AND target_id = ?", speaker.Invitation.ID).Scan(&redeemed)
		db.W.Raw("SELECT count(*) FROM sessions WHERE user_id = ? AND scope = 'resource'", e.User.ID).Scan(&sessions)
		if redeemed != 1 || sessions != 1+raced {
			t.Fatalf("audit entries of the speaker link %d, resource sessions %d; want 1 and %d", redeemed, sessions, 1+raced)
		}
	})
}
