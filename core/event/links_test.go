package event_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// recMailer is an event.Mailer that keeps what it is asked to queue, or
// fails with err.
type recMailer struct {
	mu     sync.Mutex
	emails []event.Email
	err    error
	wakes  int
}

func (m *recMailer) EventEmailReady(context.Context, string) error { return nil }

func (m *recMailer) QueueEventEmail(_ context.Context, _ *store.Tx, e *event.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.emails = append(m.emails, *e)
	return nil
}

func (m *recMailer) Wake() { m.mu.Lock(); m.wakes++; m.mu.Unlock() }

// last returns the newest email, failing when there is none.
func (m *recMailer) last(t *testing.T) event.Email {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.emails) == 0 {
		t.Fatal("no email queued")
	}
	return m.emails[len(m.emails)-1]
}

func (m *recMailer) count() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.emails) }

const base = "https://gw.test"

// tokenOf cuts the token out of a link ending in /{token}.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	i := strings.LastIndexByte(link, '/')
	if i < 0 || len(link)-i-1 != 43 {
		t.Fatalf("link %q does not end in a token", link)
	}
	return link[i+1:]
}

func mailFixture(t *testing.T, db *store.DB) (*fixture, *recMailer) {
	f := setup(t, db)
	m := &recMailer{}
	f.svc.Mail, f.svc.BaseURL = m, base
	return f, m
}

func TestLoginLinkSingleUseUnderConcurrency(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, _ := mailFixture(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Registration = event.RegistrationInviteOnly })
		a := f.seed(t, ev, event.State{Status: event.Invited, Detail: event.InvitedByTeamMember}, false)
		l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(l.URL, base+"/l/") || !l.ExpiresAt.Equal(ev.EndsAt) {
			t.Fatalf("issued link %+v, want %s/l/... expiring at the event's end %s", l, base, ev.EndsAt)
		}
		tok := tokenOf(t, l.URL)
		// Looking at the link many times uses nothing.
		for range 5 {
			if v, err := f.svc.CheckLink(ctx, tok, event.LinkLogin); err != nil || v.Attendee.ID != a.ID {
				t.Fatalf("check: %v %+v", err, v)
			}
		}
		const n = 50
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, used := 0, 0
		var other []error
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				in, err := f.svc.SignInWithLink(ctx, tok)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && in.Token != "":
					wins++
				case errors.Is(err, event.ErrLinkUsed):
					used++
				default:
					other = append(other, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || used != n-1 || len(other) > 0 {
			t.Fatalf("of %d concurrent redemptions: %d signed in, %d told used, others %v", n, wins, used, other)
		}
		var sessions, logins int64
		db.R.Model(&session.Session{}).Where("user_id = ? AND scope = ? AND scope_id = ?", a.UserID, session.ScopeEvent, ev.ID).Count(&sessions)
		db.R.Model(&event.Login{}).Where("attendee_id = ? AND method = ?", a.ID, event.LoginMagicLink).Count(&logins)
		if sessions != 1 || logins != 1 {
			t.Fatalf("%d sessions and %d login records, want 1 and 1", sessions, logins)
		}
		if _, err := f.svc.CheckLink(ctx, tok, event.LinkLogin); !errors.Is(err, event.ErrLinkUsed) {
			t.Fatalf("used link checks as %v", err)
		}
	})
}

func TestLinkRefusals(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, m := mailFixture(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Registration = event.RegistrationInviteOnly })
		a := f.seed(t, ev, event.State{Status: event.Invited, Detail: event.InvitedByTeamMember}, false)

		// Expired: the event's end (here more than a day away) passes.
		l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		saved := *f.clock
		*f.clock = l.ExpiresAt
		if _, err := f.svc.SignInWithLink(ctx, tokenOf(t, l.URL)); !errors.Is(err, event.ErrLinkExpired) {
			t.Fatalf("expired link: %v", err)
		}
		*f.clock = saved

		// A confirmation link is not a login link, and garbage is no link.
		for _, tok := range []string{"short", strings.Repeat("A", 43)} {
			if _, err := f.svc.SignInWithLink(ctx, tok); !errors.Is(err, event.ErrLinkInvalid) {
				t.Fatalf("token %q: %v", tok, err)
			}
		}

		// Resending the invitation replaces the earlier login links.
		first, err := f.svc.ResendInvitation(ctx, f.caller, ev.ID, a.ID)
		if err != nil || first.ID != a.ID {
			t.Fatal(err)
		}
		e1 := m.last(t)
		if e1.Template != event.EmailResend || e1.Attendee.ID != a.ID || !strings.HasPrefix(e1.Link, base+"/l/") {
			t.Fatalf("resend queued %+v", e1)
		}
		if _, err := f.svc.ResendInvitation(ctx, f.caller, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		e2 := m.last(t)
		if _, err := f.svc.SignInWithLink(ctx, tokenOf(t, e1.Link)); !errors.Is(err, event.ErrLinkRevoked) {
			t.Fatalf("replaced link: %v", err)
		}
		if _, err := f.svc.SignInWithLink(ctx, tokenOf(t, l.URL)); !errors.Is(err, event.ErrLinkRevoked) {
			t.Fatalf("generated link after a resend: %v", err)
		}

		// A blocked attendee's link does not sign in and stays unused.
		if _, err := f.svc.Block(ctx, f.caller, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SignInWithLink(ctx, tokenOf(t, e2.Link)); !errors.Is(err, event.ErrBlocked) {
			t.Fatalf("blocked attendee's link: %v", err)
		}
		var l2 event.Link
		db.R.Where("attendee_id = ? AND revoked_at IS NULL", a.ID).Take(&l2)
		if l2.UsedAt != nil {
			t.Fatal("a refused sign-in used the link")
		}

		// Resend is an action of invited attendees only.
		b := f.seed(t, ev, event.State{Status: event.Attended, Detail: event.PreEventVisit}, false)
		if _, err := f.svc.ResendInvitation(ctx, f.caller, ev.ID, b.ID); code(err) != "action_not_allowed" {
			t.Fatalf("resend to an attended attendee: %v", err)
		}
		if _, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, b.ID); code(err) != "action_not_allowed" {
			t.Fatalf("login link for an attended attendee: %v", err)
		}
	})
}

func TestInviteWithEmail(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Registration = event.RegistrationInviteOnly })
		in := event.InviteInput{Email: "ivy@guest.test", Profile: event.Profile{FirstName: "Ivy", LastName: "Guest"}, SendEmail: true}

		// No mail on this gateway: refused, and nobody added.
		if _, err := f.svc.Invite(ctx, f.caller, ev.ID, in); code(err) != "email_unavailable" {
			t.Fatalf("invite with email and no mail: %v", err)
		}
		// The email fails to queue: the attendee is not added either.
		m := &recMailer{err: errors.New("template broken")}
		f.svc.Mail, f.svc.BaseURL = m, base
		if _, err := f.svc.Invite(ctx, f.caller, ev.ID, in); err == nil {
			t.Fatal("invite succeeded though its email failed")
		}
		var n int64
		db.R.Model(&event.Attendee{}).Where("event_id = ?", ev.ID).Count(&n)
		if n != 0 {
			t.Fatalf("%d attendees after failed invitations", n)
		}
		m.err = nil
		a, err := f.svc.Invite(ctx, f.caller, ev.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		e := m.last(t)
		if e.Template != event.EmailInvitation || e.Attendee.ID != a.ID || e.By != f.caller.Actor || m.wakes != 1 {
			t.Fatalf("invitation email %+v (wakes %d)", e, m.wakes)
		}
		in2, err := f.svc.SignInWithLink(ctx, tokenOf(t, e.Link))
		if err != nil || in2.Attendee.ID != a.ID {
			t.Fatalf("invitation link: %v", err)
		}
		// Without email: added silently.
		in.Email, in.SendEmail = "quiet@guest.test", false
		if _, err := f.svc.Invite(ctx, f.caller, ev.ID, in); err != nil || m.count() != 1 {
			t.Fatalf("invite without email: %v, %d emails", err, m.count())
		}

		// Open registration: the email invites to register on the site.
		open := f.event(t, nil)
		in.Email, in.SendEmail = "reg@guest.test", true
		if _, err := f.svc.Invite(ctx, f.caller, open.ID, in); err != nil {
			t.Fatal(err)
		}
		if e := m.last(t); e.Template != event.EmailInvitationToRegister || e.Link != base+"/e/"+open.Slug {
			t.Fatalf("invitation to register %+v", e)
		}
	})
}

func TestRegistrationConfirmationAndSessions(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, m := mailFixture(t, db)
		ev := f.event(t, nil)
		if _, err := f.svc.SiteRegister(ctx, ev, event.Identity{Email: "rae@guest.test", FirstName: "Rae", LastName: "R"}); err != nil {
			t.Fatal(err)
		}
		e := m.last(t)
		if e.Template != event.EmailRegistrationConfirmation || !strings.HasPrefix(e.Link, base+"/e/"+ev.Slug+"/confirm/") {
			t.Fatalf("registration email %+v", e)
		}
		a := e.Attendee
		if a.State() != (event.State{Status: event.Registered, Detail: event.DetailRegistered}) {
			t.Fatalf("registered as %v", a.State())
		}
		tok := tokenOf(t, e.Link)
		if _, err := f.svc.SignInWithLink(ctx, tok); !errors.Is(err, event.ErrLinkInvalid) {
			t.Fatalf("a confirmation link used as a login link: %v", err)
		}
		if _, err := f.svc.ConfirmWithLink(ctx, "other-event", tok); !errors.Is(err, event.ErrLinkInvalid) {
			t.Fatalf("confirmation link on another event: %v", err)
		}
		in, err := f.svc.ConfirmWithLink(ctx, ev.Slug, tok)
		if err != nil {
			t.Fatal(err)
		}
		if in.Attendee.State() != (event.State{Status: event.Registered, Detail: event.ConfirmedEmail}) {
			t.Fatalf("after confirming: %v", in.Attendee.State())
		}
		if _, err := f.svc.ConfirmWithLink(ctx, ev.Slug, tok); !errors.Is(err, event.ErrLinkUsed) {
			t.Fatalf("confirmation link reused: %v", err)
		}
		_, got, err := f.svc.Authenticate(ctx, ev, in.Token)
		if err != nil || got.ID != a.ID {
			t.Fatalf("session after confirming: %v", err)
		}
		other := f.event(t, nil)
		if _, _, err := f.svc.Authenticate(ctx, other, in.Token); !errors.Is(err, event.ErrSignedOut) {
			t.Fatalf("a session of one event on another: %v", err)
		}

		// Registering again answers the same and sends a login link, a few
		// times per window only.
		for range event.MaxRequestedLinks + 2 {
			if _, err := f.svc.SiteRegister(ctx, ev, event.Identity{Email: "RAE@guest.test", FirstName: "Rae", LastName: "R"}); err != nil {
				t.Fatal(err)
			}
		}
		if got := m.count(); got != event.MaxRequestedLinks {
			t.Fatalf("%d emails after repeated registrations, want %d", got, event.MaxRequestedLinks)
		}
		if e := m.last(t); !strings.HasPrefix(e.Link, base+"/l/") {
			t.Fatalf("a confirmed registrant is sent %s, want a login link", e.Link)
		}

		// The sign-in form: unknown addresses get the same answer, no email.
		before := m.count()
		if err := f.svc.RequestLoginLink(ctx, ev, "nobody@guest.test"); err != nil || m.count() != before {
			t.Fatalf("sign-in form for an unknown address: %v, %d emails", err, m.count()-before)
		}
		if err := f.svc.RequestLoginLink(ctx, ev, "not-an-email"); code(err) != "invalid" {
			t.Fatalf("sign-in form with a bad address: %v", err)
		}

		// Visits and sign-ins show in the analytics.
		if _, err := f.svc.RecordVisit(ctx, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		an, err := f.svc.Analytics(ctx, f.caller, ev.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(an.Visits) != 1 || an.Visits[0].Kind != event.VisitPreEvent || len(an.Logins) != 1 || an.Logins[0].Method != event.LoginMagicLink {
			t.Fatalf("analytics %+v", an)
		}

		// Removing ends the session and every unused link in one go.
		var unused int64
		db.R.Model(&event.Link{}).Where("attendee_id = ? AND used_at IS NULL AND revoked_at IS NULL", a.ID).Count(&unused)
		if unused == 0 {
			t.Fatal("the attendee has no unused link to revoke")
		}
		if err := f.svc.Remove(ctx, f.caller, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Authenticate(ctx, ev, in.Token); !errors.Is(err, event.ErrSignedOut) {
			t.Fatalf("session after removal: %v", err)
		}
		db.R.Model(&event.Link{}).Where("attendee_id = ? AND used_at IS NULL AND revoked_at IS NULL", a.ID).Count(&unused)
		var live int64
		db.R.Model(&session.Session{}).Where("user_id = ? AND scope = ? AND scope_id = ? AND revoked_at IS NULL", a.UserID, session.ScopeEvent, ev.ID).Count(&live)
		if unused != 0 || live != 0 {
			t.Fatalf("after removal: %d unused links, %d live sessions", unused, live)
		}
	})
}

func TestSiteChatAndBlocking(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, _ := mailFixture(t, db)
		ev := f.event(t, nil)
		a := f.seed(t, ev, event.State{Status: event.Invited, Detail: event.InvitedToRegister}, false)
		l, err := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		in, err := f.svc.SignInWithLink(ctx, tokenOf(t, l.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.PostChat(ctx, ev, a.ID, "hello"); !errors.Is(err, event.ErrChatTerms) {
			t.Fatalf("chat before the terms: %v", err)
		}
		if _, err := f.svc.RecordVisit(ctx, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AcceptChatTerms(ctx, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.PostChat(ctx, ev, a.ID, "  "); code(err) != "invalid" {
			t.Fatalf("empty message: %v", err)
		}
		if _, err := f.svc.PostChat(ctx, ev, a.ID, "hello"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.BlockFromChat(ctx, f.caller, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.PostChat(ctx, ev, a.ID, "again"); !errors.Is(err, event.ErrBlockedFromChat) {
			t.Fatalf("chat after the block: %v", err)
		}
		msgs, err := f.svc.ChatMessages(ctx, ev, 10)
		if err != nil || len(msgs) != 1 || msgs[0].Body != "hello" || msgs[0].Author != "P Q" {
			t.Fatalf("chat messages %+v, %v", msgs, err)
		}
		// Blocking from the event ends access on the next request.
		if _, err := f.svc.Block(ctx, f.caller, ev.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Authenticate(ctx, ev, in.Token); !errors.Is(err, event.ErrBlocked) {
			t.Fatalf("blocked attendee's session: %v", err)
		}
		b := f.seed(t, ev, event.State{Status: event.Registered, Detail: event.ConfirmedEmail}, false)
		l2, _ := f.svc.GenerateLoginLink(ctx, f.caller, ev.ID, b.ID)
		in2, err := f.svc.SignInWithLink(ctx, tokenOf(t, l2.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SiteUnregister(ctx, ev, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Authenticate(ctx, ev, in2.Token); !errors.Is(err, event.ErrSignedOut) {
			t.Fatalf("session after unregistering: %v", err)
		}
	})
}

// Invitations prepared ahead of their transaction write, for a mailer
// without batches too, the links and emails of the attendees kept, and
// nothing of the others.
func TestPreparedInvitationsWriteOnlyTheKept(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, m := mailFixture(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Registration = event.RegistrationInviteOnly })
		var as []*event.Attendee
		for range 3 {
			as = append(as, f.seed(t, ev, event.State{Status: event.Invited, Detail: event.InvitedByTeamMember}, false))
		}
		inv, err := f.svc.PrepareInvitations(ctx, db, ev, as, f.caller.Actor)
		if err != nil {
			t.Fatal(err)
		}
		if m.count() != 0 {
			t.Fatalf("%d emails queued by preparing, want none", m.count())
		}
		err = db.Tx(ctx, func(tx *store.Tx) error {
			return inv.Write(ctx, tx, func(id string) bool { return id != as[1].ID })
		})
		if err != nil {
			t.Fatal(err)
		}
		if m.count() != 2 {
			t.Fatalf("%d emails queued, want 2", m.count())
		}
		for i, e := range m.emails {
			want := as[[]int{0, 2}[i]]
			if e.Attendee.ID != want.ID || !strings.HasPrefix(e.Link, base+"/l/") {
				t.Fatalf("email %d: to %s with %q, want %s with a login link", i, e.Attendee.ID, e.Link, want.ID)
			}
			tokenOf(t, e.Link)
		}
		var linked []string
		if err := db.R.Table("event_links").Order("attendee_id").Pluck("attendee_id", &linked).Error; err != nil {
			t.Fatal(err)
		}
		if len(linked) != 2 || linked[0] == as[1].ID || linked[1] == as[1].ID {
			t.Fatalf("login links stored for %v, want the two kept attendees'", linked)
		}
	})
}
