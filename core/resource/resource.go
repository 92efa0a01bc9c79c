// Package resource owns what people are invited into: rooms, live sessions
// and media entries, their schedule, their collaborators (who may invite) and
// their participants (who is inside, with which role).
package resource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Type is the kind of resource; it decides which invitation roles exist.
type Type string

// Resource types.
const (
	Room     Type = "room"
	Webcast  Type = "webcast"
	Simulive Type = "simulive"
	DIYLive  Type = "diy_live"
	Video    Type = "video"
	Audio    Type = "audio"
	Quiz     Type = "quiz"
	Document Type = "document"
	Image    Type = "image"
)

// Types lists every resource type in display order.
var Types = []Type{Room, Webcast, Simulive, DIYLive, Video, Audio, Quiz, Document, Image}

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	for _, x := range Types {
		if x == t {
			return true
		}
	}
	return false
}

// IsMedia reports whether t is a media entry (watched, not joined).
func (t Type) IsMedia() bool {
	switch t {
	case Video, Audio, Quiz, Document, Image:
		return true
	}
	return false
}

// IsLive reports whether t is a live session.
func (t Type) IsLive() bool { return t == Webcast || t == Simulive || t == DIYLive }

// Scheduled reports whether resources of type t have a start time.
func (t Type) Scheduled() bool { return t == Room || t.IsLive() }

// Invitation roles, lowest first.
const (
	Viewer    = "viewer"
	Speaker   = "speaker"
	Moderator = "moderator"
)

// rank orders invitation roles so a higher one can replace a lower one.
var rank = map[string]int{Viewer: 1, Speaker: 2, Moderator: 3}

// Higher reports whether role a outranks role b.
func Higher(a, b string) bool { return rank[a] > rank[b] }

// InviteRoles are the roles a resource of type t can be shared with:
// media only ever has viewers.
func (t Type) InviteRoles() []string {
	if t.IsMedia() {
		return []string{Viewer}
	}
	return []string{Viewer, Moderator, Speaker}
}

// AllowsRole reports whether role is an invitation role for t.
func (t Type) AllowsRole(role string) bool {
	for _, r := range t.InviteRoles() {
		if r == role {
			return true
		}
	}
	return false
}

// Privileges are what a role may do inside the room, carried in join tokens.
func Privileges(role string) []string {
	switch role {
	case Moderator:
		return []string{"view", "chat", "speak", "share_screen", "mute_others", "manage_participants"}
	case Speaker:
		return []string{"view", "chat", "speak", "share_screen"}
	default:
		return []string{"view", "chat"}
	}
}

// Collaborator roles: these people may invite others.
const (
	Owner       = "owner"
	CoOwner     = "co_owner"
	CoEditor    = "co_editor"
	CoPublisher = "co_publisher"
)

// ValidCollaboratorRole reports whether r is a collaborator role.
func ValidCollaboratorRole(r string) bool {
	return r == Owner || r == CoOwner || r == CoEditor || r == CoPublisher
}

// Resource is a room, live session or media entry.
type Resource struct {
	ID          string     `gorm:"primaryKey;size:36" json:"id"`
	AccountID   string     `gorm:"size:36;not null;index" json:"account_id"`
	Type        Type       `gorm:"size:16;not null" json:"type"`
	Title       string     `gorm:"size:300;not null" json:"title"`
	Description string     `gorm:"size:5000" json:"description,omitempty"`
	StartsAt    *time.Time `json:"starts_at,omitempty"`
	EndsAt      *time.Time `json:"ends_at,omitempty"`
	TimeZone    string     `gorm:"size:64" json:"time_zone,omitempty"`
	// ChatCollab is the chat-and-collaboration module; rooms need it on to be invitable.
	ChatCollab bool `json:"chat_collaboration"`
	// MediaPageOff is a media entry whose platform has its media page
	// (the Theming module's "mediapage") off: its page offers no Invite
	// users, so the gateway invites to it no more than the platform does.
	// Only a room adapter sets it; the zero value is the usual on.
	MediaPageOff bool `gorm:"not null;default:false" json:"-"`
	// Adapter names the room adapter that hosts it ("" = the built-in demo room).
	Adapter    string     `gorm:"size:100" json:"adapter,omitempty"`
	ExternalID string     `gorm:"size:255" json:"external_id,omitempty"`
	CreatedBy  string     `gorm:"size:36" json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	DeletedAt  *time.Time `gorm:"index" json:"deleted_at,omitempty"`
}

// ChatOff reports a room whose chat and collaboration is off: guests may
// neither be invited to it nor enter it. Other types have no such module.
func (r *Resource) ChatOff() bool { return r.Type == Room && !r.ChatCollab }

// NoMediaPage reports a media entry whose platform's media page is off:
// guests may not be invited to it.
func (r *Resource) NoMediaPage() bool { return r.Type.IsMedia() && r.MediaPageOff }

// Open reports whether people may enter at now: unscheduled resources always,
// scheduled ones from their start.
func (r *Resource) Open(now time.Time) bool {
	return r.StartsAt == nil || !now.Before(*r.StartsAt)
}

// Collaborator gives a console user a role on a resource.
type Collaborator struct {
	ResourceID string    `gorm:"primaryKey;size:36" json:"resource_id"`
	UserID     string    `gorm:"primaryKey;size:36;index" json:"user_id"`
	AccountID  string    `gorm:"size:36;not null" json:"account_id"`
	Role       string    `gorm:"size:16;not null" json:"role"`
	CreatedAt  time.Time `json:"created_at"`
}

// Participant is a person who has entered a resource, with their current role.
type Participant struct {
	ResourceID string    `gorm:"primaryKey;size:36" json:"resource_id"`
	UserID     string    `gorm:"primaryKey;size:36" json:"user_id"`
	AccountID  string    `gorm:"size:36;not null" json:"account_id"`
	Role       string    `gorm:"size:16;not null" json:"role"`
	JoinedAt   time.Time `json:"joined_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Limits of a resource's short fields, as its columns hold them.
const (
	MaxTimeZone   = 64
	MaxExternalID = 255
)

// Input is what a person gives to create or change a resource.
type Input struct {
	Type        Type       `json:"type"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	StartsAt    *time.Time `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"`
	TimeZone    string     `json:"time_zone"`
	ChatCollab  *bool      `json:"chat_collaboration"`
	ExternalID  string     `json:"external_id"`
}

func (in *Input) validate() error {
	var fs problem.Fields
	if !in.Type.Valid() {
		fs.Add("type", "type must be one of room, webcast, simulive, diy_live, video, audio, quiz, document, image")
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" {
		fs.Add("title", "title is required")
	} else if len(in.Title) > 300 {
		fs.Add("title", "title is longer than 300 characters")
	}
	if len(in.Description) > 5000 {
		fs.Add("description", "description is longer than 5000 characters")
	}
	if in.Type.Valid() && !in.Type.Scheduled() && (in.StartsAt != nil || in.EndsAt != nil) {
		fs.Add("starts_at", "media entries have no schedule")
	}
	if in.StartsAt != nil && in.EndsAt != nil && !in.EndsAt.After(*in.StartsAt) {
		fs.Add("ends_at", "the end must be after the start")
	}
	if len(in.TimeZone) > MaxTimeZone {
		fs.Add("time_zone", fmt.Sprintf("time zone is longer than %d characters; use an IANA name such as Europe/Paris", MaxTimeZone))
	} else if in.TimeZone != "" {
		if _, err := time.LoadLocation(in.TimeZone); err != nil {
			fs.Add("time_zone", "unknown time zone "+in.TimeZone)
		}
	}
	if len(in.ExternalID) > MaxExternalID {
		fs.Add("external_id", fmt.Sprintf("external id is longer than %d characters", MaxExternalID))
	}
	return fs.Err()
}

// Create makes a resource owned by its creator (when the creator is a user).
func Create(ctx context.Context, db *store.DB, accountID string, who audit.Actor, in Input) (*Resource, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := db.Now()
	r := &Resource{
		ID: id.New(), AccountID: accountID, Type: in.Type, Title: in.Title, Description: in.Description,
		StartsAt: utc(in.StartsAt), EndsAt: utc(in.EndsAt), TimeZone: in.TimeZone,
		ChatCollab: in.ChatCollab == nil || *in.ChatCollab, ExternalID: in.ExternalID,
		CreatedBy: who.ID, CreatedAt: now, UpdatedAt: now,
	}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(r).Error; err != nil {
			return err
		}
		if who.Kind == audit.ActorUser {
			if err := tx.Create(&Collaborator{ResourceID: r.ID, UserID: who.ID, AccountID: accountID, Role: Owner, CreatedAt: now}).Error; err != nil {
				return err
			}
		}
		return audit.Record(tx, accountID, who, "resource.created", "resource", r.ID, map[string]any{"type": r.Type})
	})
	return r, err
}

// Update changes a resource's details.
func Update(ctx context.Context, db *store.DB, accountID, resourceID string, who audit.Actor, in Input) (*Resource, error) {
	r, err := Get(ctx, db, accountID, resourceID)
	if err != nil {
		return nil, err
	}
	in.Type = r.Type // a resource's type never changes: its invitations depend on it
	if err := in.validate(); err != nil {
		return nil, err
	}
	r.Title, r.Description, r.StartsAt, r.EndsAt, r.TimeZone = in.Title, in.Description, utc(in.StartsAt), utc(in.EndsAt), in.TimeZone
	if in.ChatCollab != nil {
		r.ChatCollab = *in.ChatCollab
	}
	r.UpdatedAt = db.Now()
	err = db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Select("title", "description", "starts_at", "ends_at", "time_zone", "chat_collab", "updated_at").Updates(r).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "resource.updated", "resource", r.ID, nil)
	})
	return r, err
}

// Delete soft-deletes a resource: its links stop working and say why.
func Delete(ctx context.Context, db *store.DB, accountID, resourceID string, who audit.Actor) error {
	if _, err := Get(ctx, db, accountID, resourceID); err != nil {
		return err
	}
	return db.Tx(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		if err := tx.Model(&Resource{}).Where("id = ? AND deleted_at IS NULL", resourceID).Updates(map[string]any{"deleted_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "resource.deleted", "resource", resourceID, nil)
	})
}

// Get loads a live resource of the account.
func Get(ctx context.Context, db store.Reader, accountID, resourceID string) (*Resource, error) {
	r, err := GetAny(ctx, db, accountID, resourceID)
	if err != nil {
		return nil, err
	}
	if r.DeletedAt != nil {
		return nil, problem.ErrNotFound
	}
	return r, nil
}

// GetAny loads a resource of the account even when deleted.
func GetAny(ctx context.Context, r store.Reader, accountID, resourceID string) (*Resource, error) {
	return store.Owned[Resource](ctx, r, accountID, resourceID)
}

// ByID loads a live resource by id alone, for the built-in demo room, whose
// join token names the resource (and was signed for its account).
func ByID(ctx context.Context, r store.Reader, resourceID string) (*Resource, error) {
	if !id.Valid(resourceID) {
		return nil, problem.ErrNotFound
	}
	var res Resource
	err := r.Read(ctx).Where("id = ? AND deleted_at IS NULL", resourceID).Take(&res).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &res, err
}

// List returns the account's live resources; for a member, only those they collaborate on.
func List(ctx context.Context, db *store.DB, accountID, onlyCollaborator string) ([]Resource, error) {
	tx := db.R.WithContext(ctx).Where("account_id = ? AND deleted_at IS NULL", accountID)
	if onlyCollaborator != "" {
		tx = tx.Where("id IN (?)", db.R.Model(&Collaborator{}).Select("resource_id").Where("user_id = ?", onlyCollaborator))
	}
	var out []Resource
	err := tx.Order("created_at DESC").Limit(500).Find(&out).Error
	return out, err
}

// CollaboratorRole returns the user's collaborator role on the resource, or "".
func CollaboratorRole(ctx context.Context, db store.Reader, resourceID, userID string) (string, error) {
	var c Collaborator
	err := db.Read(ctx).Where("resource_id = ? AND user_id = ?", resourceID, userID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	return c.Role, err
}

// SetCollaborator gives (or changes) a console user's collaborator role.
func SetCollaborator(ctx context.Context, db *store.DB, accountID, resourceID, userID, role string, who audit.Actor) error {
	if !ValidCollaboratorRole(role) {
		return problem.Field("role", "role must be owner, co_owner, co_editor or co_publisher")
	}
	return db.Tx(ctx, func(tx *store.Tx) error {
		return setCollaborator(tx, accountID, resourceID, userID, role, who)
	})
}

// setCollaborator gives (or changes) a collaborator role in tx.
func setCollaborator(tx *store.Tx, accountID, resourceID, userID, role string, who audit.Actor) error {
	c := Collaborator{ResourceID: resourceID, UserID: userID, AccountID: accountID, Role: role, CreatedAt: tx.Now()}
	if err := tx.Where("resource_id = ? AND user_id = ?", resourceID, userID).Delete(&Collaborator{}).Error; err != nil {
		return err
	}
	if err := tx.Create(&c).Error; err != nil {
		return err
	}
	return audit.Record(tx, accountID, who, "resource.collaborator_set", "resource", resourceID, map[string]any{"user_id": userID, "role": role})
}

// Collaborators lists a resource's collaborators.
func Collaborators(ctx context.Context, db *store.DB, resourceID string) ([]Collaborator, error) {
	var out []Collaborator
	err := db.R.WithContext(ctx).Where("resource_id = ?", resourceID).Order("created_at").Find(&out).Error
	return out, err
}

// ParticipantRole returns a user's current role inside a resource, or "".
func ParticipantRole(ctx context.Context, db *store.DB, resourceID, userID string) (string, error) {
	var p Participant
	err := db.R.WithContext(ctx).Where("resource_id = ? AND user_id = ?", resourceID, userID).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	return p.Role, err
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}
