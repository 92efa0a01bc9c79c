package mail

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

//go:embed defaults
var defaultsFS embed.FS

// DefaultSource names the embedded templates in listings.
const DefaultSource = "default"

// StoredTemplate is a template a provider plugin supplied, kept in the
// database so every replica and every restart uses the last good version.
type StoredTemplate struct {
	Provider string `gorm:"primaryKey;size:100" json:"provider"`
	Name     string `gorm:"primaryKey;size:100" json:"name"`
	Locale   string `gorm:"primaryKey;size:35" json:"locale"`
	Subject  string `gorm:"type:text" json:"subject"`
	HTML     string `gorm:"type:text" json:"html"`
	Text     string `gorm:"type:text" json:"text"`
	// Version is the good version in service; "" when the provider never
	// supplied one that passed.
	Version   string    `gorm:"size:128" json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	// Error is why the provider's newest version (RejectedVersion) was
	// refused at the last refresh; empty when that version is in service.
	Error           string     `gorm:"type:text" json:"error,omitempty"`
	RejectedVersion string     `gorm:"size:128" json:"rejected_version,omitempty"`
	RejectedAt      *time.Time `json:"rejected_at,omitempty"`
}

// TableName names the table.
func (StoredTemplate) TableName() string { return "mail_templates" }

func (s *StoredTemplate) template() Template {
	return Template{Name: s.Name, Locale: s.Locale, Subject: s.Subject, HTML: s.HTML, Text: s.Text, Version: s.Version}
}

// Catalog finds templates: those of the template provider plugins (stored
// by Refresh), over the embedded defaults.
type Catalog struct {
	db *store.DB
	// providers in precedence order: when two supply the same name and
	// locale, the earlier wins.
	providers []string
	defaults  map[string]Template // name/locale

	mu    sync.Mutex
	cache map[string]*compiled // source/name/locale/version
	bases map[string][]byte    // deferred models' shared parts, by id
}

// NewCatalog loads the embedded defaults. providers lists the template
// provider plugins in precedence order (their order in the config).
func NewCatalog(db *store.DB, providers []string) (*Catalog, error) {
	defs, err := loadDefaults()
	if err != nil {
		return nil, err
	}
	return &Catalog{db: db, providers: providers, defaults: defs, cache: map[string]*compiled{}, bases: map[string][]byte{}}, nil
}

// loadDefaults reads defaults/NAME/LOCALE/{subject.txt,body.html,body.txt},
// the same layout the folder template provider reads.
func loadDefaults() (map[string]Template, error) {
	out := map[string]Template{}
	err := fs.WalkDir(defaultsFS, "defaults", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(p) != "subject.txt" {
			return err
		}
		dir := path.Dir(p)
		parts := strings.Split(dir, "/")
		t := Template{Name: parts[1], Locale: parts[2]}
		read := func(f string) string {
			b, _ := defaultsFS.ReadFile(path.Join(dir, f))
			return string(b)
		}
		t.Subject, t.HTML, t.Text = strings.TrimSpace(read("subject.txt")), read("body.html"), read("body.txt")
		t.Version = contentVersion(t)
		if err := Check(t); err != nil {
			return fmt.Errorf("embedded template %s/%s: %w", t.Name, t.Locale, err)
		}
		out[t.Name+"/"+t.Locale] = t
		return nil
	})
	return out, err
}

// contentVersion hashes a template's content.
func contentVersion(t Template) string {
	h := sha256.New()
	for _, s := range []string{t.Subject, t.HTML, t.Text} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Found is a template with where it came from.
type Found struct {
	Template
	// Source is the provider plugin's name, or "default".
	Source string `json:"source"`
}

// Lookup returns the template to send for name in locale: per locale of the
// chain (exact, language, en), the providers in order, then the defaults.
func (c *Catalog) Lookup(ctx context.Context, name, locale string) (*Found, *compiled, error) {
	chain := localeChain(locale)
	var rows []StoredTemplate
	if len(c.providers) > 0 {
		err := c.db.R.WithContext(ctx).Where("name = ? AND locale IN ? AND version <> ''", name, chain).Find(&rows).Error
		if err != nil {
			return nil, nil, err
		}
	}
	for _, l := range chain {
		for _, p := range c.providers {
			for i := range rows {
				if rows[i].Provider == p && rows[i].Locale == l {
					f := &Found{Template: rows[i].template(), Source: p}
					cp, err := c.compiled(f)
					return f, cp, err
				}
			}
		}
		if t, ok := c.defaults[name+"/"+l]; ok {
			f := &Found{Template: t, Source: DefaultSource}
			cp, err := c.compiled(f)
			return f, cp, err
		}
	}
	return nil, nil, problem.New(problem.NotFound, "email_template_not_found", fmt.Sprintf("there is no email template named %q", name))
}

// Has reports whether some source supplies the template name.
func (c *Catalog) Has(ctx context.Context, name string) (bool, error) {
	_, _, err := c.Lookup(ctx, name, DefaultLocale)
	if err == nil {
		return true, nil
	}
	if problem.KindOf(err) == problem.NotFound {
		// Providers may supply a name only in other locales.
		var n int64
		err := c.db.R.WithContext(ctx).Model(&StoredTemplate{}).Where("name = ? AND version <> ''", name).Count(&n).Error
		return n > 0, err
	}
	return false, err
}

func (c *Catalog) compiled(f *Found) (*compiled, error) {
	key := f.Source + "/" + f.Name + "/" + f.Locale + "/" + f.Version
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.cache[key]; ok {
		return cp, nil
	}
	cp, err := compile(f.Template)
	if err != nil {
		return nil, fmt.Errorf("template %s/%s from %s: %w", f.Name, f.Locale, f.Source, err)
	}
	if len(c.cache) > 1000 {
		clear(c.cache)
	}
	c.cache[key] = cp
	return cp, nil
}

// Listed is one row of the template listing.
type Listed struct {
	Found
	// InService is false for a template hidden by another source.
	InService bool `json:"in_service"`
	// Error is why a provider's newest version was refused; the version
	// shown is the last good one.
	Error           string     `json:"error,omitempty"`
	RejectedVersion string     `json:"rejected_version,omitempty"`
	RejectedAt      *time.Time `json:"rejected_at,omitempty"`
	UpdatedAt       *time.Time `json:"updated_at,omitempty"`
}

// List returns every template of every source, sorted by name and locale.
func (c *Catalog) List(ctx context.Context) ([]Listed, error) {
	var rows []StoredTemplate
	if err := c.db.R.WithContext(ctx).Order("name, locale, provider").Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []Listed
	for i := range rows {
		r := &rows[i]
		at := r.UpdatedAt
		out = append(out, Listed{Found: Found{Template: r.template(), Source: r.Provider}, Error: r.Error,
			RejectedVersion: r.RejectedVersion, RejectedAt: r.RejectedAt, UpdatedAt: &at})
	}
	for _, t := range c.defaults {
		out = append(out, Listed{Found: Found{Template: t, Source: DefaultSource}})
	}
	for i := range out {
		f, _, err := c.Lookup(ctx, out[i].Name, out[i].Locale)
		out[i].InService = err == nil && f.Source == out[i].Source && f.Locale == out[i].Locale && out[i].Version != ""
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		if out[i].Locale != out[j].Locale {
			return out[i].Locale < out[j].Locale
		}
		return out[i].InService && !out[j].InService
	})
	return out, nil
}

// Refresh stores what a template provider listed: every template that
// parses and renders the sample model replaces its previous version; one
// that does not keeps the last good version in service, records why, and
// is named in the returned error. Templates the provider no longer lists
// are removed. It is the scheduler's template sink
// (schedule.Options.Templates).
func (c *Catalog) Refresh(ctx context.Context, provider string, ts []Template) error {
	var rejected []error
	seen := map[string]bool{}
	err := c.db.Tx(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		for _, t := range ts {
			key := t.Name + "/" + t.Locale
			if seen[key] {
				rejected = append(rejected, fmt.Errorf("%s: listed twice; the first one counts", key))
				continue
			}
			seen[key] = true
			if t.Version == "" {
				t.Version = contentVersion(t)
			}
			if err := Check(t); err != nil {
				rejected = append(rejected, fmt.Errorf("%s: %w", key, err))
				if err := reject(tx, provider, t, err, now); err != nil {
					return err
				}
				continue
			}
			row := StoredTemplate{Provider: provider, Name: t.Name, Locale: t.Locale, Subject: t.Subject, HTML: t.HTML, Text: t.Text, Version: t.Version, UpdatedAt: now}
			err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "provider"}, {Name: "name"}, {Name: "locale"}},
				DoUpdates: clause.Assignments(map[string]any{"subject": row.Subject, "html": row.HTML, "text": row.Text, "version": row.Version, "updated_at": now, "error": "", "rejected_version": "", "rejected_at": nil}),
			}).Create(&row).Error
			if err != nil {
				return err
			}
		}
		var keep []StoredTemplate
		if err := tx.Where("provider = ?", provider).Select("name", "locale").Find(&keep).Error; err != nil {
			return err
		}
		for _, k := range keep {
			if !seen[k.Name+"/"+k.Locale] {
				if err := tx.Where("provider = ? AND name = ? AND locale = ?", provider, k.Name, k.Locale).Delete(&StoredTemplate{}).Error; err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store templates of %s: %w", provider, err)
	}
	if len(rejected) > 0 {
		return fmt.Errorf("templates refused, their last good version stays in service: %w", errors.Join(rejected...))
	}
	return nil
}

// reject records a refused version; the stored content (if any) stays.
func reject(tx *store.Tx, provider string, t Template, why error, now time.Time) error {
	row := StoredTemplate{Provider: provider, Name: t.Name, Locale: t.Locale, UpdatedAt: now, Error: why.Error(), RejectedVersion: t.Version, RejectedAt: &now}
	return tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "provider"}, {Name: "name"}, {Name: "locale"}},
		DoUpdates: clause.Assignments(map[string]any{"error": row.Error, "rejected_version": row.RejectedVersion, "rejected_at": now}),
	}).Create(&row).Error
}
