// Package scim is the SCIM 2.0 client group source: it pulls Groups and
// Users from a SCIM service provider (RFC 7643, RFC 7644) with a bearer
// token, page by page, on every sync. A group's id is its SCIM id and its
// name its displayName; its members are the users its members attribute
// names (value = the user's id), each emitted with the user's id, email (the
// primary email, else the first, else a userName that is an email) and name.
// Members of type Group are not expanded.
//
// No maintained Go SCIM client library exists to build on (the Go SCIM
// libraries are servers), and the client side is a few GETs, so this is
// net/http and encoding/json.
package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
)

// Version is this plugin's release.
const Version = "1.0.0"

// Source implements groupsource.GroupSource over a SCIM service provider.
type Source struct {
	log  *slog.Logger
	http *http.Client

	cfg plugins.Configured[Config]
}

// New returns an unconfigured source that logs to log (nil: discard).
func New(log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{log: log, http: &http.Client{}}
}

// Info implements plugins.Plugin.
func (s *Source) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name: "scim-groups", Version: Version,
		Description:  "Groups and users pulled from a SCIM 2.0 service provider",
		ConfigSchema: json.RawMessage(schema),
	}, nil
}

// Configure implements plugins.Plugin. It does not call the server: one
// that is down at start is a failed sync (shown, retried), not a
// configuration to reject.
func (s *Source) Configure(_ context.Context, _ uint32, raw json.RawMessage) error {
	var cfg Config
	if err := plugins.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	s.cfg.Set(&cfg)
	s.log.Info("configured", "url", cfg.base.Redacted(), "page_size", cfg.PageSize)
	return nil
}

func (s *Source) client() (*client, error) {
	cfg, err := s.cfg.Get()
	if err != nil {
		return nil, err
	}
	return &client{cfg: cfg, http: s.http}, nil
}

// Health implements plugins.Plugin. It does not call the server, for the
// reason Configure does not.
func (s *Source) Health(context.Context) error {
	_, err := s.client()
	return err
}

// scimGroup is the part of a Group resource the listing reads.
type scimGroup struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Members     []struct {
		Value string `json:"value"`
		Type  string `json:"type"`
	} `json:"members"`
}

// scimUser is the part of a User resource the listing reads.
type scimUser struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName"`
	Name        struct {
		Formatted  string `json:"formatted"`
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails []struct {
		Value   string `json:"value"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
}

func userAttrs() []string { return []string{"userName", "displayName", "name", "emails"} }

// email is the user's primary email, else the first, else a userName that
// is an email address.
func (u *scimUser) email() string {
	for _, e := range u.Emails {
		if e.Primary && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range u.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	if strings.Contains(u.UserName, "@") {
		return u.UserName
	}
	return ""
}

func (u *scimUser) name() string {
	switch {
	case u.DisplayName != "":
		return u.DisplayName
	case u.Name.Formatted != "":
		return u.Name.Formatted
	}
	return strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
}

// ListGroups implements groupsource.GroupSource.
func (s *Source) ListGroups(ctx context.Context) ([]groupsource.Group, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	var out []groupsource.Group
	err = c.list(ctx, "Groups", []string{"displayName"}, func(raw json.RawMessage) error {
		var g scimGroup
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("a Group from the SCIM server is not a SCIM Group: %v", err)
		}
		out = append(out, groupsource.Group{ID: g.ID, Name: g.DisplayName})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListMembers implements groupsource.GroupSource. It reads every user first
// (members name users by id only), then the groups with their members.
func (s *Source) ListMembers(ctx context.Context, groupIDs []string, emit func(groupsource.Member) error) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	users := map[string]*scimUser{}
	err = c.list(ctx, "Users", userAttrs(), func(raw json.RawMessage) error {
		u := &scimUser{}
		if err := json.Unmarshal(raw, u); err != nil {
			return fmt.Errorf("a User from the SCIM server is not a SCIM User: %v", err)
		}
		users[u.ID] = u
		return nil
	})
	if err != nil {
		return err
	}
	var missing []string
	err = c.list(ctx, "Groups", []string{"displayName", "members"}, func(raw json.RawMessage) error {
		var g scimGroup
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("a Group from the SCIM server is not a SCIM Group: %v", err)
		}
		if len(groupIDs) > 0 && !slices.Contains(groupIDs, g.ID) {
			return nil
		}
		sent := map[string]bool{}
		for _, m := range g.Members {
			if m.Value == "" || sent[m.Value] || (m.Type != "" && !strings.EqualFold(m.Type, "User")) {
				continue
			}
			sent[m.Value] = true
			u, err := s.user(ctx, c, users, m.Value)
			if err != nil {
				return err
			}
			if u == nil {
				missing = append(missing, m.Value)
				continue
			}
			if err := emit(groupsource.Member{GroupID: g.ID, ID: u.ID, Email: u.email(), Name: u.name()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		s.log.Warn("group members that name no user were skipped", "count", len(missing), "first", strings.Join(missing[:min(len(missing), 5)], ", "))
	}
	return nil
}

// user finds a member's user: from the listing, else read by id (a user
// created while the listing ran); nil if the server has no such user.
func (s *Source) user(ctx context.Context, c *client, users map[string]*scimUser, id string) (*scimUser, error) {
	if u, ok := users[id]; ok {
		return u, nil
	}
	u := &scimUser{}
	found, err := c.getOne(ctx, "Users", id, userAttrs(), u)
	if err != nil {
		return nil, err
	}
	if !found || u.ID == "" {
		u = nil
	}
	users[id] = u
	return u, nil
}

var _ groupsource.GroupSource = (*Source)(nil)
