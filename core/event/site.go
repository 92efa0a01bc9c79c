package event

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/invitegate/gateway/core/user"

	"github.com/invitegate/gateway/core/session"

	"github.com/invitegate/gateway/core/store"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
)

// DefaultSessionTTL is how long an event site session lasts: a working day
// of sessions, without sliding, so a lost cookie stops working on its own.
const DefaultSessionTTL = 24 * time.Hour

// Limits of the event site.
const (
	// MaxRequestedLinks bounds the login and confirmation emails one
	// attendee can be sent from the site's forms per RequestWindow, so the
	// forms cannot be used to flood someone's inbox.
	MaxRequestedLinks = 3
	RequestWindow     = 15 * time.Minute
	// MaxChatMessage is the longest chat message, in characters.
	MaxChatMessage = 1000
)

// Login is one sign-in of an attendee to the event site (View analytics).
type Login struct {
	ID         string    `gorm:"primaryKey;size:36" json:"id"`
	AccountID  string    `gorm:"size:36;not null" json:"-"`
	EventID    string    `gorm:"size:36;not null;index" json:"event_id"`
	AttendeeID string    `gorm:"size:36;not null;index:idx_event_logins_attendee_at,priority:1" json:"attendee_id"`
	At         time.Time `gorm:"not null;index:idx_event_logins_attendee_at,priority:2" json:"at"`
	// Method is LoginMagicLink or LoginSSO.
	Method string `gorm:"size:16;not null" json:"method"`
}

// TableName names the table.
func (Login) TableName() string { return "event_logins" }

// ChatMessage is one message in an event's chat. The author's name is
// copied so the chat reads the same after they leave the event.
type ChatMessage struct {
	ID         string    `gorm:"primaryKey;size:36" json:"id"`
	EventID    string    `gorm:"size:36;not null;index:idx_event_chat_event_at,priority:1" json:"event_id"`
	AttendeeID string    `gorm:"size:36;not null;index" json:"attendee_id"`
	Author     string    `gorm:"size:201;not null" json:"author"`
	Body       string    `gorm:"type:text;not null" json:"body"`
	At         time.Time `gorm:"not null;index:idx_event_chat_event_at,priority:2" json:"at"`
}

// TableName names the table.
func (ChatMessage) TableName() string { return "event_chat_messages" }

// Refusals of the event site.
var (
	ErrSignedOut       = problem.New(problem.Unauthorized, "event_signed_out", "you are not signed in to this event (or your session ended); sign in again on the event page")
	ErrSSOEvent        = problem.New(problem.Conflict, "event_uses_sso", "this event signs people in through their organization's single sign-on; there is no emailed link or site registration")
	ErrBlockedFromChat = problem.New(problem.Forbidden, "blocked_from_chat", "the organizer blocked you from this event's chat; you can still follow the event")
	ErrChatTerms       = problem.New(problem.Conflict, "chat_terms_not_accepted", "accept the chat's terms before writing in it")
)

// SignIn is an opened event site session: Token goes into the cookie and is
// not kept.
type SignIn struct {
	Token    string
	Session  *session.Session
	Event    *Event
	Attendee *Attendee
}

// openSession signs the attendee in to the event site and records the
// sign-in, with tx. A site session lasts DefaultSessionTTL (or the
// service's SessionTTL), without sliding.
func (s *Service) openSession(tx *store.Tx, ev *Event, a *Attendee, method string, now time.Time) (*SignIn, error) {
	ttl := s.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	o, err := s.Sessions.Open(tx, ev.AccountID, a.UserID, session.How{Method: method, Scope: session.ScopeEvent, ScopeID: ev.ID, TTL: ttl})
	if err != nil {
		return nil, err
	}
	if err := tx.Create(&Login{ID: id.New(), AccountID: ev.AccountID, EventID: ev.ID, AttendeeID: a.ID, At: now, Method: method}).Error; err != nil {
		return nil, err
	}
	err = audit.Record(tx, ev.AccountID, audit.Actor{Kind: audit.ActorInvitee, ID: a.UserID}, "attendee.signed_in", "attendee", a.ID,
		map[string]any{"event_id": ev.ID, "method": method})
	if err != nil {
		return nil, err
	}
	return &SignIn{Token: o.Token, Session: o.Session, Event: ev, Attendee: a}, nil
}

// SignInWithLink uses a login link and opens a session, in one transaction:
// a refused attendee (blocked, unregistered, removed) leaves the link
// unused.
func (s *Service) SignInWithLink(ctx context.Context, tok string) (*SignIn, error) {
	var out *SignIn
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		now := s.now()
		l, err := consumeLink(tx, tok, LinkLogin, now)
		if err != nil {
			return err
		}
		ev, a, err := s.linkTarget(ctx, tx, l)
		if err != nil {
			return err
		}
		out, err = s.openSession(tx, ev, a, LoginMagicLink, now)
		return err
	})
	return out, err
}

// ConfirmWithLink uses a confirmation link of the event slug: the
// registrant's address is confirmed (Registered: registered -> confirmed
// email) and, since the link proved they read that inbox, they are signed
// in.
func (s *Service) ConfirmWithLink(ctx context.Context, slug, tok string) (*SignIn, error) {
	var out *SignIn
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		now := s.now()
		l, err := consumeLink(tx, tok, LinkConfirm, now)
		if err != nil {
			return err
		}
		ev, a, err := s.linkTarget(ctx, tx, l)
		if err != nil {
			return err
		}
		if ev.Slug != slug {
			return ErrLinkInvalid
		}
		if a.State() == (State{Registered, DetailRegistered}) {
			if err := s.apply(tx, ev, a, TrigConfirmEmail, nil); err != nil {
				return err
			}
		}
		out, err = s.openSession(tx, ev, a, LoginMagicLink, now)
		return err
	})
	return out, err
}

// linkTarget loads the event and attendee of a link being used, refusing
// those who may not sign in.
func (s *Service) linkTarget(ctx context.Context, tx *store.Tx, l *Link) (*Event, *Attendee, error) {
	ev, err := siteEvent(ctx, tx.DB, l.EventID)
	if err != nil {
		return nil, nil, ErrLinkRevoked
	}
	a, err := loadAttendee(tx.DB, ev.ID, l.AttendeeID)
	if errors.Is(err, problem.ErrNotFound) {
		return nil, nil, ErrLinkRevoked
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.mayEnter(ctx, tx, ev, string(a.Email), a); err != nil {
		return nil, nil, err
	}
	return ev, a, nil
}

// SignInSSO is a person arriving through the identity provider on an SSO
// event, in one transaction: the identity resolved to its user, the
// person's place on the list decided (core/access), the SSO login trigger
// (adding them when registration is open), and the site session with its
// Login record. first, when set, runs at the start of that transaction:
// what the login says of the person besides the identity (their groups,
// which a closed event's decision reads), so it is recorded exactly when
// the sign-in is. A refusal leaves nothing behind, not even a new user.
func (s *Service) SignInSSO(ctx context.Context, eventID string, id user.Identity, first func(tx *store.Tx) error) (*SignIn, error) {
	ev, err := siteEvent(ctx, s.DB.R, eventID)
	if err != nil {
		return nil, err
	}
	if ev.LoginMethod != LoginSSO {
		return nil, ErrWrongLoginMethod
	}
	id.AccountID = ev.AccountID
	// Two sign-ins of one new person race to add them; the loser tries
	// again and meets the row the winner made.
	for try := 0; ; try++ {
		var out *SignIn
		err := s.DB.Tx(ctx, func(tx *store.Tx) error {
			if first != nil {
				if err := first(tx); err != nil {
					return err
				}
			}
			u, err := user.Resolve(tx, id)
			if err != nil {
				return err
			}
			p := Profile{FirstName: u.FirstName, LastName: u.LastName}
			a, err := s.arriveTx(ctx, tx, ev, u, p, RegSSO, TrigSSOLogin)
			if err != nil {
				return err
			}
			out, err = s.openSession(tx, ev, a, LoginSSO, s.now())
			return err
		})
		if err == nil || try == 2 || !errors.Is(err, ErrStatusChanged) {
			return out, err
		}
	}
}

// Authenticate returns the live session of ev for a cookie token and its
// attendee as they are now. It only reads: a removed attendee's session is
// gone with them, a blocked one is refused here on every request.
func (s *Service) Authenticate(ctx context.Context, ev *Event, tok string) (*session.Session, *Attendee, error) {
	sess, _, err := s.Sessions.Authenticate(ctx, session.ScopeEvent, ev.ID, tok)
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Unauthorized {
		return nil, nil, ErrSignedOut
	}
	if err != nil {
		return nil, nil, err
	}
	var a Attendee
	err = s.DB.Read(ctx).Where("event_id = ? AND user_id = ?", ev.ID, sess.UserID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrSignedOut
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.mayEnter(ctx, s.DB, ev, string(a.Email), &a); err != nil {
		return nil, nil, err
	}
	return sess, &a, nil
}

// SignOut ends one session.
func (s *Service) SignOut(ctx context.Context, sessionID string) error {
	return s.Sessions.SignOut(ctx, sessionID)
}

// revokeAccess ends the attendee's site sessions and unused links with tx,
// so whatever takes them off the event takes effect in the same commit.
func (s *Service) revokeAccess(tx *store.Tx, a *Attendee, now time.Time) error {
	if err := s.Sessions.Revoke(tx, a.UserID, session.ScopeEvent, a.EventID); err != nil {
		return err
	}
	return revokeLinks(tx, a.ID, "", now)
}

// attendeeByEmail finds the attendee of ev with a normalized email.
func attendeeByEmail(ctx context.Context, db *gorm.DB, ev *Event, email string) (*Attendee, error) {
	var a Attendee
	err := db.WithContext(ctx).Where("event_id = ? AND email = ?", ev.ID, email).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &a, err
}

// requestedTooOften reports whether the attendee was sent MaxRequestedLinks
// links within RequestWindow.
func (s *Service) requestedTooOften(tx *store.Tx, attendeeID string, now time.Time) (bool, error) {
	var n int64
	err := tx.Model(&Link{}).Where("attendee_id = ? AND created_at > ?", attendeeID, now.Add(-RequestWindow)).Count(&n).Error
	return n >= MaxRequestedLinks, err
}

// RequestLoginLink is the event site's sign-in form: it emails a login link
// to the attendee with that address. The answer is the same whether or not
// the address is on the list (nil), so the form does not reveal who is;
// only bad input, an SSO event or a gateway without email are refused.
func (s *Service) RequestLoginLink(ctx context.Context, ev *Event, email string) error {
	email, err := user.NormalizeEmail(email)
	if err != nil {
		var fs problem.Fields
		fs.Add("email", err.Error())
		return fs.Err()
	}
	if ev.LoginMethod != LoginMagicLink {
		return ErrSSOEvent
	}
	if err := s.emailReady(ctx, ev.AccountID); err != nil {
		return err
	}
	sent := false
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		a, err := attendeeByEmail(ctx, tx.DB, ev, email)
		if err != nil || a == nil || s.mayEnter(ctx, tx, ev, string(a.Email), a) != nil {
			return err
		}
		now := s.now()
		if busy, err := s.requestedTooOften(tx, a.ID, now); err != nil || busy {
			return err
		}
		tok, l, err := issueLink(tx, ev, a, LinkLogin, now.Add(RequestedLinkTTL), now)
		if err != nil {
			return err
		}
		who := audit.Actor{Kind: audit.ActorInvitee, ID: a.UserID}
		if err := s.Mail.QueueEventEmail(ctx, tx, &Email{Template: EmailLoginLink, Event: ev, Attendee: a,
			Link: s.siteURL("/l/" + tok), ExpiresAt: l.ExpiresAt, By: who}); err != nil {
			return err
		}
		sent = true
		return audit.Record(tx, ev.AccountID, who, "attendee.login_link_requested", "attendee", a.ID, map[string]any{"event_id": ev.ID, "link_id": l.ID})
	})
	if err != nil {
		return err
	}
	if sent {
		s.wake()
	}
	return nil
}

// Registration is the outcome of the site's registration form as the
// registrant may see it: nothing that tells whether the address was on the
// list already.
type Registration struct {
	// Emailed is true when the gateway sends email: the person is told to
	// check their inbox.
	Emailed bool
}

// SiteRegister is the event site's registration form. A new registrant is
// added (Register) and sent the registration confirmation: a confirm link
// when the event asks for one, else a login link. Someone already on the
// list gets the same answer, and the email again (a confirm link if still
// unconfirmed, else a login link), within MaxRequestedLinks.
func (s *Service) SiteRegister(ctx context.Context, ev *Event, in Identity) (*Registration, error) {
	if ev.Registration != RegistrationOpen {
		return nil, ErrInviteOnly
	}
	if ev.LoginMethod != LoginMagicLink {
		return nil, ErrSSOEvent
	}
	a, err := s.Register(ctx, ev.ID, in)
	if err != nil {
		pe, ok := problem.As(err)
		if !ok || (pe.Code != "transition_not_allowed" && pe.Code != ErrBlocked.Code) {
			return nil, err
		}
		// Already registered, attended or blocked: answered like a new
		// registration.
		email, _ := user.NormalizeEmail(in.Email)
		a, err = attendeeByEmail(ctx, s.DB.R, ev, email)
		if err != nil {
			return nil, err
		}
		if a == nil || s.mayEnter(ctx, s.DB, ev, string(a.Email), a) != nil {
			return &Registration{Emailed: s.emailReady(ctx, ev.AccountID) == nil}, nil
		}
	}
	if s.emailReady(ctx, ev.AccountID) != nil {
		return &Registration{}, nil
	}
	sent := false
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		a, err := loadAttendee(tx.DB, ev.ID, a.ID)
		if err != nil {
			return err
		}
		now := s.now()
		if busy, err := s.requestedTooOften(tx, a.ID, now); err != nil || busy {
			return err
		}
		link, exp, err := s.confirmationLink(tx, ev, a, s.longLinkExpiry(ev))
		if err != nil {
			return err
		}
		who := audit.Actor{Kind: audit.ActorInvitee, ID: a.UserID}
		if err := s.Mail.QueueEventEmail(ctx, tx, &Email{Template: EmailRegistrationConfirmation, Event: ev, Attendee: a, Link: link, ExpiresAt: exp, By: who}); err != nil {
			return err
		}
		sent = true
		return audit.Record(tx, ev.AccountID, who, "attendee.registration_confirmation_sent", "attendee", a.ID, map[string]any{"event_id": ev.ID})
	})
	if err != nil {
		return nil, err
	}
	if sent {
		s.wake()
	}
	return &Registration{Emailed: true}, nil
}

// SiteUnregister is the attendee leaving the event from its site; their
// sessions and unused links end in the same transaction.
func (s *Service) SiteUnregister(ctx context.Context, ev *Event, attendeeID string) (*Attendee, error) {
	return s.move(ctx, ev, attendeeID, TrigUnregister, nil, func(tx *store.Tx, a *Attendee) error {
		return s.revokeAccess(tx, a, s.now())
	})
}

// PostChat adds a message to the event's chat from a signed-in attendee who
// accepted its terms and is not blocked from it.
func (s *Service) PostChat(ctx context.Context, ev *Event, attendeeID, body string) (*ChatMessage, error) {
	body = strings.TrimSpace(body)
	switch n := utf8.RuneCountInString(body); {
	case n == 0:
		return nil, problem.Field("message", "write a message first")
	case n > MaxChatMessage:
		return nil, problem.Field("message", fmt.Sprintf("the message is %d characters; at most %d are allowed", n, MaxChatMessage))
	}
	var out *ChatMessage
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		a, err := loadAttendee(tx.DB, ev.ID, attendeeID)
		if err != nil {
			return err
		}
		if err := s.mayEnter(ctx, tx, ev, string(a.Email), a); err != nil {
			return err
		}
		switch {
		case a.BlockedFromChat:
			return ErrBlockedFromChat
		case a.ChatTermsAcceptedAt == nil:
			return ErrChatTerms
		}
		out = &ChatMessage{ID: id.New(), EventID: ev.ID, AttendeeID: a.ID, Author: a.Name(), Body: body, At: s.now()}
		if err := tx.Create(out).Error; err != nil {
			return err
		}
		return audit.Record(tx, ev.AccountID, audit.Actor{Kind: audit.ActorInvitee, ID: a.UserID}, "attendee.chat_message_posted", "attendee", a.ID,
			map[string]any{"event_id": ev.ID, "message_id": out.ID})
	})
	return out, err
}

// ChatMessages returns the event's latest n messages, oldest first.
func (s *Service) ChatMessages(ctx context.Context, ev *Event, n int) ([]ChatMessage, error) {
	var out []ChatMessage
	err := s.DB.R.WithContext(ctx).Where("event_id = ?", ev.ID).Order("at DESC, id DESC").Limit(n).Find(&out).Error
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// Speakers returns the event's speakers and moderators for its page, by
// name.
func (s *Service) Speakers(ctx context.Context, ev *Event) ([]Attendee, error) {
	var out []Attendee
	err := s.DB.R.WithContext(ctx).Where("event_id = ? AND (speaker OR moderator) AND status <> ? AND status <> ?", ev.ID, Blocked, Unregistered).
		Order("name_key, id").Limit(200).Find(&out).Error
	return out, err
}
