// Package lms is what the LMS room adapters share: their configuration,
// the room a launch means (one per course or site, or one per resource
// link), the launcher's room role through ltiroles, custom substitution
// variables, join URLs and the roster search. Each adapter (Sakai, and
// the generic one for Canvas, Moodle, Brightspace and Blackboard) is a
// Profile: the platform's own roles and claims, and its usual custom
// parameters.
package lms

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/ltiroles"
)

// Rooms per launch: one per context (course, site), or one per resource
// link (each link placed in a course is a room of its own).
const (
	PerContext      = "context"
	PerResourceLink = "resource_link"
)

// Config is an LMS room adapter's configuration (its config: in
// gateway.yaml).
type Config struct {
	// JoinURL is where people enter a room: {resource}, {context},
	// {link}, {role}, {user} and {email} are replaced by URL-escaped
	// values. The gateway adds its signed join token as jt.
	JoinURL string `json:"join_url"`
	// RoomPer is "context" (default) or "resource_link".
	RoomPer string `json:"room_per"`
	// Type is the rooms' type: room (default), live or media.
	Type string `json:"type"`
	// Roles change the role mapping: an LTI role key
	// ("membership#Instructor", "membership/Instructor#TeachingAssistant",
	// "institution#Administrator"...), a role exactly as the platform sends
	// it, or a platform role ("sakai:maintain") → owner, co-owner,
	// co-editor, co-publisher or viewer.
	Roles map[string]string `json:"roles"`
	// Collaborators give a role to a person by email or platform user
	// name, whatever the mapping says.
	Collaborators map[string]string `json:"collaborators"`
	// Custom renames the custom parameters the adapter reads (see the
	// profile's defaults): which parameter carries which substitution
	// variable.
	Custom map[string]string `json:"custom"`
	// ChatCollaboration is the rooms' Chat & Collaboration setting when a
	// launch's custom parameter does not say; unset leaves the gateway's.
	ChatCollaboration *bool `json:"chat_collaboration"`
	// MediaPage is the platform's Theming module "mediapage" setting,
	// which media entries' Invite users needs; unset leaves the gateway's.
	MediaPage *bool `json:"media_page"`
	// AcademicSessionInTitle adds the term to a room's title, where the
	// platform says it (Sakai's sakai_academic_session).
	AcademicSessionInTitle bool `json:"academic_session_in_title"`
}

// schema is the configuration's JSON schema, as Info reports it.
const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["join_url"],
  "properties": {
    "join_url": {"type": "string", "description": "join address template with {resource}, {context}, {link}, {role}, {user}, {email}"},
    "room_per": {"enum": ["context", "resource_link"]},
    "type": {"enum": ["room", "live", "media"]},
    "roles": {"type": "object", "additionalProperties": {"enum": ["owner", "co-owner", "co-editor", "co-publisher", "viewer"]}},
    "collaborators": {"type": "object", "additionalProperties": {"enum": ["owner", "co-owner", "co-editor", "co-publisher", "viewer"]}},
    "custom": {"type": "object", "additionalProperties": {"type": "string"}},
    "chat_collaboration": {"type": "boolean"},
    "media_page": {"type": "boolean"},
    "academic_session_in_title": {"type": "boolean"}
  }
}`

// Schema is the configuration's JSON schema.
func Schema() json.RawMessage { return json.RawMessage(schema) }

// decode reads and checks a configuration, reporting every problem.
func decode(raw json.RawMessage) (*Config, error) {
	var cfg Config
	if err := plugins.DecodeConfig(raw, &cfg); err != nil {
		return nil, err
	}
	var p plugins.ConfigErrors
	if cfg.JoinURL == "" {
		p.Add("join_url", "is required")
	} else if u, err := url.Parse(strings.NewReplacer("{", "", "}", "").Replace(cfg.JoinURL)); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.Add("join_url", "must be an http(s) URL template")
	}
	switch cfg.RoomPer {
	case "":
		cfg.RoomPer = PerContext
	case PerContext, PerResourceLink:
	default:
		p.Add("room_per", "must be context or resource_link, not %q", cfg.RoomPer)
	}
	switch cfg.Type {
	case "":
		cfg.Type = roomadapter.TypeRoom
	case roomadapter.TypeRoom, roomadapter.TypeLive, roomadapter.TypeMedia:
	default:
		p.Add("type", "must be room, live or media, not %q", cfg.Type)
	}
	ltiroles.CheckRoles(&p, "roles", cfg.Roles)
	ltiroles.CheckRoles(&p, "collaborators", cfg.Collaborators)
	for k, v := range cfg.Custom {
		if strings.TrimSpace(v) == "" {
			p.Add("custom."+k, "names no custom parameter")
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}
