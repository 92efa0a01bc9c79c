// Package ldap is the LDAP and Active Directory group source: groups and
// their members read from a directory on every sync (the gateway applies the
// difference). It binds with a DN and password or anonymously, over plain
// LDAP, LDAPS or StartTLS, pages every search (RFC 2696) and follows Active
// Directory's ranged member attributes, so groups of any size list whole.
//
// Members are read from DN-valued attributes (member, uniqueMember) and
// uid-valued ones (posixGroup's memberUid, resolved through the user
// filter); with nested_groups, members of member groups count too. Each
// member is emitted with the person's id attribute (entryUUID, objectGUID),
// email and name.
//
// A listing that fails returns its error, never a partial or empty list:
// the gateway then removes nobody.
package ldap

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
)

// Version is this plugin's release.
const Version = "1.0.0"

// Source implements groupsource.GroupSource over an LDAP directory.
type Source struct {
	log *slog.Logger

	cfg plugins.Configured[Config]
}

// New returns an unconfigured source that logs to log (nil: discard).
func New(log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{log: log}
}

// Info implements plugins.Plugin.
func (s *Source) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name: "ldap-groups", Version: Version,
		Description:  "Groups and members from an LDAP directory or Active Directory",
		ConfigSchema: json.RawMessage(schema),
	}, nil
}

// Configure implements plugins.Plugin. It checks the configuration but does
// not connect: a directory that is down when the gateway starts is a failed
// sync (shown, retried at the next tick), not a configuration to reject.
func (s *Source) Configure(_ context.Context, _ uint32, raw json.RawMessage) error {
	var cfg Config
	if err := plugins.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	s.cfg.Set(&cfg)
	s.log.Info("configured", "url", cfg.URL, "base_dn", cfg.BaseDN, "flavor", cfg.Flavor, "nested_groups", cfg.NestedGroups)
	return nil
}

func (s *Source) config() (*Config, error) { return s.cfg.Get() }

// Health implements plugins.Plugin. It does not reach the directory: an
// unreachable directory fails the sync with its reason, whereas a failed
// health check would only get this process restarted.
func (s *Source) Health(context.Context) error {
	_, err := s.config()
	return err
}

// ListGroups implements groupsource.GroupSource.
func (s *Source) ListGroups(ctx context.Context) ([]groupsource.Group, error) {
	cfg, d, done, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	var out []groupsource.Group
	err = readGroups(ctx, d, cfg, false, func(_ *goldap.Entry, g groupsource.Group) error {
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListMembers implements groupsource.GroupSource.
func (s *Source) ListMembers(ctx context.Context, groupIDs []string, emit func(groupsource.Member) error) error {
	cfg, d, done, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	l := &listing{cfg: cfg, d: d}
	if err := l.read(ctx); err != nil {
		return err
	}
	for _, g := range l.groups {
		if len(groupIDs) > 0 && !slices.Contains(groupIDs, g.id) {
			continue
		}
		if err := l.emit(ctx, g, emit); err != nil {
			return err
		}
	}
	if n := len(l.skipped); n > 0 {
		s.log.Warn("member references that name no user matching user_filter were skipped",
			"count", n, "first", strings.Join(l.skipped[:min(n, 5)], "; "))
	}
	return nil
}

func (s *Source) open(ctx context.Context) (*Config, directory, func(), error) {
	cfg, err := s.config()
	if err != nil {
		return nil, nil, nil, err
	}
	d, done, err := connect(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, d, done, nil
}

var _ groupsource.GroupSource = (*Source)(nil)
