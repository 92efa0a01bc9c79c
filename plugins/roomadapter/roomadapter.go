// Package roomadapter is the RoomAdapter plugin kind: the bridge between the
// gateway and the platform that hosts rooms, live sessions and media. The
// gateway asks it which resource an LTI launch (or an API call) is about and
// what the launcher may do there, where to send a person to enter, whether a
// resource still exists, who is on its roster, and tells it about role
// upgrades.
package roomadapter

import (
	"context"
	"time"

	"github.com/invitegate/gateway/plugins"
)

// Kind is this package's plugin kind, as the config names it. Its wire
// enum in plugin.proto is named after it (plugins.KindFromProto).
const Kind plugins.Kind = "roomadapter"

// APIVersions lists the RoomAdapter API versions this SDK speaks.
//
// History:
//
//	1: ResolveLaunch, JoinURL, ResourceStatus, SearchRoster, RoleUpgraded.
//	2: Launch carries the context's label and types, the launcher's given
//	   and family names and the launch's extension claims; Resource carries
//	   the platform's Chat & Collaboration and media page settings;
//	   SearchRoster is given the members the gateway knows. A plugin at 1
//	   is sent the same messages: it ignores the new fields, and the host
//	   leaves out the roster's members.
func APIVersions() []uint32 { return []uint32{1, 2} }

// Collaborator roles a launch may carry; "" means none.
const (
	RoleOwner       = "owner"
	RoleCoOwner     = "co-owner"
	RoleCoEditor    = "co-editor"
	RoleCoPublisher = "co-publisher"
)

// Resource types.
const (
	TypeRoom  = "room"
	TypeLive  = "live"
	TypeMedia = "media"
)

// Launch is a validated LTI 1.3 launch (Source "lti") or an API call naming a
// resource (Source "api"). The gateway has checked signatures and nonces
// before a plugin sees it.
type Launch struct {
	Source            string
	Issuer            string
	ClientID          string
	DeploymentID      string
	ContextID         string
	ContextTitle      string
	ResourceLinkID    string
	ResourceLinkTitle string
	UserSubject       string
	UserEmail         string
	UserName          string
	// Roles are LTI role URIs.
	Roles  []string
	Custom map[string]string
	// ResourceID is the platform's id of the resource, when the caller names it.
	ResourceID string
	// Since API version 2.
	ContextLabel   string
	ContextTypes   []string
	UserGivenName  string
	UserFamilyName string
	// Extensions are the launch's other claims named by a URL (the
	// platform's own, and LTI's ext, lis and tool_platform), each as its
	// JSON text.
	Extensions map[string]string
}

// Resource is a room, a live session or a media entry on the platform.
type Resource struct {
	ID    string
	Type  string
	Title string
	// StartsAt and EndsAt are zero when the resource has no schedule.
	StartsAt time.Time
	EndsAt   time.Time
	// ChatCollab and MediaPage (API version 2) are the platform's Chat &
	// Collaboration setting of a room and Theming "mediapage" setting of a
	// media entry; nil leaves the gateway's value as it is.
	ChatCollab *bool
	MediaPage  *bool
}

// Person is someone on the platform.
type Person struct {
	ID    string
	Email string
	Name  string
}

// Resolution is what a launch is about and what the launcher may do.
type Resolution struct {
	Resource         Resource
	CollaboratorRole string
}

// ResourceStatus tells whether a resource still exists.
type ResourceStatus struct {
	Exists   bool
	Resource Resource
}

// RosterQuery asks for people whose name or email starts with Query.
type RosterQuery struct {
	ResourceID string
	Query      string
	Limit      int
	// Members (API version 2) are the people the gateway knows on the
	// resource, for the adapter to rank with those it knows itself.
	Members []Person
}

// RoleUpgrade says that a person inside a resource now has a higher role.
type RoleUpgrade struct {
	ResourceID string
	User       Person
	OldRole    string
	NewRole    string
}

// RoomAdapter is implemented by a room adapter plugin and by the typed client
// the gateway uses to call one.
type RoomAdapter interface {
	plugins.Plugin
	// ResolveLaunch returns plugins.ErrNotFound when the launch names nothing
	// the platform knows.
	ResolveLaunch(ctx context.Context, l Launch) (Resolution, error)
	// JoinURL is where the person enters the resource with the role
	// ("viewer", "moderator" or "speaker").
	JoinURL(ctx context.Context, resourceID string, user Person, role string) (string, error)
	ResourceStatus(ctx context.Context, resourceID string) (ResourceStatus, error)
	SearchRoster(ctx context.Context, q RosterQuery) ([]Person, error)
	RoleUpgraded(ctx context.Context, u RoleUpgrade) error
}
