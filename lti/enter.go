package lti

import (
	"context"
	"slices"
	"strings"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// SessionMethod is how core/session records a session a launch opened.
const SessionMethod = "lti_launch"

// Entered is a launch that became a room, a person and their session.
type Entered struct {
	Resource *resource.Resource
	User     *user.User
	// Role is the launcher's collaborator role on the room, "" for none
	// (a learner).
	Role     string
	Session  *session.Opened
	Platform *Platform
}

// Refusals of a valid launch that cannot enter.
var (
	ErrEmailMissing = problem.New(problem.Invalid, "lti_email_missing",
		"the platform did not share the launcher's email, which the tool needs to know them: in the LMS, let the tool receive the launcher's name and email (privacy settings of the tool)")
	ErrNoRoomAdapter = problem.New(problem.Unavailable, "lti_no_room_adapter",
		"the gateway has no room adapter to find this course's room; the gateway's operator configures one")
)

// Enter brings a validated launch in: the registration's room adapter
// says which room the launch is about and which collaborator role the
// launcher's LMS roles give (learners get none; the adapter decides);
// resource.Link makes the room exactly once in the registration's account
// and sets that role; the launcher is resolved as the user of the
// identity (platform issuer, sub); and a session on that room alone is
// opened, which the room page inside the LMS is signed in with. A link
// deep linking made names its room in its custom parameter instead
// (deeplink.go), and opens that room.
func (s *Service) Enter(ctx context.Context, l *Launch) (*Entered, error) {
	p, c := l.Platform, l.Claims
	roomID := strings.TrimSpace(c.Custom[CustomRoom])
	if s.platform == nil && roomID == "" {
		return nil, ErrNoRoomAdapter
	}
	u, err := s.launcher(ctx, l)
	if err != nil {
		return nil, err
	}
	var linked *resource.Linked
	if roomID != "" {
		linked, err = s.linkPlaced(ctx, l, u, roomID)
	} else {
		// The registered platform signed this launch, and vouches for it as an
		// admin would: the room may come in whatever role the launcher has on
		// it, and a learner (no role) still enters.
		who := resource.Linker{AccountID: p.AccountID, Actor: audit.Actor{Kind: audit.ActorUser, ID: u.ID}, Admin: true,
			UserID: u.ID, Email: u.Email, Name: u.Name()}
		linked, err = resource.Link(ctx, s.db, s.platform, who, p.Adapter, s.resourceLaunch(l, u))
	}
	if err != nil {
		return nil, err
	}
	out := &Entered{Resource: linked.Resource, User: u, Role: linked.Role, Platform: p}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		out.Session, err = s.sessions.Open(tx, p.AccountID, u.ID, session.How{Method: SessionMethod, Scope: session.ScopeResource,
			ScopeID: linked.Resource.ID, TTL: s.opts.SessionTTL})
		if err != nil {
			return err
		}
		return s.recordContext(tx, l, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// launcher is the person launching: the user of the identity (platform
// issuer, sub), made or brought up to date with the launch's email and
// names.
func (s *Service) launcher(ctx context.Context, l *Launch) (*user.User, error) {
	p, c := l.Platform, l.Claims
	email := orCustom(c.Email, c.Custom, CustomEmail)
	if email == "" {
		s.log.Warn("lti launch refused", "step", "enter", "code", ErrEmailMissing.Code, "platform", p.ID)
		return nil, ErrEmailMissing
	}
	first, last := orCustom(c.GivenName, c.Custom, CustomGivenName), orCustom(c.FamilyName, c.Custom, CustomFamilyName)
	if first == "" && last == "" && c.Name != "" {
		first, last, _ = strings.Cut(c.Name, " ")
	}
	var u *user.User
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		u, err = user.Resolve(tx, user.Identity{AccountID: p.AccountID, Issuer: p.Issuer, Subject: c.Subject,
			Email: email, FirstName: clip(first, 100), LastName: clip(last, 100), LinkByEmail: p.LinkByEmail})
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// resourceLaunch is the launch as a room adapter is told it.
func (s *Service) resourceLaunch(l *Launch, u *user.User) resource.Launch {
	p, c := l.Platform, l.Claims
	launch := resource.Launch{Source: resource.SourceLTI, Issuer: p.Issuer, ClientID: p.ClientID, DeploymentID: c.DeploymentID,
		UserSubject: c.Subject, UserEmail: u.Email, UserName: c.DisplayName(), Roles: *c.Roles, Custom: c.Custom,
		UserGivenName: c.GivenName, UserFamilyName: c.FamilyName, Extensions: c.Extensions}
	if c.ResourceLink != nil {
		launch.ResourceLinkID, launch.ResourceLinkTitle = c.ResourceLink.ID, clip(c.ResourceLink.Title, 300)
	}
	if c.Context != nil {
		launch.ContextID, launch.ContextTitle = c.Context.ID, clip(c.Context.Title, 300)
		launch.ContextLabel, launch.ContextTypes = c.Context.Label, c.Context.Type
	}
	return launch
}

// clip cuts s to at most n bytes on a character boundary: a platform's
// long title must not refuse a launch.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// FrameOrigins are the origins that may show the account's tool pages in
// a frame: those of every platform registered with it.
func (s *Service) FrameOrigins(ctx context.Context, accountID string) ([]string, error) {
	ps, err := s.ListPlatforms(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range ps {
		for _, o := range ps[i].Origins() {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// The custom parameters a launch's person is read from when its claims
// lack them: an LMS whose privacy settings keep the email and name claims
// out may still send the standard substitution variables
// ($Person.email.primary, $Person.name.given, $Person.name.family; Sakai,
// Canvas and Moodle know them) in custom parameters of these names.
const (
	CustomEmail      = "person_email_primary"
	CustomGivenName  = "person_name_given"
	CustomFamilyName = "person_name_family"
)

// orCustom is claim, or when it is empty the custom parameter name, left
// out when the platform did not substitute its variable ("$Person...").
func orCustom(claim string, custom Custom, name string) string {
	if v := strings.TrimSpace(claim); v != "" {
		return v
	}
	if v := strings.TrimSpace(custom[name]); !strings.HasPrefix(v, "$") {
		return v
	}
	return ""
}
