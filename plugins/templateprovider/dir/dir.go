// Package dir is the reference template provider: email templates kept as
// files in a folder, one folder per email and locale:
//
//	DIR/invitation/en/subject.txt
//	DIR/invitation/en/body.html
//	DIR/invitation/en/body.txt
//	DIR/invitation/fr/...
//
// A template's version is a hash of its three files, so it changes exactly
// when the content does.
package dir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// Version is this plugin's release.
const Version = "1.0.0"

// Config is the plugin's configuration object.
type Config struct {
	Dir string `json:"dir"`
}

const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["dir"],
  "properties": {"dir": {"type": "string", "description": "folder of NAME/LOCALE/{subject.txt,body.html,body.txt}"}}
}`

// Provider implements templateprovider.TemplateProvider.
type Provider struct {
	cfg plugins.Configured[Config]
}

// New returns an unconfigured provider.
func New() *Provider { return &Provider{} }

// Info implements plugins.Plugin.
func (p *Provider) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name: "template-dir", Version: Version,
		Description:  "Email templates from a folder",
		ConfigSchema: json.RawMessage(schema),
	}, nil
}

// Configure implements plugins.Plugin.
func (p *Provider) Configure(_ context.Context, _ uint32, raw json.RawMessage) error {
	var cfg Config
	if err := plugins.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	var problems plugins.ConfigErrors
	if cfg.Dir == "" {
		problems.Add("dir", "is required")
	} else if st, err := os.Stat(cfg.Dir); err != nil {
		problems.Add("dir", "%v", err)
	} else if !st.IsDir() {
		problems.Add("dir", "%s is not a folder", cfg.Dir)
	}
	if err := problems.Err(); err != nil {
		return err
	}
	p.cfg.Set(&cfg)
	return nil
}

func (p *Provider) config() (*Config, error) { return p.cfg.Get() }

// Health implements plugins.Plugin: the folder must be readable.
func (p *Provider) Health(context.Context) error {
	cfg, err := p.config()
	if err != nil {
		return err
	}
	if _, err := os.ReadDir(cfg.Dir); err != nil {
		return fmt.Errorf("%w: %v", plugins.ErrUnavailable, err)
	}
	return nil
}

// ListTemplates implements templateprovider.TemplateProvider. A locale folder
// needs subject.txt and at least one of body.html and body.txt.
func (p *Provider) ListTemplates(ctx context.Context) ([]templateprovider.Template, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	names, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", plugins.ErrUnavailable, err)
	}
	var out []templateprovider.Template
	for _, n := range names {
		if !n.IsDir() || strings.HasPrefix(n.Name(), ".") {
			continue
		}
		locales, err := os.ReadDir(filepath.Join(cfg.Dir, n.Name()))
		if err != nil {
			return nil, err
		}
		for _, l := range locales {
			if !l.IsDir() || strings.HasPrefix(l.Name(), ".") {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			t, err := load(filepath.Join(cfg.Dir, n.Name(), l.Name()), n.Name(), l.Name())
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Locale < out[j].Locale
	})
	return out, nil
}

func load(dir, name, locale string) (templateprovider.Template, error) {
	read := func(file string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return string(b), err
	}
	t := templateprovider.Template{Name: name, Locale: locale}
	var err error
	if t.Subject, err = read("subject.txt"); err != nil {
		return t, err
	}
	if t.HTML, err = read("body.html"); err != nil {
		return t, err
	}
	if t.Text, err = read("body.txt"); err != nil {
		return t, err
	}
	t.Subject = strings.TrimSpace(t.Subject)
	if t.Subject == "" || (t.HTML == "" && t.Text == "") {
		return t, fmt.Errorf("%w: %s needs subject.txt and body.html or body.txt", plugins.ErrInvalid, dir)
	}
	h := sha256.New()
	for _, s := range []string{t.Subject, t.HTML, t.Text} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	t.Version = hex.EncodeToString(h.Sum(nil))[:16]
	return t, nil
}

var _ templateprovider.TemplateProvider = (*Provider)(nil)
