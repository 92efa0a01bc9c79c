package event

import (
	"context"
	"errors"
	"time"

	"github.com/invitegate/gateway/core/store"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/token"
)

// Kinds of attendee link.
const (
	// LinkLogin signs the attendee into the event site (/l/{token}).
	LinkLogin = "login"
	// LinkConfirm confirms a site registrant's address and signs them in
	// (/e/{slug}/confirm/{token}).
	LinkConfirm = "confirm"
)

// Link lifetimes. A link someone asks for on the event site is used within
// minutes; one an organizer sends may wait in an inbox until the event.
const (
	// RequestedLinkTTL is the life of a login link from the site's
	// sign-in form.
	RequestedLinkTTL = time.Hour
	// MinLinkTTL is the shortest life of an emailed invitation, a
	// confirmation or a generated login link; they otherwise work until
	// the event ends.
	MinLinkTTL = 24 * time.Hour
)

// Link is a single-use attendee link. Only the SHA-256 of its token is
// stored; the token is shown once, in the email or to the organizer.
type Link struct {
	ID         string     `gorm:"primaryKey;size:36"`
	AccountID  string     `gorm:"size:36;not null"`
	EventID    string     `gorm:"size:36;not null;index"`
	AttendeeID string     `gorm:"size:36;not null;index:idx_event_links_attendee,priority:1"`
	Kind       string     `gorm:"size:16;not null;index:idx_event_links_attendee,priority:2"`
	TokenHash  string     `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt  time.Time  `gorm:"not null;index:idx_event_links_attendee,priority:3"`
	ExpiresAt  time.Time  `gorm:"not null"`
	UsedAt     *time.Time ``
	RevokedAt  *time.Time ``
}

// TableName names the table.
func (Link) TableName() string { return "event_links" }

// Refusals of attendee links, each with its own page.
var (
	ErrLinkInvalid = problem.New(problem.NotFound, "event_link_invalid", "this link is not valid; check that it was copied whole, or ask for a new one")
	ErrLinkUsed    = problem.New(problem.Conflict, "event_link_used", "this link was already used; each link works once. Ask for a new sign-in link on the event page")
	ErrLinkExpired = problem.New(problem.Gone, "event_link_expired", "this link has expired; ask for a new sign-in link on the event page")
	ErrLinkRevoked = problem.New(problem.Gone, "event_link_revoked", "this link no longer works: a newer one replaced it, or the organizer took you off the event")
)

// longLinkExpiry is when an emailed invitation, a confirmation or a
// generated login link stops working: the event's end, but never sooner
// than MinLinkTTL from now.
func (s *Service) longLinkExpiry(ev *Event) time.Time {
	exp := s.now().Add(MinLinkTTL)
	if ev.EndsAt.After(exp) {
		return ev.EndsAt
	}
	return exp
}

// issueLink stores a new link of kind for a with tx and returns its token.
func issueLink(tx *store.Tx, ev *Event, a *Attendee, kind string, expires, now time.Time) (string, *Link, error) {
	plain, hash := token.New()
	l := &Link{ID: id.New(), AccountID: ev.AccountID, EventID: ev.ID, AttendeeID: a.ID, Kind: kind,
		TokenHash: hash, CreatedAt: now, ExpiresAt: expires.UTC()}
	if err := tx.Create(l).Error; err != nil {
		return "", nil, err
	}
	return plain, l, nil
}

// revokeLinks stops the attendee's unused links of kind ("" = every kind).
func revokeLinks(tx *store.Tx, attendeeID, kind string, now time.Time) error {
	q := tx.Model(&Link{}).Where("attendee_id = ? AND used_at IS NULL AND revoked_at IS NULL", attendeeID)
	if kind != "" {
		q = q.Where("kind = ?", kind)
	}
	return q.Update("revoked_at", now).Error
}

// LinkView is what a link's page shows before anything is used.
type LinkView struct {
	Link     *Link
	Event    *Event
	Attendee *Attendee
}

// CheckLink tells whether a link of kind would work now, without using it:
// the GET of a link's page. A link of another kind is "not valid".
func (s *Service) CheckLink(ctx context.Context, tok, kind string) (*LinkView, error) {
	if !token.WellFormed(tok) {
		return nil, ErrLinkInvalid
	}
	db := s.DB.R.WithContext(ctx)
	var l Link
	err := db.Where("token_hash = ?", token.Hash(tok)).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && l.Kind != kind {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	if err := linkRefusal(&l, s.now()); err != nil {
		return nil, err
	}
	ev, err := siteEvent(ctx, db, l.EventID)
	if err != nil {
		return nil, ErrLinkRevoked
	}
	a, err := loadAttendee(db, ev.ID, l.AttendeeID)
	if errors.Is(err, problem.ErrNotFound) {
		return nil, ErrLinkRevoked
	}
	if err != nil {
		return nil, err
	}
	if err := s.mayEnter(ctx, s.DB, ev, string(a.Email), a); err != nil {
		return nil, err
	}
	return &LinkView{Link: &l, Event: ev, Attendee: a}, nil
}

// linkRefusal is why l does not work at now, or nil. Revocation and use
// come before expiry: "already used" is the truer answer for an old link.
func linkRefusal(l *Link, now time.Time) error {
	switch {
	case l.UsedAt != nil:
		return ErrLinkUsed
	case l.RevokedAt != nil:
		return ErrLinkRevoked
	case !now.Before(l.ExpiresAt):
		return ErrLinkExpired
	}
	return nil
}

// consumeLink uses the link of kind with token tok in tx. The conditional
// UPDATE is the whole decision: of any number of concurrent clicks, exactly
// one matches the unused, unrevoked, unexpired row; the others change
// nothing and are told why from what the row says now.
func consumeLink(tx *store.Tx, tok, kind string, now time.Time) (*Link, error) {
	if !token.WellFormed(tok) {
		return nil, ErrLinkInvalid
	}
	hash := token.Hash(tok)
	r := tx.Model(&Link{}).
		Where("token_hash = ? AND kind = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?", hash, kind, now).
		Update("used_at", now)
	if r.Error != nil {
		return nil, r.Error
	}
	var l Link
	err := tx.Where("token_hash = ?", hash).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && l.Kind != kind {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	if r.RowsAffected == 0 {
		if err := linkRefusal(&l, now); err != nil {
			return nil, err
		}
		// The row reads as usable yet the UPDATE matched nothing: another
		// transaction used it in between.
		return nil, ErrLinkUsed
	}
	return &l, nil
}

// LinkEvent is the event a link belongs to, whatever the link's state, so
// a refusal page can lead back to the event; nil for an unknown token.
func (s *Service) LinkEvent(ctx context.Context, tok string) *Event {
	if !token.WellFormed(tok) {
		return nil
	}
	db := s.DB.R.WithContext(ctx)
	var l Link
	if err := db.Where("token_hash = ?", token.Hash(tok)).Take(&l).Error; err != nil {
		return nil
	}
	ev, err := siteEvent(ctx, db, l.EventID)
	if err != nil {
		return nil
	}
	return ev
}
