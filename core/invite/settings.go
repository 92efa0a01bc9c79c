package invite

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/access"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Reusability modes of invite links.
const (
	Single    = "single"    // one redemption
	Limited   = "limited"   // up to MaxUses redemptions
	Unlimited = "unlimited" // any number until expiry
)

// Settings is an account's invitation module configuration: the limits every
// invitation is created within.
type Settings struct {
	AccountID string `gorm:"primaryKey;size:36" json:"-"`
	// Enabled switches the whole module; off, no link is created or redeemed.
	Enabled bool `json:"enabled"`
	// LinkLifetimeHours is how long a new link lives, and the longest a
	// per-invite override may ask for.
	LinkLifetimeHours int `json:"link_lifetime_hours"`
	// Reusability is single, limited (MaxUses) or unlimited.
	Reusability string `gorm:"size:16" json:"reusability"`
	MaxUses     int    `json:"max_uses"`
	// DeviceBinding ties a redeemed link to the browser that redeemed it.
	DeviceBinding bool `json:"device_binding"`
	// BlockedDomains and AllowedDomains are the account's email domain
	// policy (core/access owns and applies it), shown and saved with the
	// invitation settings.
	BlockedDomains []string `gorm:"-" json:"blocked_domains"`
	AllowedDomains []string `gorm:"-" json:"allowed_domains"`
	// EmailTemplate names the email template invitations are sent with
	// ("invitation" is the built-in one). Empty: the account does not email
	// invitations, and "send link via email" is not offered.
	EmailTemplate string `gorm:"size:100" json:"email_template"`
	// EmailLocale picks the templates' locale (BCP 47, e.g. "fr-CA");
	// lookups fall back to the language, then to "en".
	EmailLocale string    `gorm:"size:35" json:"email_locale"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TableName names the table.
func (Settings) TableName() string { return "invitation_settings" }

// DefaultSettings apply to an account that never saved its own.
func DefaultSettings(accountID string) *Settings {
	return &Settings{
		AccountID: accountID, Enabled: true, LinkLifetimeHours: 7 * 24,
		Reusability: Single, MaxUses: 1, DeviceBinding: true,
		BlockedDomains: []string{}, AllowedDomains: []string{}, EmailLocale: "en",
	}
}

// MaxLifetimeHours bounds a link's life to one year.
const MaxLifetimeHours = 365 * 24

// templateNameRE and localeRE bound what settings may name.
var (
	templateNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)
	localeRE       = regexp.MustCompile(`^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$`)
)

// MaxLocale is the longest locale tag settings and templates take.
const MaxLocale = 35

// ValidLocale reports whether s is a locale tag such as en or fr-CA.
func ValidLocale(s string) bool { return len(s) <= MaxLocale && localeRE.MatchString(s) }

// ValidTemplateName reports whether s can name an email template.
func ValidTemplateName(s string) bool { return templateNameRE.MatchString(s) }

// Validate checks every field and reports every problem at once.
func (s *Settings) Validate() error {
	var fs problem.Fields
	if s.LinkLifetimeHours < 1 || s.LinkLifetimeHours > MaxLifetimeHours {
		fs.Add("link_lifetime_hours", fmt.Sprintf("link lifetime must be between 1 and %d hours", MaxLifetimeHours))
	}
	switch s.Reusability {
	case Single:
		s.MaxUses = 1
	case Limited:
		if s.MaxUses < 2 || s.MaxUses > 100000 {
			fs.Add("max_uses", "with limited reusability, max_uses must be between 2 and 100000")
		}
	case Unlimited:
		s.MaxUses = 0
	default:
		fs.Add("reusability", `reusability must be "single", "limited" or "unlimited"`)
	}
	s.EmailTemplate = strings.TrimSpace(s.EmailTemplate)
	if s.EmailTemplate != "" && !templateNameRE.MatchString(s.EmailTemplate) {
		fs.Add("email_template", "a template name is lower-case letters, digits, '_', '-' or '.', up to 100 characters")
	}
	s.EmailLocale = strings.TrimSpace(s.EmailLocale)
	if s.EmailLocale == "" {
		s.EmailLocale = "en"
	} else if len(s.EmailLocale) > MaxLocale {
		fs.Add("email_locale", fmt.Sprintf("email locale is longer than %d characters; use a locale tag such as en or fr-CA", MaxLocale))
	} else if !localeRE.MatchString(s.EmailLocale) {
		fs.Add("email_locale", fmt.Sprintf("%q is not a locale tag such as en or fr-CA", s.EmailLocale))
	}
	p := s.policy()
	if err := p.Validate(); err != nil {
		pe, _ := problem.As(err)
		fs = append(fs, pe.Details...)
	}
	s.BlockedDomains, s.AllowedDomains = p.Blocked, p.Allowed
	return fs.Err()
}

// policy is the domain policy the settings show.
func (s *Settings) policy() *access.Policy {
	return &access.Policy{AccountID: s.AccountID, Blocked: s.BlockedDomains, Allowed: s.AllowedDomains}
}

// LoadSettings returns the account's settings, or the defaults, with its
// domain policy. A stored policy that cannot be read is an error
// (ErrPolicyUnreadable), so nothing relies on lists that are not the real
// ones; the settings come back beside it, with empty lists, for an admin
// to save.
func LoadSettings(ctx context.Context, r store.Reader, accountID string) (*Settings, error) {
	// A missing row scans nothing, leaving the defaults.
	s := DefaultSettings(accountID)
	err := r.Read(ctx).Where("account_id = ?", accountID).Take(s).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, err
	}
	if s.EmailLocale == "" {
		s.EmailLocale = "en"
	}
	p, err := access.LoadPolicy(ctx, r, accountID)
	if err != nil {
		return nil, err
	}
	if err := p.Unreadable(); err != nil {
		// The settings come back too, with empty lists, for the admin
		// who saves them again to replace the policy.
		s.BlockedDomains, s.AllowedDomains = []string{}, []string{}
		return s, access.ErrPolicyUnreadable.Because(err)
	}
	s.BlockedDomains, s.AllowedDomains = orEmpty(p.Blocked), orEmpty(p.Allowed)
	return s, nil
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// SaveSettings validates and stores the account's settings. Existing links
// keep the limits they were created with; module and domain policy apply at
// once to every link.
func SaveSettings(ctx context.Context, db *store.DB, accountID string, who audit.Actor, s *Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.AccountID = accountID
	s.UpdatedAt = db.Now()
	return db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "account_id"}}, UpdateAll: true}).Create(s).Error; err != nil {
			return err
		}
		if err := access.SavePolicy(tx, accountID, s.policy()); err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "invitation_settings.updated", "account", accountID, map[string]any{
			"enabled": s.Enabled, "link_lifetime_hours": s.LinkLifetimeHours, "reusability": s.Reusability,
			"max_uses": s.MaxUses, "device_binding": s.DeviceBinding, "email_template": s.EmailTemplate, "email_locale": s.EmailLocale,
		})
	})
}
