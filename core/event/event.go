// Package event owns virtual events and their attendees: the event's
// schedule and settings, each attendee's roles, speaker details and status,
// the status machine that only real events move (status.go), the actions an
// organizer may take in each status (action.go), and the All users query
// (list.go).
//
// Every change runs in one transaction with its audit entry. Status moves are
// conditional UPDATEs on the state that was read, so two concurrent triggers
// never both apply to the same starting state.
//
// Where the design is silent, this package decided:
//   - An organizer's invitation is "invited by team member" on an invite-only
//     event and "invited to register" on an event with open registration.
//   - Registration asks for email confirmation unless the event turns it off
//     ("no confirmation required").
//   - A visit from the event's start on, even after its end, is a
//     during-event visit; a later pre-event visit never demotes it.
//   - Invited, registered and SSO-login attendees become Attended on a visit;
//     an SSO login after attending keeps Attended.
//   - Blocking is not a row action (the seed's table has none): access rules
//     and admins call Block. No transition leaves Blocked.
//   - Remove deletes the attendee and their visits; the audit log keeps that
//     it happened.
//   - Search is by prefix (see Query.Search), so it stays an index range.
//   - Attendee links (links.go) are single use: a login link signs in to the
//     event site, a confirmation link confirms a site registrant's address
//     and signs them in too (it proved the inbox). Links an organizer sends
//     or generates work until the event ends (at least 24 hours); one asked
//     for on the site's sign-in form works for an hour.
//   - An invitation to an open-registration event links to the event page
//     (they still register); to an invite-only event, a login link.
//   - The site's registration and sign-in forms answer the same whether or
//     not the address is on the list, and send at most MaxRequestedLinks
//     emails per attendee per RequestWindow.
//   - Site sessions (site.go) last DefaultSessionTTL; Remove and Unregister
//     revoke them with the attendee's unused links in the same transaction,
//     and a blocked attendee's session is refused on every request.
package event

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/session"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/webhook"
)

// Login methods of an event site.
const (
	LoginMagicLink = "magic_link" // a single-use link emailed to the attendee
	LoginSSO       = "sso"        // the account's identity provider
)

// Registration modes.
const (
	RegistrationOpen       = "open"        // anyone may register on the event site
	RegistrationInviteOnly = "invite_only" // only people a team member invited
)

// Event is a virtual event with its own site at /e/{slug}.
type Event struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;index" json:"account_id"`
	Name      string `gorm:"size:300;not null" json:"name"`
	// Slug names the event site; unique across the gateway because the
	// site's URL carries no account.
	Slug     string    `gorm:"size:64;not null;uniqueIndex" json:"slug"`
	StartsAt time.Time `gorm:"not null" json:"starts_at"`
	EndsAt   time.Time `gorm:"not null" json:"ends_at"`
	// TimeZone is an IANA name; the site shows the schedule in it.
	TimeZone     string `gorm:"size:64;not null" json:"time_zone"`
	LoginMethod  string `gorm:"size:16;not null" json:"login_method"`
	Registration string `gorm:"size:16;not null" json:"registration"`
	// ConfirmEmail makes site registrations confirm their email address
	// (detailed status "registered" until they do).
	ConfirmEmail bool `gorm:"not null" json:"confirm_email"`
	// Closed events admit only members of granted groups (the access rules).
	Closed bool `gorm:"not null" json:"closed"`
	// AdditionalUsers lets people outside the granted groups be added to a
	// closed event.
	AdditionalUsers bool      `gorm:"not null" json:"additional_users"`
	CreatedBy       string    `gorm:"size:64" json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Caller is who acts on an event, as the api authenticated them.
type Caller struct {
	AccountID string
	Actor     audit.Actor
}

// Service carries what events need.
type Service struct {
	DB *store.DB
	// Now is the clock; tests move it.
	Now func() time.Time
	// Mail queues the event emails; nil means this gateway sends none
	// (asking for one is then refused with ErrEmailUnavailable).
	Mail Mailer
	// BaseURL is the gateway's public URL; login, confirmation and event
	// site links are built from it.
	BaseURL string
	// Sessions signs attendees in to the event site.
	Sessions *session.Service
	// SessionTTL is how long an event site session lasts (default
	// DefaultSessionTTL).
	SessionTTL time.Duration
	// Webhooks tells the account's webhook endpoints of attendees and
	// group grants, in the change's transaction (nil: the package's
	// webhook.Emit, without its cache).
	Webhooks *webhook.Service
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// EventInput is what an organizer gives to create an event. Pointers are
// settings with a default when absent.
type EventInput struct {
	Name            string    `json:"name"`
	Slug            string    `json:"slug"`
	StartsAt        time.Time `json:"starts_at"`
	EndsAt          time.Time `json:"ends_at"`
	TimeZone        string    `json:"time_zone"`
	LoginMethod     string    `json:"login_method"` // default magic_link
	Registration    string    `json:"registration"` // default open
	ConfirmEmail    *bool     `json:"confirm_email"`
	Closed          bool      `json:"closed"`
	AdditionalUsers *bool     `json:"additional_users"` // default on
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{1,62}[a-z0-9])$`)

// Slugify turns a name into a slug candidate.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 64 {
		s = strings.Trim(s[:64], "-")
	}
	return s
}

func (in *EventInput) validate() (*Event, error) {
	var fs problem.Fields
	ev := &Event{Closed: in.Closed, ConfirmEmail: true, AdditionalUsers: true}
	ev.Name = strings.TrimSpace(in.Name)
	if ev.Name == "" {
		fs.Add("name", "name is required")
	} else if len(ev.Name) > 300 {
		fs.Add("name", "name is longer than 300 characters")
	}
	ev.Slug = strings.TrimSpace(in.Slug)
	if ev.Slug == "" {
		ev.Slug = Slugify(ev.Name)
	}
	if !slugRE.MatchString(ev.Slug) {
		fs.Add("slug", "slug must be 3 to 64 lower-case letters, digits and dashes, starting and ending with a letter or digit")
	}
	if in.StartsAt.IsZero() {
		fs.Add("starts_at", "start time is required")
	}
	if in.EndsAt.IsZero() {
		fs.Add("ends_at", "end time is required")
	} else if !in.StartsAt.IsZero() && !in.EndsAt.After(in.StartsAt) {
		fs.Add("ends_at", "the end must be after the start")
	}
	ev.StartsAt, ev.EndsAt = in.StartsAt.UTC(), in.EndsAt.UTC()
	ev.TimeZone = strings.TrimSpace(in.TimeZone)
	if ev.TimeZone == "" {
		fs.Add("time_zone", "time zone is required, e.g. Europe/Paris")
	} else if len(ev.TimeZone) > 64 {
		fs.Add("time_zone", "time zone is longer than 64 characters; use an IANA name such as America/New_York")
	} else if _, err := time.LoadLocation(ev.TimeZone); err != nil || ev.TimeZone == "Local" {
		fs.Add("time_zone", fmt.Sprintf("unknown time zone %q: use an IANA name such as America/New_York", ev.TimeZone))
	}
	ev.LoginMethod = in.LoginMethod
	if ev.LoginMethod == "" {
		ev.LoginMethod = LoginMagicLink
	}
	if ev.LoginMethod != LoginMagicLink && ev.LoginMethod != LoginSSO {
		fs.Add("login_method", `login method must be "magic_link" or "sso"`)
	}
	ev.Registration = in.Registration
	if ev.Registration == "" {
		ev.Registration = RegistrationOpen
	}
	if ev.Registration != RegistrationOpen && ev.Registration != RegistrationInviteOnly {
		fs.Add("registration", `registration must be "open" or "invite_only"`)
	}
	if in.ConfirmEmail != nil {
		ev.ConfirmEmail = *in.ConfirmEmail
	}
	if in.AdditionalUsers != nil {
		ev.AdditionalUsers = *in.AdditionalUsers
	}
	return ev, fs.Err()
}

// ErrSlugTaken refuses a slug another event uses.
var ErrSlugTaken = &problem.Error{Kind: problem.Conflict, Code: "slug_taken", Field: "slug", Message: "another event already uses this slug; choose another"}

// CreateEvent makes an event.
func (s *Service) CreateEvent(ctx context.Context, c Caller, in EventInput) (*Event, error) {
	ev, err := in.validate()
	if err != nil {
		return nil, err
	}
	now := s.now()
	ev.ID, ev.AccountID, ev.CreatedBy, ev.CreatedAt, ev.UpdatedAt = id.New(), c.AccountID, c.Actor.ID, now, now
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(ev).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return ErrSlugTaken
			}
			return err
		}
		return audit.Record(tx, c.AccountID, c.Actor, "event.created", "event", ev.ID, map[string]any{
			"slug": ev.Slug, "login_method": ev.LoginMethod, "registration": ev.Registration, "closed": ev.Closed,
		})
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// EventPatch changes some settings of an event; absent fields keep their
// value. The whole result is validated as a new event would be.
type EventPatch struct {
	Name            *string    `json:"name"`
	Slug            *string    `json:"slug"`
	StartsAt        *time.Time `json:"starts_at"`
	EndsAt          *time.Time `json:"ends_at"`
	TimeZone        *string    `json:"time_zone"`
	LoginMethod     *string    `json:"login_method"`
	Registration    *string    `json:"registration"`
	ConfirmEmail    *bool      `json:"confirm_email"`
	Closed          *bool      `json:"closed"`
	AdditionalUsers *bool      `json:"additional_users"`
}

// UpdateEvent applies a patch to an event of the caller's account. Attendees
// keep their status: a status records what happened, and a new setting only
// changes what happens next (e.g. switching to SSO stops login links from
// being offered, through Allowed).
func (s *Service) UpdateEvent(ctx context.Context, c Caller, eventID string, p EventPatch) (*Event, error) {
	var out *Event
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		ev, err := GetEvent(ctx, tx, c.AccountID, eventID)
		if err != nil {
			return err
		}
		in := EventInput{Name: ev.Name, Slug: ev.Slug, StartsAt: ev.StartsAt, EndsAt: ev.EndsAt, TimeZone: ev.TimeZone,
			LoginMethod: ev.LoginMethod, Registration: ev.Registration, ConfirmEmail: &ev.ConfirmEmail,
			Closed: ev.Closed, AdditionalUsers: &ev.AdditionalUsers}
		changed := map[string]any{}
		if p.Name != nil {
			in.Name, changed["name"] = *p.Name, *p.Name
		}
		if p.Slug != nil {
			in.Slug, changed["slug"] = *p.Slug, *p.Slug
		}
		if p.StartsAt != nil {
			in.StartsAt, changed["starts_at"] = *p.StartsAt, *p.StartsAt
		}
		if p.EndsAt != nil {
			in.EndsAt, changed["ends_at"] = *p.EndsAt, *p.EndsAt
		}
		if p.TimeZone != nil {
			in.TimeZone, changed["time_zone"] = *p.TimeZone, *p.TimeZone
		}
		if p.LoginMethod != nil {
			in.LoginMethod, changed["login_method"] = *p.LoginMethod, *p.LoginMethod
		}
		if p.Registration != nil {
			in.Registration, changed["registration"] = *p.Registration, *p.Registration
		}
		if p.ConfirmEmail != nil {
			in.ConfirmEmail, changed["confirm_email"] = p.ConfirmEmail, *p.ConfirmEmail
		}
		if p.Closed != nil {
			in.Closed, changed["closed"] = *p.Closed, *p.Closed
		}
		if p.AdditionalUsers != nil {
			in.AdditionalUsers, changed["additional_users"] = p.AdditionalUsers, *p.AdditionalUsers
		}
		if in.Slug == "" {
			// An emptied slug is refused rather than silently derived anew:
			// the site's address would change under its attendees.
			return problem.Field("slug", "slug cannot be empty")
		}
		nv, err := in.validate()
		if err != nil {
			return err
		}
		nv.ID, nv.AccountID, nv.CreatedBy, nv.CreatedAt, nv.UpdatedAt = ev.ID, ev.AccountID, ev.CreatedBy, ev.CreatedAt, s.now()
		if len(changed) == 0 {
			out = ev
			return nil
		}
		r := tx.Model(&Event{}).Where("id = ? AND account_id = ?", ev.ID, ev.AccountID).Updates(map[string]any{
			"name": nv.Name, "slug": nv.Slug, "starts_at": nv.StartsAt, "ends_at": nv.EndsAt, "time_zone": nv.TimeZone,
			"login_method": nv.LoginMethod, "registration": nv.Registration, "confirm_email": nv.ConfirmEmail,
			"closed": nv.Closed, "additional_users": nv.AdditionalUsers, "updated_at": nv.UpdatedAt,
		})
		if r.Error != nil {
			if store.IsUniqueViolation(r.Error) {
				return ErrSlugTaken
			}
			return r.Error
		}
		out = nv
		return audit.Record(tx, ev.AccountID, c.Actor, "event.updated", "event", ev.ID, changed)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetEvent loads an event of the account.
func GetEvent(ctx context.Context, r store.Reader, accountID, eventID string) (*Event, error) {
	return store.Owned[Event](ctx, r, accountID, eventID)
}

// BySlug loads the event an event site URL names.
func BySlug(ctx context.Context, r store.Reader, slug string) (*Event, error) {
	var ev Event
	err := r.Read(ctx).Where("slug = ?", slug).Take(&ev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &ev, err
}

// ByIDOrSlug loads the event with this id or, failing that, this slug
// (the command line names events either way).
func ByIDOrSlug(ctx context.Context, r store.Reader, ref string) (*Event, error) {
	if id.Valid(ref) {
		var ev Event
		if err := r.Read(ctx).Where("id = ?", ref).Take(&ev).Error; err == nil {
			return &ev, nil
		}
	}
	return BySlug(ctx, r, ref)
}

// ListEvents returns the account's events, soonest first.
func ListEvents(ctx context.Context, db *store.DB, accountID string) ([]Event, error) {
	var out []Event
	err := db.R.WithContext(ctx).Where("account_id = ?", accountID).Order("starts_at, id").Limit(1000).Find(&out).Error
	return out, err
}

// VisitKind tells whether a visit at t is before the event or during it.
// A visit after the end still counts as during the event: the person came
// to the event site once the event had started.
func (ev *Event) VisitKind(t time.Time) string {
	if t.Before(ev.StartsAt) {
		return VisitPreEvent
	}
	return VisitDuringEvent
}

// Location is the event's time zone (validated when the event was made).
func (ev *Event) Location() *time.Location {
	loc, err := time.LoadLocation(ev.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}
