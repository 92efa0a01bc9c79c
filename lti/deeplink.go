package lti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
)

// Deep Linking 2.0: an instructor, from the LMS's "add content" step,
// picks one of their rooms (or makes one), and the tool answers with a
// signed LtiDeepLinkingResponse holding an ltiResourceLink to it. The
// link's custom parameter names the room, and its launches open that room
// (enter.go).

// Claim names and values of Deep Linking 2.0 (§4).
const (
	dlPrefix               = "https://purl.imsglobal.org/spec/lti-dl/claim/"
	claimDLContentItems    = dlPrefix + "content_items"
	claimDLData            = dlPrefix + "data"
	MessageDeepLinkingResp = "LtiDeepLinkingResponse"
	typeLTIResourceLink    = "ltiResourceLink"
)

// CustomRoom is the custom parameter of the links deep linking makes: the
// id of the room the link opens.
const CustomRoom = "invitegate_room"

// DeepLinkingSettings is the deep_linking_settings claim of a request.
type DeepLinkingSettings struct {
	ReturnURL      string   `json:"deep_link_return_url"`
	AcceptTypes    []string `json:"accept_types"`
	AcceptTargets  []string `json:"accept_presentation_document_targets"`
	AcceptMultiple *bool    `json:"accept_multiple,omitempty"`
	Title          string   `json:"title,omitempty"`
	Text           string   `json:"text,omitempty"`
	// Data is opaque to the tool and goes back as it came.
	Data json.RawMessage `json:"data,omitempty"`
}

// Refusals of deep linking.
var (
	ErrDeepLinkingSettings = problem.New(problem.Invalid, "lti_deep_linking_settings",
		"the deep linking request has no usable deep_linking_settings claim (it needs deep_link_return_url, accept_types and accept_presentation_document_targets); check the LMS's deep linking support for this tool")
	ErrDeepLinkingTypes = problem.New(problem.Invalid, "lti_deep_linking_types",
		"the LMS does not accept LTI resource links (ltiResourceLink) from this deep linking request, the only content the tool makes")
	ErrDeepLinkingLearner = problem.New(problem.Forbidden, "lti_deep_linking_not_instructor",
		"only the course's instructors choose the room a course link opens; ask one of them to add it")
	ErrDeepLinkingSpent = problem.New(problem.Gone, "lti_deep_linking_spent",
		"this room choice was already sent to the LMS, or took too long; add the tool from the course again")
	ErrPlacedRoomUnknown = problem.New(problem.Forbidden, "lti_placed_room_unknown",
		"this course link opens a room that does not exist, or was not placed in this LMS by deep linking; an instructor adds the room to the course again")
	ErrDeepLinkingRoom = &problem.Error{Kind: problem.Forbidden, Code: "lti_deep_linking_room", Field: "room",
		Message: "the room chosen is not one you collaborate on; choose one of the list"}
)

// deepLinkTTL is how long an instructor has to pick a room.
const deepLinkTTL = 30 * time.Minute

// maxDLData bounds the data echoed back; an id_token is at most 64 KB.
const maxDLData = 16 << 10

// checkDeepLinking holds a deep linking request to its settings (Deep
// Linking 2.0 §4.4): where to return, and that a resource link is
// accepted there.
func (s *Service) checkDeepLinking(_ context.Context, r *launchRun) error {
	if r.claims.MessageType != MessageDeepLinking {
		return nil
	}
	d := r.claims.DeepLinking
	switch {
	case d == nil:
		return refuse(ErrDeepLinkingSettings, "no deep_linking_settings claim")
	case d.ReturnURL == "" || len(d.ReturnURL) > MaxURL || checkURL(d.ReturnURL) != "":
		return refuse(ErrDeepLinkingSettings, "deep_link_return_url %q", d.ReturnURL)
	case len(d.AcceptTargets) == 0:
		return refuse(ErrDeepLinkingSettings, "no accept_presentation_document_targets")
	case len(d.Data) > maxDLData:
		return refuse(ErrDeepLinkingSettings, "data over 16 KB")
	case !slices.Contains(d.AcceptTypes, typeLTIResourceLink):
		return refuse(ErrDeepLinkingTypes, "accept_types %v", d.AcceptTypes)
	}
	return nil
}

// deepLinkRequest is a deep linking request waiting for the instructor's
// pick, found by the hash of the token its picker page holds, and
// consumed by the pick.
type deepLinkRequest struct {
	TokenHash    string    `gorm:"primaryKey;size:64"`
	AccountID    string    `gorm:"size:36;not null"`
	PlatformID   string    `gorm:"size:36;not null"`
	UserID       string    `gorm:"size:36;not null;index"`
	DeploymentID string    `gorm:"size:255;not null"`
	ReturnURL    string    `gorm:"size:2048;not null"`
	Data         string    `gorm:"not null"`
	ExpiresAt    time.Time `gorm:"not null;index"`
}

// TableName names the table.
func (deepLinkRequest) TableName() string { return "lti_deep_link_requests" }

// placedRoom is a room deep linking put in a platform's courses: a link
// naming the room opens it only from a platform it was placed in.
type placedRoom struct {
	PlatformID string    `gorm:"primaryKey;size:36"`
	ResourceID string    `gorm:"primaryKey;size:36"`
	AccountID  string    `gorm:"size:36;not null"`
	PlacedBy   string    `gorm:"size:36;not null"`
	CreatedAt  time.Time `gorm:"not null"`
}

// TableName names the table.
func (placedRoom) TableName() string { return "lti_placed_rooms" }

// Picker is what the instructor picks from: their rooms, or a new one.
type Picker struct {
	// Token names the request in the picker's form.
	Token    string
	Platform *Platform
	User     *user.User
	// Rooms are the account's resources the instructor collaborates on.
	Rooms []resource.Resource
	// Title is a title for a new room: the LMS's suggestion, else the
	// course's.
	Title string
}

// collaboratorLTIRoles are the LTI roles (context or institution) that
// choose a course's room: those a room adapter makes a collaborator.
var collaboratorLTIRoles = []string{"#Instructor", "#Administrator", "#ContentDeveloper", "#TeachingAssistant"}

// teaches reports whether the roles include one of collaboratorLTIRoles.
func teaches(roles []string) bool {
	for _, r := range roles {
		for _, suffix := range collaboratorLTIRoles {
			if strings.HasSuffix(r, suffix) {
				return true
			}
		}
	}
	return false
}

// BeginDeepLinking takes a validated deep linking request: an instructor
// (a learner is refused) is resolved as the user of their identity, and
// the request waits, for deepLinkTTL, for their pick.
func (s *Service) BeginDeepLinking(ctx context.Context, l *Launch) (*Picker, error) {
	p, c := l.Platform, l.Claims
	if !teaches(*c.Roles) {
		s.log.Warn("lti deep linking refused", "code", ErrDeepLinkingLearner.Code, "platform", p.ID, "roles", *c.Roles)
		return nil, ErrDeepLinkingLearner
	}
	u, err := s.launcher(ctx, l)
	if err != nil {
		return nil, err
	}
	rooms, err := resource.List(ctx, s.db, p.AccountID, u.ID)
	if err != nil {
		return nil, err
	}
	plain, hash := token.New()
	req := &deepLinkRequest{TokenHash: hash, AccountID: p.AccountID, PlatformID: p.ID, UserID: u.ID, DeploymentID: c.DeploymentID,
		ReturnURL: c.DeepLinking.ReturnURL, Data: string(c.DeepLinking.Data), ExpiresAt: s.now().Add(deepLinkTTL)}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if s.rosters.sweepDue(s.now()) {
			if err := tx.Where("expires_at <= ?", s.now()).Delete(&deepLinkRequest{}).Error; err != nil {
				return err
			}
		}
		return tx.Create(req).Error
	})
	if err != nil {
		return nil, err
	}
	title := c.DeepLinking.Title
	if title == "" && c.Context != nil {
		title = c.Context.Title
	}
	return &Picker{Token: plain, Platform: p, User: u, Rooms: rooms, Title: clip(strings.TrimSpace(title), 300)}, nil
}

// Pick is the instructor's choice: a room of theirs, or (New) a new room
// with a title.
type Pick struct {
	Token    string
	RoomID   string
	New      bool
	NewTitle string
}

// check reports what no pick could be, naming the field.
func (pk *Pick) check() error {
	pk.RoomID, pk.NewTitle = strings.TrimSpace(pk.RoomID), strings.TrimSpace(pk.NewTitle)
	switch {
	case len(pk.Token) > maxState:
		return problem.Field("token", "token is not a picker's token")
	case len(pk.RoomID) > 64:
		return problem.Field("room", "room is not the id of a room")
	case len(pk.NewTitle) > 300:
		return problem.Field("title", "title is longer than 300 characters")
	case pk.New && pk.NewTitle == "":
		return problem.Field("title", "give the new room a title")
	case !pk.New && pk.RoomID == "":
		return problem.Field("room", "choose a room, or create a new one")
	}
	return nil
}

// DeepLinkResponse is the answer to post back to the platform.
type DeepLinkResponse struct {
	// ReturnURL is where the JWT form field is posted.
	ReturnURL string
	JWT       string
	Resource  *resource.Resource
}

// CompleteDeepLinking takes the instructor's pick, once: the room is
// theirs, or made with them as its owner; it is recorded as placed in the
// platform; and the signed response carries a link to it.
func (s *Service) CompleteDeepLinking(ctx context.Context, pk Pick) (*DeepLinkResponse, error) {
	if err := pk.check(); err != nil {
		return nil, err
	}
	req, err := s.consumeDeepLink(ctx, pk.Token)
	if err != nil {
		return nil, err
	}
	p, err := s.platformByID(ctx, req.PlatformID)
	if err != nil {
		return nil, err
	}
	if p == nil || p.AccountID != req.AccountID {
		return nil, ErrPlatformUnknown
	}
	by := audit.Actor{Kind: audit.ActorUser, ID: req.UserID}
	var room *resource.Resource
	if !pk.New {
		room, err = resource.Get(ctx, s.db, req.AccountID, pk.RoomID)
		if errors.Is(err, problem.ErrNotFound) {
			return nil, ErrDeepLinkingRoom
		}
		if err != nil {
			return nil, err
		}
		role, err := resource.CollaboratorRole(ctx, s.db, room.ID, req.UserID)
		if err != nil {
			return nil, err
		}
		if !resource.ValidCollaboratorRole(role) {
			return nil, ErrDeepLinkingRoom
		}
	} else if room, err = resource.Create(ctx, s.db, req.AccountID, by, resource.Input{Type: resource.Room, Title: pk.NewTitle}); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		row := &placedRoom{PlatformID: p.ID, ResourceID: room.ID, AccountID: p.AccountID, PlacedBy: req.UserID, CreatedAt: s.now()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(row)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return audit.Record(tx, p.AccountID, by, "lti.room_placed", "resource", room.ID, map[string]any{"platform_id": p.ID})
	})
	if err != nil {
		return nil, err
	}
	jwt, err := s.signDeepLinkResponse(ctx, p, req, room)
	if err != nil {
		return nil, err
	}
	return &DeepLinkResponse{ReturnURL: req.ReturnURL, JWT: jwt, Resource: room}, nil
}

// consumeDeepLink takes the request a picker's token names, once (one
// DELETE ... RETURNING, as consumeState).
func (s *Service) consumeDeepLink(ctx context.Context, tok string) (*deepLinkRequest, error) {
	if !token.WellFormed(tok) {
		return nil, ErrDeepLinkingSpent
	}
	var rows []deepLinkRequest
	err := s.db.W.WithContext(ctx).Raw("DELETE FROM lti_deep_link_requests WHERE token_hash = ? RETURNING token_hash, account_id, platform_id, user_id, deployment_id, return_url, data, expires_at",
		token.Hash(tok)).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || !s.now().Before(rows[0].ExpiresAt) {
		return nil, ErrDeepLinkingSpent
	}
	return &rows[0], nil
}

// signDeepLinkResponse is the LtiDeepLinkingResponse (Deep Linking 2.0
// §4.5): from the tool (its client id) to the platform (its issuer), for
// the deployment of the request, with one resource link to the room and
// the request's data echoed.
func (s *Service) signDeepLinkResponse(ctx context.Context, p *Platform, req *deepLinkRequest, room *resource.Resource) (string, error) {
	now := s.now()
	item := map[string]any{"type": typeLTIResourceLink, "title": room.Title, "url": s.URLs().Launch,
		"custom": map[string]string{CustomRoom: room.ID}}
	claims := map[string]any{
		"iss": p.ClientID, "aud": p.Issuer, "iat": now.Unix(), "exp": now.Add(SignedTTL).Unix(), "nonce": randomID(),
		claimDeploymentID: req.DeploymentID, claimMessageType: MessageDeepLinkingResp, claimVersion: Version,
		claimDLContentItems: []any{item},
	}
	if req.Data != "" {
		claims[claimDLData] = json.RawMessage(req.Data)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("lti: deep linking response: %w", err)
	}
	return s.Keys.Sign(ctx, b)
}

// placedRoomRole is the collaborator role a launch of a placed room gives
// someone who has none there yet, from their LTI roles: the room is the
// gateway's own, so no room adapter says who teaches.
func placedRoomRole(roles []string) string {
	role := ""
	for _, r := range roles {
		switch {
		case strings.HasSuffix(r, "#Instructor"), strings.HasSuffix(r, "#Administrator"):
			return resource.CoOwner
		case strings.HasSuffix(r, "#TeachingAssistant"), strings.HasSuffix(r, "#ContentDeveloper"):
			role = resource.CoEditor
		}
	}
	return role
}

// linkPlaced brings a launch of a link deep linking made into its room:
// the room must be of the registration's account and placed from this
// platform. A room a room adapter hosts is linked through it (the adapter
// says the launcher's role, as for any launch); a room of the gateway's
// own keeps the roles it gave, and gives a role from the LTI roles to a
// launcher who has none.
func (s *Service) linkPlaced(ctx context.Context, l *Launch, u *user.User, roomID string) (*resource.Linked, error) {
	p, c := l.Platform, l.Claims
	refused := func(why string) error {
		s.log.Warn("lti launch refused", "step", "enter", "code", ErrPlacedRoomUnknown.Code, "platform", p.ID, "room", roomID, "detail", why)
		return ErrPlacedRoomUnknown
	}
	room, err := resource.Get(ctx, s.db, p.AccountID, roomID)
	if errors.Is(err, problem.ErrNotFound) {
		return nil, refused("no live room of the registration's account has this id")
	}
	if err != nil {
		return nil, err
	}
	var n int64
	if err := s.db.Read(ctx).Model(&placedRoom{}).Where("platform_id = ? AND resource_id = ?", p.ID, room.ID).Count(&n).Error; err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, refused("the room was never placed from this platform")
	}
	who := resource.Linker{AccountID: p.AccountID, Actor: audit.Actor{Kind: audit.ActorUser, ID: u.ID}, Admin: true,
		UserID: u.ID, Email: u.Email, Name: u.Name()}
	if room.Adapter != "" {
		launch := s.resourceLaunch(l, u)
		launch.ResourceID = room.ExternalID
		linked, err := resource.Link(ctx, s.db, s.platform, who, room.Adapter, launch)
		if err != nil {
			return nil, err
		}
		if linked.Resource.ID != room.ID {
			return nil, refused("the room adapter resolved the launch to another room")
		}
		return linked, nil
	}
	role, err := resource.CollaboratorRole(ctx, s.db, room.ID, u.ID)
	if err != nil {
		return nil, err
	}
	if role == "" {
		if role = placedRoomRole(*c.Roles); role != "" {
			if err := resource.SetCollaborator(ctx, s.db, p.AccountID, room.ID, u.ID, role, who.Actor); err != nil {
				return nil, err
			}
		}
	}
	return &resource.Linked{Resource: room, Role: role}, nil
}
