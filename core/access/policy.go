package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/table"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Policy is an account's email domain policy: which addresses may be
// invited, may enter and may sign in. Domains are lower-case names;
// "*.example.com" matches every subdomain of example.com (not example.com
// itself). Blocked wins over allowed; an empty allowed list allows every
// domain not blocked.
type Policy struct {
	AccountID string    `gorm:"primaryKey;size:36" json:"-"`
	Blocked   []string  `gorm:"column:blocked_domains;serializer:json" json:"blocked_domains"`
	Allowed   []string  `gorm:"column:allowed_domains;serializer:json" json:"allowed_domains"`
	UpdatedAt time.Time `json:"-"`
	// broken is why a stored policy could not be read; such a policy
	// allows nothing.
	broken error
}

// TableName names the table.
func (Policy) TableName() string { return "access_policies" }

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{{Model: &Policy{}, NoPersonalData: "an account's lists of email domains"}}
}

// ErrPolicyUnreadable refuses everything a policy that cannot be read would
// decide: access fails closed.
var ErrPolicyUnreadable = problem.New(problem.Unavailable, "domain_policy_unreadable",
	"the organizer's email domain policy cannot be read right now, so nobody is let in; the organizer's admin can save the policy again in the invitation settings")

// Limits of a domain list.
const (
	MaxDomains      = 1000
	maxDomainLength = 255
)

// domainRE accepts example.com, and *.example.com or *.tld for subdomains.
var domainRE = regexp.MustCompile(`^(\*\.([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+)[a-z][a-z0-9-]{0,62}$`)

// Validate normalizes the lists (lower case, blanks dropped) and reports
// every entry that is not a domain, with its field and index.
func (p *Policy) Validate() error {
	var fs problem.Fields
	for _, l := range []struct {
		field string
		list  *[]string
	}{{"blocked_domains", &p.Blocked}, {"allowed_domains", &p.Allowed}} {
		if len(*l.list) > MaxDomains {
			fs.Add(l.field, fmt.Sprintf("%s holds %d domains; at most %d are allowed", l.field, len(*l.list), MaxDomains))
			continue
		}
		clean := make([]string, 0, len(*l.list))
		for i, d := range *l.list {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "" {
				continue
			}
			field := fmt.Sprintf("%s[%d]", l.field, i)
			if len(d) > maxDomainLength {
				fs.Add(field, fmt.Sprintf("a domain is at most %d characters", maxDomainLength))
				continue
			}
			if !domainRE.MatchString(d) {
				fs.Add(field, fmt.Sprintf("%q is not a domain name (use example.com, or *.example.com for its subdomains)", d))
				continue
			}
			clean = append(clean, d)
		}
		*l.list = clean
	}
	return fs.Err()
}

// ParsePolicy reads a policy stored as its two JSON lists (as the hot
// paths read them in the same query as the link); stored false means the
// account never saved one (nothing is blocked). A list that is not JSON
// gives a policy that allows nothing, and says why.
func ParsePolicy(accountID string, stored bool, blocked, allowed string) Policy {
	p := Policy{AccountID: accountID}
	if !stored {
		return p
	}
	for _, l := range []struct {
		name string
		raw  string
		dst  *[]string
	}{{"blocked_domains", blocked, &p.Blocked}, {"allowed_domains", allowed, &p.Allowed}} {
		if l.raw == "" || l.raw == "null" {
			continue
		}
		if err := json.Unmarshal([]byte(l.raw), l.dst); err != nil {
			p.broken = fmt.Errorf("access: account %s: stored %s is not a JSON list of domains: %w", accountID, l.name, err)
			return p
		}
	}
	return p
}

// Unreadable is why the policy cannot be applied, or nil.
func (p *Policy) Unreadable() error { return p.broken }

// decide applies the policy to a person's email.
func (p *Policy) decide(email string) (Decision, error) {
	if p.broken != nil {
		return refuse(ErrPolicyUnreadable.Because(p.broken)), p.broken
	}
	if email != "" && !p.allows(domainOf(email)) {
		return refuse(ErrDomainBlocked), nil
	}
	return Decision{Allowed: true}, nil
}

// Check applies the policy to an address being invited: nil when it may
// be, ErrDomainBlocked or ErrPolicyUnreadable when not.
func (p *Policy) Check(email string) error {
	d, _ := p.decide(email)
	return d.Reason
}

// CheckInvitee applies the policy to an address someone is inviting: ""
// when it may be invited, or why not, for the form's email field. The
// error is set only when the policy cannot be read.
func (p *Policy) CheckInvitee(email string) (string, error) {
	err := p.Check(email)
	if errors.Is(err, ErrDomainBlocked) {
		return "invitations to " + domainOf(email) + " addresses are not allowed by this account's domain policy", nil
	}
	return "", err
}

func (p *Policy) allows(domain string) bool {
	domain = strings.ToLower(domain)
	if matchAny(p.Blocked, domain) {
		return false
	}
	return len(p.Allowed) == 0 || matchAny(p.Allowed, domain)
}

func matchAny(patterns []string, domain string) bool {
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(domain, "."+rest) {
				return true
			}
		} else if domain == p {
			return true
		}
	}
	return false
}

func domainOf(email string) string { return email[strings.LastIndexByte(email, '@')+1:] }

// LoadPolicy reads the account's policy; an account that never saved one
// blocks nothing. A stored policy that cannot be read allows nothing (see
// Unreadable).
func LoadPolicy(ctx context.Context, r store.Reader, accountID string) (*Policy, error) {
	var row struct {
		Blocked, Allowed string
	}
	err := r.Read(ctx).Raw("SELECT blocked_domains AS blocked, allowed_domains AS allowed FROM access_policies WHERE account_id = ?", accountID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		p := ParsePolicy(accountID, false, "", "")
		return &p, nil
	}
	if err != nil {
		return nil, err
	}
	p := ParsePolicy(accountID, true, row.Blocked, row.Allowed)
	return &p, nil
}

// SavePolicy validates and stores the account's policy with tx; it applies
// at once to every link and sign-in.
func SavePolicy(tx *store.Tx, accountID string, p *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.AccountID, p.UpdatedAt, p.broken = accountID, tx.Now(), nil
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "account_id"}}, UpdateAll: true}).Create(p).Error
}
