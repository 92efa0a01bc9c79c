// Package invite owns invite links to rooms, live sessions and media: who may
// create them and within which limits, what opening a link shows, and the
// redemption that lets exactly the invited person in.
//
// Only a hash of a link's token is stored. Opening a link (Inspect) never
// changes anything; Redeem, called from a POST a person makes, consumes a
// use in one conditional UPDATE whose row count decides the winner.
package invite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/access"

	"github.com/invitegate/gateway/core/session"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/core/webhook"
)

// Invitation is one invite link.
type Invitation struct {
	ID         string `gorm:"primaryKey;size:36" json:"id"`
	AccountID  string `gorm:"size:36;not null;index" json:"account_id"`
	ResourceID string `gorm:"size:36;not null;index" json:"resource_id"`
	Email      string `gorm:"size:254;not null" json:"email"`
	FirstName  string `gorm:"size:100;not null" json:"first_name"`
	LastName   string `gorm:"size:100;not null" json:"last_name"`
	Role       string `gorm:"size:16;not null" json:"role"`
	TokenHash  string `gorm:"size:64;not null;uniqueIndex" json:"-"`
	CreatedBy  string `gorm:"size:64" json:"created_by"`
	// MaxUses is the number of redemptions allowed; 0 means unlimited.
	MaxUses       int        `gorm:"not null" json:"max_uses"`
	Uses          int        `gorm:"not null;default:0" json:"uses"`
	DeviceBinding bool       `json:"device_binding"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `gorm:"not null" json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	// ReplacedBy is set when "resend" issued a new link in this one's place.
	ReplacedBy     string     `gorm:"size:36" json:"replaced_by,omitempty"`
	LastRedeemedAt *time.Time `json:"last_redeemed_at,omitempty"`
	// FailedGuesses counts wrong emails typed in the lobby within the window
	// starting at GuessWindowStart; past the limit the lobby refuses guesses.
	FailedGuesses    int        `gorm:"not null;default:0" json:"-"`
	GuessWindowStart *time.Time `json:"-"`
}

// Redemption records one device's entry through a link. A device is known
// only by the hash of the random secret in its HttpOnly cookie.
type Redemption struct {
	ID           string    `gorm:"primaryKey;size:36" json:"id"`
	InvitationID string    `gorm:"size:36;not null;uniqueIndex:idx_redemptions_inv_device,priority:1" json:"invitation_id"`
	DeviceHash   string    `gorm:"size:64;not null;uniqueIndex:idx_redemptions_inv_device,priority:2" json:"-"`
	UserID       string    `gorm:"size:36;not null" json:"user_id"`
	At           time.Time `json:"at"`
}

// Status is an invitation's state as a person sees it.
func (inv *Invitation) Status(now time.Time) string {
	switch {
	case inv.RevokedAt != nil && inv.ReplacedBy != "":
		return "replaced"
	case inv.RevokedAt != nil:
		return "removed"
	case !now.Before(inv.ExpiresAt):
		return "expired"
	case inv.MaxUses > 0 && inv.Uses >= inv.MaxUses:
		return "used"
	default:
		return "active"
	}
}

// Name is the invitee's display name.
func (inv *Invitation) Name() string { return strings.TrimSpace(inv.FirstName + " " + inv.LastName) }

// Caller is who asks for an invitation, as the api authenticated them.
type Caller struct {
	AccountID string
	Actor     audit.Actor
	// UserID is set for console users; Admin for account admins and API keys.
	UserID string
	Admin  bool
}

// Service carries what invitations need.
type Service struct {
	DB *store.DB
	// Now is the clock; tests move it.
	Now func() time.Time
	// Sessions signs people who redeem a link in to the resource.
	Sessions *session.Service
	// Rooms hears about role upgrades of people already inside. May be nil.
	Rooms RoleListener
	// Platform is asked, before a link to a resource a room adapter hosts
	// is shown or redeemed, whether the resource still exists and when it
	// starts. Nil: no adapters (their resources keep their stored values).
	Platform resource.Platform
	// Mail queues invitation emails; nil means this gateway sends none.
	Mail Mailer
	// MaxGuesses wrong emails per link within GuessWindow; then the lobby waits.
	MaxGuesses  int
	GuessWindow time.Duration
	// Webhooks tells the account's webhook endpoints of invitations made,
	// revoked and redeemed, in the change's transaction (nil: the
	// package's webhook.Emit, without its cache).
	Webhooks *webhook.Service

	prep prepared
	// betweenReadAndWrite, when set (by tests), runs in a first entry's
	// redemption between its read and its write (redemption.first).
	betweenReadAndWrite func()
}

// RoleListener is the room side told when a present person's role rises.
type RoleListener interface {
	RoleUpgraded(ctx context.Context, res *resource.Resource, u *user.User, from, to string) error
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// NewInput is what an inviter gives.
type NewInput struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`
	// ExpiresInHours overrides the account's link lifetime (shorter only).
	ExpiresInHours int `json:"expires_in_hours,omitempty"`
	// MaxUses overrides reusability within the account's limit; 0 = default.
	MaxUses *int `json:"max_uses,omitempty"`
	// SendEmail queues the invitation email with the link, in the same
	// transaction; refused when the account cannot send one.
	SendEmail bool `json:"send_email,omitempty"`
}

// ResendInput is what resending may ask for.
type ResendInput struct {
	// SendEmail emails the new link (the "resend" template).
	SendEmail bool `json:"send_email,omitempty"`
}

// Created is a new invitation with its link token, shown once.
type Created struct {
	Invitation *Invitation
	Token      string
}

// decide asks core/access whether the caller may do what it wants with
// the resource's invitations; set gives the module switch (nil when the
// intent does not depend on it).
func (s *Service) decide(ctx context.Context, c Caller, res *resource.Resource, set *Settings, wants access.Intent) error {
	m := access.Member{AccountID: c.AccountID, Admin: c.Admin}
	if !c.Admin && c.UserID != "" {
		role, err := resource.CollaboratorRole(ctx, s.DB, res.ID, c.UserID)
		if err != nil {
			return err
		}
		m.Collaborator = role
	}
	return access.OnResource(ctx, m, res, wants, set != nil && !set.Enabled)
}

// Create makes an invitation and returns its link token.
func (s *Service) Create(ctx context.Context, c Caller, resourceID string, in NewInput) (*Created, error) {
	res, err := resource.Get(ctx, s.DB, c.AccountID, resourceID)
	if err != nil {
		return nil, err
	}
	set, err := LoadSettings(ctx, s.DB, c.AccountID)
	if err != nil {
		return nil, err
	}
	if err := s.decide(ctx, c, res, set, access.Invite); err != nil {
		return nil, err
	}
	inv, err := s.validateNew(res, set, in)
	if err != nil {
		return nil, err
	}
	if in.SendEmail {
		if err := s.emailReady(ctx, set); err != nil {
			return nil, err
		}
	}
	plain, hash := token.New()
	inv.TokenHash = hash
	inv.AccountID, inv.ResourceID, inv.CreatedBy = c.AccountID, res.ID, c.Actor.ID
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(inv).Error; err != nil {
			return err
		}
		if in.SendEmail {
			if err := s.Mail.QueueInvitation(ctx, tx, &InvitationEmail{Invitation: inv, Resource: res, Settings: set, Token: plain, InvitedBy: c}); err != nil {
				return err
			}
		}
		// The invitee becomes a known user of the account, so the invite
		// dialog's autocomplete offers them next time.
		if _, err := user.Resolve(tx, user.Identity{AccountID: c.AccountID, Email: inv.Email, FirstName: inv.FirstName, LastName: inv.LastName}); err != nil {
			return err
		}
		if err := s.Webhooks.Emit(tx, c.AccountID, webhook.InvitationCreated, webhookSubject(inv), webhookPayload(inv)); err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, c.Actor, "invitation.created", "invitation", inv.ID, map[string]any{
			"resource_id": res.ID, "role": inv.Role, "max_uses": inv.MaxUses, "expires_at": inv.ExpiresAt, "send_email": in.SendEmail,
		})
	})
	if err != nil {
		return nil, err
	}
	if in.SendEmail {
		s.Mail.Wake()
	}
	return &Created{Invitation: inv, Token: plain}, nil
}

func (s *Service) validateNew(res *resource.Resource, set *Settings, in NewInput) (*Invitation, error) {
	var fs problem.Fields
	email, err := user.NormalizeEmail(in.Email)
	if err != nil {
		fs.Add("email", err.Error())
	} else if why, err := set.policy().CheckInvitee(email); err != nil {
		return nil, err
	} else if why != "" {
		fs.Add("email", why)
	}
	first, last := strings.TrimSpace(in.FirstName), strings.TrimSpace(in.LastName)
	if first == "" {
		fs.Add("first_name", "first name is required")
	} else if len(first) > 100 {
		fs.Add("first_name", "first name is longer than 100 characters")
	}
	if last == "" {
		fs.Add("last_name", "last name is required")
	} else if len(last) > 100 {
		fs.Add("last_name", "last name is longer than 100 characters")
	}
	role := strings.ToLower(strings.TrimSpace(in.Role))
	if role == "" {
		role = resource.Viewer
	}
	if !res.Type.AllowsRole(role) {
		fs.Add("role", fmt.Sprintf("a %s can be shared as %s only", res.Type, strings.Join(res.Type.InviteRoles(), ", ")))
	}
	life := set.LinkLifetimeHours
	if in.ExpiresInHours != 0 {
		if in.ExpiresInHours < 0 || in.ExpiresInHours > set.LinkLifetimeHours {
			fs.Add("expires_in_hours", fmt.Sprintf("expires_in_hours must be between 1 and the account's link lifetime, %d", set.LinkLifetimeHours))
		}
		life = in.ExpiresInHours
	}
	maxUses := set.MaxUses
	if in.MaxUses != nil {
		m := *in.MaxUses
		switch {
		case set.Reusability == Single && m != 1:
			fs.Add("max_uses", "this account's links are single-use; max_uses must be 1")
		case set.Reusability == Limited && (m < 1 || m > set.MaxUses):
			fs.Add("max_uses", fmt.Sprintf("max_uses must be between 1 and %d", set.MaxUses))
		case set.Reusability == Unlimited && m < 0:
			fs.Add("max_uses", "max_uses must be 0 (unlimited) or more")
		}
		maxUses = m
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	return &Invitation{
		ID: id.New(), Email: email, FirstName: first, LastName: last, Role: role,
		MaxUses: maxUses, DeviceBinding: set.DeviceBinding,
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(life) * time.Hour),
	}, nil
}

// Get loads an invitation of the resource for a caller who may manage it.
func (s *Service) Get(ctx context.Context, c Caller, resourceID, invitationID string) (*Invitation, *resource.Resource, error) {
	res, err := resource.Get(ctx, s.DB, c.AccountID, resourceID)
	if err != nil {
		return nil, nil, err
	}
	if err := s.decide(ctx, c, res, nil, access.View); err != nil {
		return nil, nil, err
	}
	inv, err := s.invitation(ctx, res, invitationID)
	return inv, res, err
}

// invitation loads an invitation of res, which the caller was let at.
func (s *Service) invitation(ctx context.Context, res *resource.Resource, invitationID string) (*Invitation, error) {
	if !id.Valid(invitationID) {
		return nil, problem.ErrNotFound
	}
	var inv Invitation
	err := s.DB.R.WithContext(ctx).Where("id = ? AND resource_id = ? AND account_id = ?", invitationID, res.ID, res.AccountID).Take(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &inv, err
}

// List returns the resource's invitations, newest first.
func (s *Service) List(ctx context.Context, c Caller, resourceID string) ([]Invitation, error) {
	res, err := resource.Get(ctx, s.DB, c.AccountID, resourceID)
	if err != nil {
		return nil, err
	}
	if err := s.decide(ctx, c, res, nil, access.View); err != nil {
		return nil, err
	}
	var out []Invitation
	err = s.DB.R.WithContext(ctx).Where("resource_id = ? AND account_id = ?", res.ID, c.AccountID).Order("created_at DESC").Limit(1000).Find(&out).Error
	return out, err
}

// Remove revokes an invitation: its link stops working at once and says so.
func (s *Service) Remove(ctx context.Context, c Caller, resourceID, invitationID string) error {
	inv, _, err := s.Get(ctx, c, resourceID, invitationID)
	if err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		r := tx.Model(&Invitation{}).Where("id = ? AND revoked_at IS NULL", inv.ID).Update("revoked_at", s.now())
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 1 {
			if err := s.Webhooks.Emit(tx, c.AccountID, webhook.InvitationRevoked, webhookSubject(inv), webhookPayload(inv)); err != nil {
				return err
			}
		}
		return audit.Record(tx, c.AccountID, c.Actor, "invitation.removed", "invitation", inv.ID, nil)
	})
}

// Resend issues a new link in place of an invitation: the old link stops
// working (saying it was replaced), the new one starts a fresh lifetime.
func (s *Service) Resend(ctx context.Context, c Caller, resourceID, invitationID string, opt ResendInput) (*Created, error) {
	res, err := resource.Get(ctx, s.DB, c.AccountID, resourceID)
	if err != nil {
		return nil, err
	}
	set, err := LoadSettings(ctx, s.DB, c.AccountID)
	if err != nil {
		return nil, err
	}
	// Whoever may invite may see the invitations: one decision.
	if err := s.decide(ctx, c, res, set, access.Invite); err != nil {
		return nil, err
	}
	old, err := s.invitation(ctx, res, invitationID)
	if err != nil {
		return nil, err
	}
	if old.RevokedAt != nil {
		return nil, problem.New(problem.Conflict, "invite_removed", "this invitation was removed or already replaced; create a new one")
	}
	if opt.SendEmail {
		if err := s.emailReady(ctx, set); err != nil {
			return nil, err
		}
	}
	mu := old.MaxUses
	if set.Reusability == Single {
		mu = 1
	} else if set.Reusability == Limited && (mu == 0 || mu > set.MaxUses) {
		mu = set.MaxUses
	}
	inv, err := s.validateNew(res, set, NewInput{Email: old.Email, FirstName: old.FirstName, LastName: old.LastName, Role: old.Role, MaxUses: &mu})
	if err != nil {
		return nil, err
	}
	plain, hash := token.New()
	inv.TokenHash, inv.AccountID, inv.ResourceID, inv.CreatedBy = hash, c.AccountID, res.ID, c.Actor.ID
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		r := tx.Model(&Invitation{}).Where("id = ? AND revoked_at IS NULL", old.ID).Updates(map[string]any{"revoked_at": s.now(), "replaced_by": inv.ID})
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 0 {
			return problem.New(problem.Conflict, "invite_removed", "this invitation was removed or already replaced; create a new one")
		}
		if err := tx.Create(inv).Error; err != nil {
			return err
		}
		if opt.SendEmail {
			if err := s.Mail.QueueInvitation(ctx, tx, &InvitationEmail{Invitation: inv, Resource: res, Settings: set, Token: plain, InvitedBy: c, Resend: true}); err != nil {
				return err
			}
		}
		if err := s.Webhooks.Emit(tx, c.AccountID, webhook.InvitationRevoked, webhookSubject(old), webhookPayload(old, "replaced_by", inv.ID)); err != nil {
			return err
		}
		if err := s.Webhooks.Emit(tx, c.AccountID, webhook.InvitationCreated, webhookSubject(inv), webhookPayload(inv, "replaces", old.ID)); err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, c.Actor, "invitation.resent", "invitation", inv.ID, map[string]any{"replaces": old.ID, "send_email": opt.SendEmail})
	})
	if err != nil {
		return nil, err
	}
	if opt.SendEmail {
		s.Mail.Wake()
	}
	return &Created{Invitation: inv, Token: plain}, nil
}
