// Package file is the reference group source: groups and members read from a
// JSON or CSV file that another system exports (or a person maintains). The
// file is read again on every sync, so changing it is how groups change.
//
// JSON:
//
//	{"groups": [{"id": "staff", "name": "Staff",
//	             "members": [{"id": "u1", "email": "ann@example.org", "name": "Ann"}]}]}
//
// CSV, with this header; a row without member columns declares an empty group:
//
//	group_id,group_name,member_id,member_email,member_name
package file

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
)

// Version is this plugin's release.
const Version = "1.0.0"

// Config is the plugin's configuration object.
type Config struct {
	// Path is the file to read.
	Path string `json:"path"`
	// Format is "json" or "csv"; by default the file's extension decides.
	Format string `json:"format,omitempty"`
}

const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["path"],
  "properties": {
    "path": {"type": "string", "description": "the JSON or CSV file of groups"},
    "format": {"enum": ["json", "csv"], "description": "default: from the file's extension"}
  }
}`

var csvHeader = []string{"group_id", "group_name", "member_id", "member_email", "member_name"}

// Source implements groupsource.GroupSource.
type Source struct {
	cfg plugins.Configured[Config]
}

// New returns an unconfigured source.
func New() *Source { return &Source{} }

// Info implements plugins.Plugin.
func (s *Source) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name: "file-groups", Version: Version,
		Description:  "Groups read from a JSON or CSV file",
		ConfigSchema: json.RawMessage(schema),
	}, nil
}

// Configure implements plugins.Plugin. It reads the file once so that a
// wrong path or a malformed file is reported at start, not at the first sync.
func (s *Source) Configure(ctx context.Context, _ uint32, raw json.RawMessage) error {
	var cfg Config
	if err := plugins.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	var p plugins.ConfigErrors
	if cfg.Path == "" {
		p.Add("path", "is required")
	}
	if cfg.Format == "" {
		cfg.Format = strings.TrimPrefix(strings.ToLower(filepath.Ext(cfg.Path)), ".")
	}
	if cfg.Format != "json" && cfg.Format != "csv" {
		p.Add("format", "must be json or csv (or the file must end in .json or .csv), not %q", cfg.Format)
	}
	if len(p) == 0 {
		if err := read(ctx, &cfg, nil, func(groupsource.Group) error { return nil }, nil); err != nil {
			p.Add("path", "%v", err)
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	s.cfg.Set(&cfg)
	return nil
}

func (s *Source) config() (*Config, error) { return s.cfg.Get() }

// Health implements plugins.Plugin: the file must be readable.
func (s *Source) Health(context.Context) error {
	cfg, err := s.config()
	if err != nil {
		return err
	}
	f, err := os.Open(cfg.Path)
	if err != nil {
		return fmt.Errorf("%w: %v", plugins.ErrUnavailable, err)
	}
	return f.Close()
}

// ListGroups implements groupsource.GroupSource.
func (s *Source) ListGroups(ctx context.Context) ([]groupsource.Group, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	var out []groupsource.Group
	err = read(ctx, cfg, nil, func(g groupsource.Group) error { out = append(out, g); return nil }, nil)
	return out, err
}

// ListMembers implements groupsource.GroupSource.
func (s *Source) ListMembers(ctx context.Context, groupIDs []string, emit func(groupsource.Member) error) error {
	cfg, err := s.config()
	if err != nil {
		return err
	}
	return read(ctx, cfg, groupIDs, nil, emit)
}

// read walks the file once, calling group for each group and member for each
// member of the wanted groups (all when wanted is empty). CSV is streamed.
func read(ctx context.Context, cfg *Config, wanted []string, group func(groupsource.Group) error, member func(groupsource.Member) error) error {
	f, err := os.Open(cfg.Path)
	if err != nil {
		return fmt.Errorf("%w: %v", plugins.ErrUnavailable, err)
	}
	defer f.Close()
	want := func(id string) bool { return len(wanted) == 0 || slices.Contains(wanted, id) }
	if cfg.Format == "json" {
		var doc struct {
			Groups []struct {
				ID      string `json:"id"`
				Name    string `json:"name"`
				Members []struct {
					ID    string `json:"id"`
					Email string `json:"email"`
					Name  string `json:"name"`
				} `json:"members"`
			} `json:"groups"`
		}
		if err := json.NewDecoder(f).Decode(&doc); err != nil {
			return fmt.Errorf("%s is not a groups JSON file: %v", cfg.Path, err)
		}
		for i, g := range doc.Groups {
			if g.ID == "" {
				return fmt.Errorf("%s: groups[%d] has no id", cfg.Path, i)
			}
			if group != nil {
				if err := group(groupsource.Group{ID: g.ID, Name: g.Name}); err != nil {
					return err
				}
			}
			if member == nil || !want(g.ID) {
				continue
			}
			for _, m := range g.Members {
				if err := member(groupsource.Member{GroupID: g.ID, ID: m.ID, Email: m.Email, Name: m.Name}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	r := csv.NewReader(f)
	r.ReuseRecord = true
	r.FieldsPerRecord = 0 // every row as wide as the header, checked below
	head, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: cannot read the CSV header: %v", cfg.Path, err)
	}
	if !slices.Equal(head, csvHeader) {
		return fmt.Errorf("%s: the CSV header must be %s", cfg.Path, strings.Join(csvHeader, ","))
	}
	seen := map[string]bool{}
	for n := 2; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %v", cfg.Path, err)
		}
		gid := rec[0]
		if gid == "" {
			return fmt.Errorf("%s line %d: group_id is empty", cfg.Path, n)
		}
		if group != nil && !seen[gid] {
			seen[gid] = true
			if err := group(groupsource.Group{ID: gid, Name: rec[1]}); err != nil {
				return err
			}
		}
		if member != nil && (rec[2] != "" || rec[3] != "") && want(gid) {
			if err := member(groupsource.Member{GroupID: gid, ID: rec[2], Email: rec[3], Name: rec[4]}); err != nil {
				return err
			}
		}
	}
}

var _ groupsource.GroupSource = (*Source)(nil)
