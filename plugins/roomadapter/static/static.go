// Package static is the reference room adapter: rooms declared in its
// configuration instead of fetched from a platform. It serves demos, tests
// and small sites whose rooms rarely change, and it is the example to copy
// when writing an adapter for a real platform.
package static

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
)

// Version is this plugin's release.
const Version = "1.0.0"

// Config is the plugin's configuration object.
type Config struct {
	// JoinURL is the join address template; {resource}, {role}, {user} and
	// {email} are replaced by URL-escaped values.
	JoinURL string `json:"join_url"`
	Rooms   []Room `json:"rooms"`
}

// Room is one resource.
type Room struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Title    string     `json:"title"`
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// LTIContexts are LTI context ids or resource link ids that launch into
	// this room.
	LTIContexts []string `json:"lti_contexts,omitempty"`
	// Collaborators maps an email to owner, co-owner, co-editor or
	// co-publisher. Launchers not listed get owner when their LTI role is
	// Instructor or Administrator, co-editor when TeachingAssistant.
	Collaborators map[string]string `json:"collaborators,omitempty"`
	Roster        []Person          `json:"roster,omitempty"`
}

// Person is someone on a room's roster.
type Person struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["join_url", "rooms"],
  "properties": {
    "join_url": {"type": "string", "description": "join address template with {resource}, {role}, {user}, {email}"},
    "rooms": {"type": "array", "items": {
      "type": "object", "required": ["id", "type", "title"],
      "properties": {
        "id": {"type": "string"},
        "type": {"enum": ["room", "live", "media"]},
        "title": {"type": "string"},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "lti_contexts": {"type": "array", "items": {"type": "string"}},
        "collaborators": {"type": "object", "additionalProperties": {"enum": ["owner", "co-owner", "co-editor", "co-publisher"]}},
        "roster": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"}, "name": {"type": "string"}}}}
      }}}
  }
}`

// Adapter implements roomadapter.RoomAdapter.
type Adapter struct {
	Log *slog.Logger

	mu  sync.RWMutex
	cfg *Config
}

// New returns an unconfigured adapter logging to log.
func New(log *slog.Logger) *Adapter { return &Adapter{Log: log} }

// Info implements plugins.Plugin.
func (a *Adapter) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name: "static-rooms", Version: Version,
		Description: "Rooms declared in the configuration",
		// Its rooms are its config: API version 2's settings and members
		// add nothing it reads.
		APIVersions:  []uint32{1},
		ConfigSchema: json.RawMessage(schema),
	}, nil
}

// Configure implements plugins.Plugin.
func (a *Adapter) Configure(_ context.Context, _ uint32, raw json.RawMessage) error {
	var cfg Config
	if err := plugins.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	var p plugins.ConfigErrors
	if cfg.JoinURL == "" {
		p.Add("join_url", "is required")
	} else if u, err := url.Parse(strings.NewReplacer("{", "", "}", "").Replace(cfg.JoinURL)); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		p.Add("join_url", "must be an http(s) URL template")
	}
	if len(cfg.Rooms) == 0 {
		p.Add("rooms", "declare at least one room")
	}
	ids := map[string]bool{}
	for i, r := range cfg.Rooms {
		f := fmt.Sprintf("rooms[%d]", i)
		if r.ID == "" {
			p.Add(f+".id", "is required")
		} else if ids[r.ID] {
			p.Add(f+".id", "%q is used by another room", r.ID)
		}
		ids[r.ID] = true
		switch r.Type {
		case roomadapter.TypeRoom, roomadapter.TypeLive, roomadapter.TypeMedia:
		default:
			p.Add(f+".type", "must be room, live or media, not %q", r.Type)
		}
		if r.Title == "" {
			p.Add(f+".title", "is required")
		}
		if r.StartsAt != nil && r.EndsAt != nil && r.EndsAt.Before(*r.StartsAt) {
			p.Add(f+".ends_at", "is before starts_at")
		}
		for email, role := range r.Collaborators {
			switch role {
			case roomadapter.RoleOwner, roomadapter.RoleCoOwner, roomadapter.RoleCoEditor, roomadapter.RoleCoPublisher:
			default:
				p.Add(f+".collaborators."+email, "must be owner, co-owner, co-editor or co-publisher, not %q", role)
			}
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg = &cfg
	a.mu.Unlock()
	return nil
}

// Health implements plugins.Plugin.
func (a *Adapter) Health(context.Context) error {
	if a.config() == nil {
		return fmt.Errorf("%w: not configured", plugins.ErrUnavailable)
	}
	return nil
}

func (a *Adapter) config() *Config {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg
}

func (a *Adapter) room(id string) (*Room, error) {
	cfg := a.config()
	if cfg == nil {
		return nil, fmt.Errorf("%w: not configured", plugins.ErrUnavailable)
	}
	for i := range cfg.Rooms {
		if cfg.Rooms[i].ID == id {
			return &cfg.Rooms[i], nil
		}
	}
	return nil, fmt.Errorf("%w: no room %q", plugins.ErrNotFound, id)
}

func (r *Room) resource() roomadapter.Resource {
	res := roomadapter.Resource{ID: r.ID, Type: r.Type, Title: r.Title}
	if r.StartsAt != nil {
		res.StartsAt = r.StartsAt.UTC()
	}
	if r.EndsAt != nil {
		res.EndsAt = r.EndsAt.UTC()
	}
	return res
}

// ResolveLaunch implements roomadapter.RoomAdapter.
func (a *Adapter) ResolveLaunch(_ context.Context, l roomadapter.Launch) (roomadapter.Resolution, error) {
	cfg := a.config()
	if cfg == nil {
		return roomadapter.Resolution{}, fmt.Errorf("%w: not configured", plugins.ErrUnavailable)
	}
	var room *Room
	if l.ResourceID != "" {
		r, err := a.room(l.ResourceID)
		if err != nil {
			return roomadapter.Resolution{}, err
		}
		room = r
	} else {
	rooms:
		for i := range cfg.Rooms {
			for _, c := range cfg.Rooms[i].LTIContexts {
				if c != "" && (c == l.ContextID || c == l.ResourceLinkID) {
					room = &cfg.Rooms[i]
					break rooms
				}
			}
		}
	}
	if room == nil {
		return roomadapter.Resolution{}, fmt.Errorf("%w: no room for context %q / resource link %q", plugins.ErrNotFound, l.ContextID, l.ResourceLinkID)
	}
	return roomadapter.Resolution{Resource: room.resource(), CollaboratorRole: collaboratorRole(room, l)}, nil
}

func collaboratorRole(r *Room, l roomadapter.Launch) string {
	email := strings.ToLower(strings.TrimSpace(l.UserEmail))
	for e, role := range r.Collaborators {
		if email != "" && strings.ToLower(e) == email {
			return role
		}
	}
	role := ""
	for _, uri := range l.Roles {
		switch {
		case strings.HasSuffix(uri, "#Instructor"), strings.HasSuffix(uri, "#Administrator"):
			return roomadapter.RoleOwner
		case strings.HasSuffix(uri, "#TeachingAssistant"):
			role = roomadapter.RoleCoEditor
		}
	}
	return role
}

// JoinURL implements roomadapter.RoomAdapter.
func (a *Adapter) JoinURL(_ context.Context, resourceID string, user roomadapter.Person, role string) (string, error) {
	r, err := a.room(resourceID)
	if err != nil {
		return "", err
	}
	switch role {
	case "viewer", "moderator", "speaker":
	default:
		return "", fmt.Errorf("%w: unknown role %q", plugins.ErrInvalid, role)
	}
	if r.Type == roomadapter.TypeMedia && role != "viewer" {
		return "", fmt.Errorf("%w: media entries only have viewers", plugins.ErrInvalid)
	}
	return strings.NewReplacer(
		"{resource}", url.PathEscape(r.ID), "{role}", url.QueryEscape(role),
		"{user}", url.QueryEscape(user.ID), "{email}", url.QueryEscape(user.Email),
	).Replace(a.config().JoinURL), nil
}

// ResourceStatus implements roomadapter.RoomAdapter.
func (a *Adapter) ResourceStatus(_ context.Context, resourceID string) (roomadapter.ResourceStatus, error) {
	r, err := a.room(resourceID)
	if err != nil {
		if a.config() != nil {
			return roomadapter.ResourceStatus{Exists: false}, nil
		}
		return roomadapter.ResourceStatus{}, err
	}
	return roomadapter.ResourceStatus{Exists: true, Resource: r.resource()}, nil
}

// SearchRoster implements roomadapter.RoomAdapter: people whose email, name
// or a word of their name starts with the query, by email.
func (a *Adapter) SearchRoster(_ context.Context, q roomadapter.RosterQuery) ([]roomadapter.Person, error) {
	r, err := a.room(q.ResourceID)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	query := strings.ToLower(strings.TrimSpace(q.Query))
	var out []roomadapter.Person
	for _, p := range r.Roster {
		if matches(p, query) {
			out = append(out, roomadapter.Person{ID: p.ID, Email: p.Email, Name: p.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func matches(p Person, q string) bool {
	if q == "" || strings.HasPrefix(strings.ToLower(p.Email), q) || strings.HasPrefix(strings.ToLower(p.Name), q) {
		return true
	}
	for _, w := range strings.Fields(strings.ToLower(p.Name)) {
		if strings.HasPrefix(w, q) {
			return true
		}
	}
	return false
}

// RoleUpgraded implements roomadapter.RoomAdapter. A static room has no
// platform to tell, so the upgrade is logged (and so reaches the gateway's
// log) for the operator to see.
func (a *Adapter) RoleUpgraded(_ context.Context, u roomadapter.RoleUpgrade) error {
	if _, err := a.room(u.ResourceID); err != nil {
		return err
	}
	if a.Log != nil {
		a.Log.Info("role upgraded", "resource", u.ResourceID, "user", u.User.ID, "old_role", u.OldRole, "new_role", u.NewRole)
	}
	return nil
}

var _ roomadapter.RoomAdapter = (*Adapter)(nil)
