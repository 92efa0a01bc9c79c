package event

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig checks uploaded speaker images
	_ "image/png"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Roles of an attendee at an event. Everyone is an attendee; the others are
// additional.
const (
	RoleAttendee  = "attendee"
	RoleSpeaker   = "speaker"
	RoleModerator = "moderator"
	RoleOrganizer = "organizer"
)

// Registration types: how a person became an attendee.
const (
	RegInvited = "invited" // a team member invited them
	RegSite    = "site"    // they registered on the event site
	RegSSO     = "sso"     // they signed in through the identity provider
)

// Limits on speaker details.
const (
	MaxBio        = 2500             // characters
	MaxImageBytes = 2 << 20          // 2 MB
	ImageHint     = "500x500 pixels" // the recommended size, shown by the console
)

// Visit kinds.
const (
	VisitPreEvent    = "pre_event"
	VisitDuringEvent = "during_event"
)

// Attendee is one person's place at an event.
//
// The person's email and names are copied from their user row so the All
// users query reads one table with its own indexes; Edit changes the copy,
// and erasing a user deletes their attendee rows.
type Attendee struct {
	ID        string    `gorm:"primaryKey;size:36" json:"id"`
	AccountID string    `gorm:"size:36;not null" json:"account_id"`
	EventID   string    `gorm:"size:36;not null;uniqueIndex:idx_attendees_event_user,priority:1" json:"event_id"`
	UserID    string    `gorm:"size:36;not null;uniqueIndex:idx_attendees_event_user,priority:2;index" json:"user_id"`
	Email     SearchKey `gorm:"size:254;not null" json:"email"`
	FirstName string    `gorm:"size:100;not null" json:"first_name"`
	LastName  string    `gorm:"size:100;not null" json:"last_name"`
	// NameKey ("first last", lower case) and LastKey (last name, lower case)
	// are what name search and sort use.
	NameKey SearchKey `gorm:"size:201;not null" json:"-"`
	LastKey SearchKey `gorm:"size:100;not null" json:"-"`

	Speaker   bool `gorm:"not null" json:"speaker"`
	Moderator bool `gorm:"not null" json:"moderator"`
	Organizer bool `gorm:"not null" json:"organizer"`
	// Speaker details, shown on the event site for speakers and moderators.
	Title    string `gorm:"size:200" json:"title,omitempty"`
	Company  string `gorm:"size:200" json:"company,omitempty"`
	Bio      string `gorm:"type:text" json:"bio,omitempty"`
	ImageRef string `gorm:"size:255" json:"image_ref,omitempty"`

	RegistrationType string `gorm:"size:16;not null" json:"registration_type"`
	Status           Status `gorm:"size:16;not null" json:"status"`
	Detail           Detail `gorm:"size:32;not null" json:"detail"`

	BlockedFromChat bool `gorm:"not null" json:"blocked_from_chat"`
	// ChatTermsAcceptedAt is when the attendee opened the chat and accepted
	// its terms; only then can they be blocked from it.
	ChatTermsAcceptedAt *time.Time `json:"chat_terms_accepted_at,omitempty"`

	CreatedAt time.Time `gorm:"not null" json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Visit is one arrival of an attendee on the event site.
type Visit struct {
	ID         string    `gorm:"primaryKey;size:36" json:"id"`
	AttendeeID string    `gorm:"size:36;not null;index:idx_visits_attendee_at,priority:1" json:"attendee_id"`
	EventID    string    `gorm:"size:36;not null;index" json:"event_id"`
	At         time.Time `gorm:"not null;index:idx_visits_attendee_at,priority:2" json:"at"`
	Kind       string    `gorm:"size:16;not null" json:"kind"`
}

// State is the attendee's status with its detail.
func (a *Attendee) State() State { return State{a.Status, a.Detail} }

// Name is the display name.
func (a *Attendee) Name() string { return strings.TrimSpace(a.FirstName + " " + a.LastName) }

// Roles lists the attendee's roles, attendee first.
func (a *Attendee) Roles() []string {
	r := []string{RoleAttendee}
	if a.Speaker {
		r = append(r, RoleSpeaker)
	}
	if a.Moderator {
		r = append(r, RoleModerator)
	}
	if a.Organizer {
		r = append(r, RoleOrganizer)
	}
	return r
}

// SetNames sets the attendee's names and the name search and sort keys
// made of them ("first last" and the last name, lower-cased): every way an
// attendee gets or changes names goes through it, the form's and the
// import's alike.
func (a *Attendee) SetNames(first, last string) {
	a.FirstName, a.LastName = first, last
	a.NameKey = SearchKey(strings.ToLower(strings.TrimSpace(first + " " + last)))
	a.LastKey = SearchKey(strings.ToLower(last))
}

// SearchKey is a lower-cased text column compared byte by byte, so a prefix
// search is an index range scan on both databases (store.ByteOrderText).
type SearchKey string

// GormDBDataType gives the column its byte-order type.
func (SearchKey) GormDBDataType(db *gorm.DB, f *schema.Field) string {
	return store.ByteOrderText(db, f.Size)
}

// Profile is what an organizer gives about a person at invitation and edit.
type Profile struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Speaker   bool   `json:"speaker"`
	Moderator bool   `json:"moderator"`
	Organizer bool   `json:"organizer"`
	Title     string `json:"title"`
	Company   string `json:"company"`
	Bio       string `json:"bio"`
	// ImageRef names an image already accepted by ValidateImage and stored.
	ImageRef string `json:"image_ref"`
}

func (p *Profile) validate(fs *problem.Fields) {
	p.FirstName, p.LastName = strings.TrimSpace(p.FirstName), strings.TrimSpace(p.LastName)
	if p.FirstName == "" {
		fs.Add("first_name", "first name is required")
	} else if utf8.RuneCountInString(p.FirstName) > 100 {
		fs.Add("first_name", "first name is longer than 100 characters")
	}
	if p.LastName == "" {
		fs.Add("last_name", "last name is required")
	} else if utf8.RuneCountInString(p.LastName) > 100 {
		fs.Add("last_name", "last name is longer than 100 characters")
	}
	p.Title, p.Company = strings.TrimSpace(p.Title), strings.TrimSpace(p.Company)
	if utf8.RuneCountInString(p.Title) > 200 {
		fs.Add("title", "title is longer than 200 characters")
	}
	if utf8.RuneCountInString(p.Company) > 200 {
		fs.Add("company", "company is longer than 200 characters")
	}
	if n := utf8.RuneCountInString(p.Bio); n > MaxBio {
		fs.Add("bio", fmt.Sprintf("bio is %d characters; at most %d are allowed", n, MaxBio))
	}
	if len(p.ImageRef) > 255 {
		fs.Add("image_ref", "image reference is longer than 255 characters")
	}
	if !p.Speaker && !p.Moderator && (p.Title != "" || p.Company != "" || p.Bio != "" || p.ImageRef != "") {
		fs.Add("speaker", "title, company, bio and image are for speakers and moderators; add one of those roles")
	}
}

func (p *Profile) apply(a *Attendee) {
	a.SetNames(p.FirstName, p.LastName)
	a.Speaker, a.Moderator, a.Organizer = p.Speaker, p.Moderator, p.Organizer
	a.Title, a.Company, a.Bio, a.ImageRef = p.Title, p.Company, p.Bio, p.ImageRef
}

// ValidateImage checks an uploaded speaker image: PNG, JPEG or WebP by its
// content (never by its name), at most MaxImageBytes. It returns the
// content type to store it with.
func ValidateImage(b []byte) (string, error) {
	if len(b) == 0 {
		return "", problem.Field("image", "the image is empty")
	}
	if len(b) > MaxImageBytes {
		return "", problem.Field("image", fmt.Sprintf("the image is %.1f MB; at most 2 MB is allowed (%s recommended)", float64(len(b))/(1<<20), ImageHint))
	}
	ct := http.DetectContentType(b)
	switch ct {
	case "image/png", "image/jpeg":
		if _, _, err := image.DecodeConfig(bytes.NewReader(b)); err != nil {
			return "", problem.Field("image", "the image is damaged: "+err.Error())
		}
	case "image/webp":
		// RIFF....WEBPVP8: the sniffer checked the container; the decoder
		// that would check more is not in the standard library.
		if len(b) < 16 || string(b[12:15]) != "VP8" {
			return "", problem.Field("image", "the image is damaged: not a WebP bitstream")
		}
	default:
		return "", problem.Field("image", fmt.Sprintf("the image is %s; upload a PNG, JPEG or WebP image", ct))
	}
	return ct, nil
}
