package resource

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/problem"
)

// Platform is the room side as core sees it: the platforms that host
// resources (a video platform, an LMS), each reached through the room
// adapter named by a resource's Adapter. Core asks it which resource a
// launch is about, whether a resource still exists and when it starts,
// and who is on its roster. plugins/host implements it over the room
// adapter plugins; core never sees their wire types.
//
// Errors are problems: ErrNoAdapter for an adapter that is not
// configured, ErrNotOnPlatform for a resource the platform does not know,
// ErrPlatformDown when the adapter cannot answer now.
type Platform interface {
	// Resolve says which of the adapter's resources the launch is about,
	// and what the launcher may do there.
	Resolve(ctx context.Context, adapter string, l Launch) (Resolution, error)
	// Status says whether the resource still exists on the platform and
	// when it is scheduled. A resource the platform does not know is
	// Status{Exists: false}, not an error.
	Status(ctx context.Context, adapter, externalID string) (Status, error)
	// Roster lists at most limit people on the resource's roster whose
	// email or name starts with query. members are the people the gateway
	// knows on the resource (Members), for the adapter to rank with its
	// own roster.
	Roster(ctx context.Context, adapter, externalID, query string, limit int, members []Person) ([]Person, error)
}

// Launch is someone arriving at a platform's resource: a validated LTI
// launch (Source "lti") or a call of the API naming it (Source "api").
// Which fields are set depends on the source; the adapter decides what
// they name.
type Launch struct {
	Source            string
	Issuer            string
	ClientID          string
	DeploymentID      string
	ContextID         string
	ContextTitle      string
	ResourceLinkID    string
	ResourceLinkTitle string
	// UserSubject, UserEmail and UserName are the launcher as the
	// platform (or the gateway, for the API) knows them.
	UserSubject string
	UserEmail   string
	UserName    string
	// Roles are LTI role URIs.
	Roles  []string
	Custom map[string]string
	// ResourceID is the platform's id of the resource, when the caller
	// names it.
	ResourceID string
	// ContextLabel, ContextTypes, the launcher's names and Extensions
	// (the launch's other claims named by a URL, each as its JSON text)
	// are the rest of an LTI launch, for adapters that map them.
	ContextLabel                  string
	ContextTypes                  []string
	UserGivenName, UserFamilyName string
	Extensions                    map[string]string
}

// Launch sources.
const (
	SourceAPI = "api"
	SourceLTI = "lti"
)

// Resolution is what a launch is about: the platform's resource, and the
// launcher's collaborator role on it ("" for none).
type Resolution struct {
	ExternalID       string
	Fields           Fields
	CollaboratorRole string
}

// Status is a resource as its platform sees it now.
type Status struct {
	Exists bool
	// StartsAt and EndsAt are the platform's schedule; nil when it has none.
	StartsAt, EndsAt *time.Time
}

// Person is someone on a platform's roster.
type Person struct {
	Email string
	Name  string
}

// Why the room side could not help. The platform's implementation makes
// them with a message naming the adapter (NoAdapter, NotOnPlatform,
// PlatformDown); errors.Is matches them by code.
var (
	ErrNoAdapter      = &problem.Error{Kind: problem.Invalid, Code: "room_adapter_unknown", Field: "adapter", Message: "no room adapter of this name is configured"}
	ErrNotOnPlatform  = problem.New(problem.NotFound, "platform_resource_not_found", "the room adapter knows no such resource")
	ErrPlatformDown   = problem.New(problem.Unavailable, "room_adapter_unavailable", "the room adapter cannot answer now; try again shortly")
	ErrNoPlatformRole = problem.New(problem.Forbidden, "no_platform_role", "the platform gives you no collaborator role on this resource, so you cannot link it; ask its owner or an account admin")
)

// NoAdapter is ErrNoAdapter for the adapter named, listing the room
// adapters there are, so the caller can correct the name.
func NoAdapter(adapter string, configured []string) error {
	msg := fmt.Sprintf("no room adapter named %q is configured", adapter)
	if len(configured) == 0 {
		msg += "; this gateway has none (declare one under plugins: in its config)"
	} else {
		msg += "; the room adapters are: " + strings.Join(configured, ", ")
	}
	return &problem.Error{Kind: problem.Invalid, Code: ErrNoAdapter.Code, Field: "adapter", Message: msg,
		Details: []problem.FieldError{{Field: "adapter", Message: msg}}}
}

// NotOnPlatform is ErrNotOnPlatform with the adapter's own words.
func NotOnPlatform(adapter, why string) error {
	return problem.New(problem.NotFound, ErrNotOnPlatform.Code, fmt.Sprintf("the room adapter %q knows no such resource: %s", adapter, why))
}

// PlatformDown is ErrPlatformDown for the adapter, because of cause
// (kept for the log).
func PlatformDown(adapter string, cause error) error {
	return problem.New(problem.Unavailable, ErrPlatformDown.Code,
		fmt.Sprintf("the room adapter %q cannot answer now; try again shortly", adapter)).Because(cause)
}
