package lms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/ltiroles"
)

// Adapter is an LMS room adapter: a Profile over the shared mapping.
type Adapter struct {
	Profile Profile
	Log     *slog.Logger

	mu     sync.RWMutex
	cfg    *Config
	mapper *ltiroles.Mapper
	names  map[string]string
}

// New returns the unconfigured adapter of the profile.
func New(p Profile, log *slog.Logger) *Adapter { return &Adapter{Profile: p, Log: log} }

// Info implements plugins.Plugin.
func (a *Adapter) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{Name: a.Profile.Name, Version: a.Profile.Version, Description: a.Profile.Description, ConfigSchema: Schema()}, nil
}

// Configure implements plugins.Plugin. Any API version will do: at 1 the
// launches lack the extension claims and the roster search its members,
// so Sakai roles come from custom parameters only and searches find no one.
func (a *Adapter) Configure(_ context.Context, _ uint32, raw json.RawMessage) error {
	cfg, err := decode(raw)
	if err != nil {
		return err
	}
	roles := map[string]string{}
	for k, v := range a.Profile.Roles {
		roles[k] = v
	}
	for k, v := range cfg.Roles {
		roles[k] = v
	}
	names := map[string]string{}
	for k, v := range a.Profile.Custom {
		names[k] = v
	}
	for k, v := range cfg.Custom {
		names[k] = v
	}
	m := ltiroles.NewMapper(roles, a.Log)
	a.mu.Lock()
	a.cfg, a.mapper, a.names = cfg, m, names
	a.mu.Unlock()
	return nil
}

func (a *Adapter) state() (*Config, *ltiroles.Mapper, map[string]string, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cfg == nil {
		return nil, nil, nil, fmt.Errorf("%w: not configured", plugins.ErrUnavailable)
	}
	return a.cfg, a.mapper, a.names, nil
}

// Health implements plugins.Plugin.
func (a *Adapter) Health(context.Context) error {
	_, _, _, err := a.state()
	return err
}

// Room ids: "c:" (a context) or "l:" (a resource link), the platform
// (the first 8 bytes of its issuer's SHA-256, so two LMSs' course ids do
// not meet), and the LMS's id.
const (
	kindContext = "c"
	kindLink    = "l"
)

func roomID(kind, issuer, id string) string {
	h := sha256.Sum256([]byte(issuer))
	return kind + ":" + hex.EncodeToString(h[:8]) + ":" + id
}

// parseRoomID splits a room id; ok is false for one this adapter did
// not make.
func parseRoomID(s string) (kind, id string, ok bool) {
	kind, rest, found := strings.Cut(s, ":")
	if !found || (kind != kindContext && kind != kindLink) {
		return "", "", false
	}
	platform, id, found := strings.Cut(rest, ":")
	return kind, id, found && len(platform) == 16 && id != ""
}

// ResolveLaunch implements roomadapter.RoomAdapter: the launch's course
// (or link) is the room, made on its first launch; its title follows the
// LMS's; the role is the collaborators entry of the launcher, else the
// mapping's.
func (a *Adapter) ResolveLaunch(_ context.Context, rl roomadapter.Launch) (roomadapter.Resolution, error) {
	cfg, mapper, names, err := a.state()
	if err != nil {
		return roomadapter.Resolution{}, err
	}
	if rl.Source != "lti" {
		// The API names no platform (issuer): its course id could be any
		// LMS's, and a room's title would be lost.
		return roomadapter.Resolution{}, fmt.Errorf("%w: rooms of the %s adapter come from launches in the LMS: open the tool from the course", plugins.ErrInvalid, a.Profile.Name)
	}
	l := &Launch{Launch: rl, names: names}
	res, err := a.room(cfg, l)
	if err != nil {
		return roomadapter.Resolution{}, err
	}
	return roomadapter.Resolution{Resource: res, CollaboratorRole: a.role(cfg, mapper, l)}, nil
}

// room is the resource the launch means.
func (a *Adapter) room(cfg *Config, l *Launch) (roomadapter.Resource, error) {
	contextID := l.ContextID
	if v := l.Custom("context_id"); v != "" {
		contextID = v
	}
	title := l.ContextTitle
	if v := l.Custom("context_title"); v != "" {
		title = v
	}
	var res roomadapter.Resource
	switch {
	case cfg.RoomPer == PerResourceLink && l.ResourceLinkID != "":
		res.ID = roomID(kindLink, l.Issuer, l.ResourceLinkID)
		if l.ResourceLinkTitle != "" {
			title = l.ResourceLinkTitle
		}
	case contextID != "":
		res.ID = roomID(kindContext, l.Issuer, contextID)
	case l.ResourceLinkID != "":
		// A launch outside any course: its link is the room.
		res.ID = roomID(kindLink, l.Issuer, l.ResourceLinkID)
		title = l.ResourceLinkTitle
	default:
		return res, fmt.Errorf("%w: the launch names no context and no resource link", plugins.ErrNotFound)
	}
	if cfg.AcademicSessionInTitle && a.Profile.Session != nil {
		if s := a.Profile.Session(l); s != "" && title != "" {
			title += " (" + s + ")"
		}
	}
	res.Type, res.Title = cfg.Type, title
	res.ChatCollab = cfg.ChatCollaboration
	if v := l.Custom("chat_collaboration"); v != "" {
		if b, err := strconv.ParseBool(yesNo(v)); err == nil {
			res.ChatCollab = &b
		}
	}
	if cfg.Type == roomadapter.TypeMedia {
		res.MediaPage = cfg.MediaPage
	}
	return res, nil
}

// yesNo lets a custom parameter say yes or no as well as true or false.
func yesNo(v string) string {
	switch strings.ToLower(v) {
	case "yes", "on":
		return "true"
	case "no", "off":
		return "false"
	}
	return v
}

// role is the launcher's collaborator role: the collaborators entry for
// their email or user name, else the mapping's for their roles.
func (a *Adapter) role(cfg *Config, mapper *ltiroles.Mapper, l *Launch) string {
	email := l.UserEmail
	if email == "" {
		email = l.Custom("email")
	}
	username := l.Custom("username")
	if a.Profile.Username != nil {
		if u := a.Profile.Username(l); u != "" {
			username = u
		}
	}
	for who, role := range cfg.Collaborators {
		if (email != "" && strings.EqualFold(who, email)) || (username != "" && who == username) {
			if role == ltiroles.Viewer {
				return ""
			}
			return role
		}
	}
	platformRole := ""
	if a.Profile.PlatformRole != nil {
		platformRole = a.Profile.PlatformRole(l)
	}
	return mapper.Map(l.Roles, platformRole)
}

// JoinURL implements roomadapter.RoomAdapter.
func (a *Adapter) JoinURL(_ context.Context, resourceID string, user roomadapter.Person, role string) (string, error) {
	cfg, _, _, err := a.state()
	if err != nil {
		return "", err
	}
	kind, id, ok := parseRoomID(resourceID)
	if !ok {
		return "", fmt.Errorf("%w: %q is not a room id of this adapter", plugins.ErrNotFound, resourceID)
	}
	switch role {
	case "viewer", "moderator", "speaker":
	default:
		return "", fmt.Errorf("%w: unknown role %q", plugins.ErrInvalid, role)
	}
	if cfg.Type == roomadapter.TypeMedia && role != "viewer" {
		return "", fmt.Errorf("%w: media entries only have viewers", plugins.ErrInvalid)
	}
	ctxID, linkID := id, ""
	if kind == kindLink {
		ctxID, linkID = "", id
	}
	return strings.NewReplacer(
		"{resource}", url.PathEscape(resourceID), "{context}", url.PathEscape(ctxID), "{link}", url.PathEscape(linkID),
		"{role}", url.QueryEscape(role), "{user}", url.QueryEscape(user.ID), "{email}", url.QueryEscape(user.Email),
	).Replace(cfg.JoinURL), nil
}

// ResourceStatus implements roomadapter.RoomAdapter. LTI gives a tool no
// way to ask whether a course still exists: a room of this adapter
// exists until the gateway deletes it, and is unscheduled.
func (a *Adapter) ResourceStatus(_ context.Context, resourceID string) (roomadapter.ResourceStatus, error) {
	cfg, _, _, err := a.state()
	if err != nil {
		return roomadapter.ResourceStatus{}, err
	}
	if _, _, ok := parseRoomID(resourceID); !ok {
		return roomadapter.ResourceStatus{Exists: false}, nil
	}
	return roomadapter.ResourceStatus{Exists: true, Resource: roomadapter.Resource{ID: resourceID, Type: cfg.Type}}, nil
}

// SearchRoster implements roomadapter.RoomAdapter over the members the
// gateway gives (Rank).
func (a *Adapter) SearchRoster(_ context.Context, q roomadapter.RosterQuery) ([]roomadapter.Person, error) {
	if _, _, _, err := a.state(); err != nil {
		return nil, err
	}
	if _, _, ok := parseRoomID(q.ResourceID); !ok {
		return nil, fmt.Errorf("%w: %q is not a room id of this adapter", plugins.ErrNotFound, q.ResourceID)
	}
	return Rank(q.Members, q.Query, q.Limit), nil
}

// RoleUpgraded implements roomadapter.RoomAdapter. The LMS has no room to
// tell: the join token the person enters with next carries the new role.
// The upgrade is logged for the operator.
func (a *Adapter) RoleUpgraded(_ context.Context, u roomadapter.RoleUpgrade) error {
	if a.Log != nil {
		a.Log.Info("role upgraded", "resource", u.ResourceID, "user", u.User.ID, "old_role", u.OldRole, "new_role", u.NewRole)
	}
	return nil
}

var _ roomadapter.RoomAdapter = (*Adapter)(nil)
