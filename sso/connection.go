package sso

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/sso/connector"
)

// Connection is one account's link to an identity provider: its protocol
// and settings (Config, the connector's JSON), the email domains it signs
// in (home-realm discovery), how its attributes map to a person, and the
// outcome of its last logins for the admin.
type Connection struct {
	ID        string  `gorm:"primaryKey;size:36" json:"id"`
	AccountID string  `gorm:"size:36;not null;index" json:"account_id"`
	Name      string  `gorm:"size:100;not null" json:"name"`
	Type      string  `gorm:"size:16;not null" json:"type"`
	Mapping   Mapping `gorm:"serializer:json;type:text" json:"mapping"`
	// JIT provisions people the account does not know yet.
	JIT bool `gorm:"column:jit;not null;default:false" json:"jit"`
	// LinkByEmail lets a first login attach to the account's user with the
	// same email, when the provider vouches for the address.
	LinkByEmail bool `gorm:"not null;default:false" json:"link_by_email"`
	// Config is the connector's Config as JSON, secrets included: it never
	// leaves the gateway (the API shows Config.Public()).
	Config string `gorm:"type:text;not null" json:"-"`
	// The last successful and failed logins; LastFailure is the refusal's
	// code and detail, short, never a token or an assertion.
	LastLoginAt   *time.Time `json:"last_login_at"`
	LastFailureAt *time.Time `json:"last_failure_at"`
	LastFailure   string     `gorm:"size:255" json:"last_failure"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	// Domains are the email domains the connection serves (sso_domains).
	Domains []string `gorm:"-" json:"domains"`
}

// TableName names the table.
func (Connection) TableName() string { return "sso_connections" }

// Domain is an email domain served by one connection of an account: the
// primary key makes a domain one connection's in each account.
type Domain struct {
	AccountID    string `gorm:"primaryKey;size:36"`
	Domain       string `gorm:"primaryKey;size:255"`
	ConnectionID string `gorm:"size:36;not null;index"`
}

// TableName names the table.
func (Domain) TableName() string { return "sso_domains" }

// ErrNotFound is a connection that is not in the account (or not at all).
var ErrNotFound = problem.New(problem.NotFound, "sso_connection_not_found", "there is no such SSO connection in this account")

// Input is a connection as an admin creates or changes it: on update, a
// field left out keeps its value, and a config sent without a secret keeps
// the stored secret.
type Input struct {
	Name        *string         `json:"name"`
	Type        *string         `json:"type"`
	Domains     *[]string       `json:"domains"`
	Mapping     *Mapping        `json:"mapping"`
	JIT         *bool           `json:"jit"`
	LinkByEmail *bool           `json:"link_by_email"`
	Config      json.RawMessage `json:"config"`
}

// View is a connection as the API, console and CLI show it: the config
// without its secrets, and the gateway URLs to paste into the provider.
type View struct {
	Connection
	// Config is the connector's Config.Public(); nil when this gateway has
	// no connector of the type.
	Config any `json:"config"`
	// Names are the attribute or claim names the mapping reads.
	Names Names `json:"attribute_names"`
	// URLs are the gateway's addresses for the provider's side: SAML
	// "metadata", "acs", "entity_id"; OIDC "redirect_uri".
	URLs map[string]string `json:"urls"`
	// Message says what the last action did (a key rotation's step).
	Message string `json:"message,omitempty"`
}

// Limits of a connection.
const (
	maxName    = 100
	maxDomains = 100
)

var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$`)

// cleanDomains lower-cases and checks the domains, each once.
func cleanDomains(in []string, fs *problem.Fields) []string {
	if len(in) > maxDomains {
		fs.Add("domains", fmt.Sprintf("at most %d domains per connection", maxDomains))
		return nil
	}
	var out []string
	for i, d := range in {
		d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(d), "@")))
		if d == "" || slices.Contains(out, d) {
			continue
		}
		if len(d) > 255 {
			fs.Add(fmt.Sprintf("domains[%d]", i), "a domain is at most 255 characters")
			continue
		}
		if !domainRE.MatchString(d) {
			fs.Add(fmt.Sprintf("domains[%d]", i), fmt.Sprintf("%q is not an email domain (e.g. example.com)", d))
			continue
		}
		out = append(out, d)
	}
	return out
}

// decodeConfig reads raw into cfg, refusing fields the type does not have.
func decodeConfig(raw json.RawMessage, cfg connector.Config, fs *problem.Fields) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		msg := err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			fs.Add("config."+te.Field, fmt.Sprintf("config.%s must be a JSON %s", te.Field, te.Type.Kind()))
			return false
		}
		fs.Add("config", "config is not a valid JSON object for this type: "+strings.TrimPrefix(msg, "json: "))
		return false
	}
	return true
}

// addProblems adds err's field problems to fs; err that is not a field
// problem is returned.
func addProblems(fs *problem.Fields, err error) error {
	if err == nil {
		return nil
	}
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		return err
	}
	if len(p.Details) == 0 {
		field := p.Field
		if field == "" {
			field = "config"
		}
		fs.Add(field, p.Message)
	}
	for _, d := range p.Details {
		*fs = append(*fs, d)
	}
	return nil
}

// checkCommon validates what every type shares, into fs.
func checkCommon(in *Input, create bool, fs *problem.Fields) {
	if in.Name != nil || create {
		n := ""
		if in.Name != nil {
			n = strings.TrimSpace(*in.Name)
			in.Name = &n
		}
		switch {
		case n == "":
			fs.Add("name", "name is required")
		case utf8.RuneCountInString(n) > maxName:
			fs.Add("name", fmt.Sprintf("name is longer than %d characters", maxName))
		}
	}
	if in.Domains != nil {
		d := cleanDomains(*in.Domains, fs)
		in.Domains = &d
	}
	if in.Mapping != nil {
		if err := in.Mapping.validate(); err != nil {
			addProblems(fs, err)
		}
	}
}

// Create adds a connection to the account: every mistake is reported at
// once; a config that makes keys of its own (a SAML SP key pair) makes
// them now, so the stored config holds them.
func (s *Service) Create(ctx context.Context, accountID string, who audit.Actor, in Input) (*View, error) {
	var fs problem.Fields
	checkCommon(&in, true, &fs)
	typ := ""
	if in.Type != nil {
		typ = strings.ToLower(strings.TrimSpace(*in.Type))
	}
	var cfg connector.Config
	if len(in.Config) > 0 && in.Config[0] != '{' && string(in.Config) != "null" {
		fs.Add("config", "config must be a JSON object: the type's settings")
	}
	if typ == "" {
		fs.Add("type", "type is required: "+strings.Join(s.types.Names(), " or "))
	} else if c, err := s.types.newConfig(typ); err != nil {
		addProblems(&fs, err)
	} else {
		cfg = c
	}
	if cfg != nil {
		if len(in.Config) == 0 || string(in.Config) == "null" {
			fs.Add("config", "config is required: the "+typ+" settings of the connection")
		} else if in.Config[0] == '{' && decodeConfig(in.Config, cfg, &fs) {
			if err := addProblems(&fs, cfg.Validate()); err != nil {
				return nil, err
			}
		}
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	if p, ok := cfg.(connector.Preparer); ok {
		if err := p.Prepare(s.Now()); err != nil {
			return nil, fmt.Errorf("sso: prepare the %s config: %w", typ, err)
		}
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	c := &Connection{ID: id.New(), AccountID: accountID, Name: *in.Name, Type: typ, Config: string(raw)}
	if in.Mapping != nil {
		c.Mapping = *in.Mapping
	}
	if in.JIT != nil {
		c.JIT = *in.JIT
	}
	if in.LinkByEmail != nil {
		c.LinkByEmail = *in.LinkByEmail
	}
	if in.Domains != nil {
		c.Domains = *in.Domains
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		if err := s.setDomains(tx, c, c.Domains); err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "sso.connection_created", "sso_connection", c.ID,
			map[string]any{"name": c.Name, "type": c.Type, "domains": c.Domains, "jit": c.JIT, "link_by_email": c.LinkByEmail})
	})
	if err != nil {
		return nil, err
	}
	return s.view(c, cfg), nil
}

// setDomains makes domains exactly the ones c serves, with tx, refusing a
// domain another connection of the account serves.
func (s *Service) setDomains(tx *store.Tx, c *Connection, domains []string) error {
	if len(domains) > 0 {
		var taken []Domain
		if err := tx.Where("account_id = ? AND domain IN ? AND connection_id <> ?", c.AccountID, domains, c.ID).Find(&taken).Error; err != nil {
			return err
		}
		if len(taken) > 0 {
			return domainTaken(taken[0])
		}
	}
	if err := tx.Where("connection_id = ?", c.ID).Delete(&Domain{}).Error; err != nil {
		return err
	}
	for _, d := range domains {
		if err := tx.Create(&Domain{AccountID: c.AccountID, Domain: d, ConnectionID: c.ID}).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return domainTaken(Domain{Domain: d})
			}
			return err
		}
	}
	c.Domains = domains
	return nil
}

func domainTaken(d Domain) error {
	return &problem.Error{Kind: problem.Conflict, Code: "sso_domain_taken", Field: "domains",
		Message: fmt.Sprintf("%s is already served by another SSO connection of this account; remove it there first", d.Domain)}
}

// get loads a connection of the account with its domains.
func (s *Service) get(ctx context.Context, r store.Reader, accountID, connID string) (*Connection, error) {
	c, err := store.Owned[Connection](ctx, r, accountID, connID)
	if errors.Is(err, problem.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return c, s.loadDomains(ctx, r, c)
}

func (s *Service) loadDomains(ctx context.Context, r store.Reader, cs ...*Connection) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	by := map[string]*Connection{}
	for i, c := range cs {
		ids[i], by[c.ID] = c.ID, c
		c.Domains = []string{}
	}
	var ds []Domain
	if err := r.Read(ctx).Where("connection_id IN ?", ids).Order("domain").Find(&ds).Error; err != nil {
		return err
	}
	for _, d := range ds {
		by[d.ConnectionID].Domains = append(by[d.ConnectionID].Domains, d.Domain)
	}
	return nil
}

// config decodes the stored config of c; an error when this gateway has
// no connector of its type or the stored JSON no longer reads.
func (s *Service) config(c *Connection) (connector.Config, error) {
	cfg, err := s.types.newConfig(c.Type)
	if err != nil {
		return nil, fmt.Errorf("sso: connection %s is of type %q, which this gateway does not have", c.ID, c.Type)
	}
	if err := json.Unmarshal([]byte(c.Config), cfg); err != nil {
		return nil, fmt.Errorf("sso: connection %s: stored config does not read: %w", c.ID, err)
	}
	return cfg, nil
}

// view is what the API shows of c.
func (s *Service) view(c *Connection, cfg connector.Config) *View {
	v := &View{Connection: *c, Names: c.Mapping.Names(c.Type), URLs: map[string]string{}}
	if cfg != nil {
		v.Config = cfg.Public()
	}
	base := s.baseURL + "/sso/" + c.Type + "/" + c.ID
	switch c.Type {
	case "saml":
		v.URLs["metadata"] = base + "/metadata"
		v.URLs["acs"] = base + "/acs"
		v.URLs["entity_id"] = base + "/metadata"
		if e := publicString(v.Config, "entity_id"); e != "" {
			v.URLs["entity_id"] = e
		}
	case "oidc":
		v.URLs["redirect_uri"] = base + "/callback"
	}
	return v
}

// publicString is a string field of a public config, by JSON name.
func publicString(pub any, name string) string {
	b, err := json.Marshal(pub)
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// Get is one connection of the account, as shown.
func (s *Service) Get(ctx context.Context, accountID, connID string) (*View, error) {
	c, err := s.get(ctx, s.db, accountID, connID)
	if err != nil {
		return nil, err
	}
	cfg, _ := s.config(c)
	return s.view(c, cfg), nil
}

// List is the account's connections by name.
func (s *Service) List(ctx context.Context, accountID string) ([]View, error) {
	var cs []Connection
	if err := s.db.Read(ctx).Where("account_id = ?", accountID).Order("name, id").Find(&cs).Error; err != nil {
		return nil, err
	}
	ptrs := make([]*Connection, len(cs))
	for i := range cs {
		ptrs[i] = &cs[i]
	}
	if err := s.loadDomains(ctx, s.db, ptrs...); err != nil {
		return nil, err
	}
	out := make([]View, len(cs))
	for i, c := range ptrs {
		cfg, _ := s.config(c)
		out[i] = *s.view(c, cfg)
	}
	return out, nil
}

// Update changes the fields in is given; a config given replaces the
// stored one, its secrets left empty kept from the stored config.
func (s *Service) Update(ctx context.Context, accountID string, who audit.Actor, connID string, in Input) (*View, error) {
	c, err := s.get(ctx, s.db, accountID, connID)
	if err != nil {
		return nil, err
	}
	var fs problem.Fields
	checkCommon(&in, false, &fs)
	if in.Type != nil && strings.ToLower(strings.TrimSpace(*in.Type)) != c.Type {
		fs.Add("type", fmt.Sprintf("a connection's type cannot change (this one is %s); create a new connection instead", c.Type))
	}
	stored, err := s.config(c)
	if err != nil {
		return nil, problem.Field("type", fmt.Sprintf("this gateway has no %s connector, so the connection cannot be changed", c.Type))
	}
	cfg := stored
	if len(in.Config) > 0 && string(in.Config) != "null" {
		cfg, _ = s.types.newConfig(c.Type)
		if decodeConfig(in.Config, cfg, &fs) {
			cfg.KeepSecrets(stored)
			if err := addProblems(&fs, cfg.Validate()); err != nil {
				return nil, err
			}
		}
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	changed := []string{}
	set := map[string]any{}
	if in.Name != nil && *in.Name != c.Name {
		set["name"], c.Name = *in.Name, *in.Name
		changed = append(changed, "name")
	}
	if in.Mapping != nil {
		b, _ := json.Marshal(*in.Mapping)
		set["mapping"], c.Mapping = string(b), *in.Mapping
		changed = append(changed, "mapping")
	}
	if in.JIT != nil && *in.JIT != c.JIT {
		set["jit"], c.JIT = *in.JIT, *in.JIT
		changed = append(changed, "jit")
	}
	if in.LinkByEmail != nil && *in.LinkByEmail != c.LinkByEmail {
		set["link_by_email"], c.LinkByEmail = *in.LinkByEmail, *in.LinkByEmail
		changed = append(changed, "link_by_email")
	}
	if cfg != stored {
		raw, err := json.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		set["config"], c.Config = string(raw), string(raw)
		changed = append(changed, "config")
	}
	if in.Domains != nil {
		changed = append(changed, "domains")
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		set["updated_at"], c.UpdatedAt = now, now
		if err := tx.Model(&Connection{}).Where("id = ?", c.ID).Updates(set).Error; err != nil {
			return err
		}
		if in.Domains != nil {
			if err := s.setDomains(tx, c, *in.Domains); err != nil {
				return err
			}
		}
		return audit.Record(tx, accountID, who, "sso.connection_updated", "sso_connection", c.ID, map[string]any{"changed": changed, "domains": c.Domains})
	})
	if err != nil {
		return nil, err
	}
	s.forget(c.ID)
	return s.view(c, cfg), nil
}

// Delete removes a connection, its domains and its logins in flight. The
// people it signed in stay, with their identities: a new connection to
// the same provider finds them again. The groups its logins recorded stay
// too, as they are, until an admin or an erasure removes them.
func (s *Service) Delete(ctx context.Context, accountID string, who audit.Actor, connID string) error {
	c, err := s.get(ctx, s.db, accountID, connID)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		for _, m := range []any{&Domain{}, &Request{}, &SeenAssertion{}} {
			if err := tx.Where("connection_id = ?", c.ID).Delete(m).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("id = ?", c.ID).Delete(&Connection{}).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "sso.connection_deleted", "sso_connection", c.ID, map[string]any{"name": c.Name, "type": c.Type})
	})
	s.forget(c.ID)
	return err
}

// ErrNoKeys refuses a key rotation of a connection whose type holds no
// keys of its own.
var ErrNoKeys = problem.New(problem.Invalid, "sso_no_keys", "this connection's type holds no keys of its own to rotate (only SAML connections have a service provider key)")

// RotateKey takes one step of the connection's key rollover (a SAML SP
// key: the first step adds a new key, published beside the old one; the
// second retires the old one) and says what it did.
func (s *Service) RotateKey(ctx context.Context, accountID string, who audit.Actor, connID string) (*View, error) {
	c, err := s.get(ctx, s.db, accountID, connID)
	if err != nil {
		return nil, err
	}
	stored, err := s.config(c)
	if err != nil {
		return nil, problem.Field("type", fmt.Sprintf("this gateway has no %s connector, so the connection's keys cannot be rotated", c.Type))
	}
	kr, ok := stored.(connector.KeyRotator)
	if !ok {
		return nil, ErrNoKeys
	}
	cfg, msg, err := kr.RotateKey(s.Now())
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		c.Config, c.UpdatedAt = string(raw), tx.Now()
		if err := tx.Model(&Connection{}).Where("id = ?", c.ID).Updates(map[string]any{"config": c.Config, "updated_at": c.UpdatedAt}).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "sso.key_rotated", "sso_connection", c.ID, map[string]any{"step": msg})
	})
	if err != nil {
		return nil, err
	}
	s.forget(c.ID)
	v := s.view(c, cfg)
	v.Message = msg
	return v, nil
}

// ByDomain is the connection serving the email's domain: in the account,
// or when accountID is "", in whichever account has one (refused when
// several do: the person must use their organization's own sign-in link).
func (s *Service) byDomain(ctx context.Context, accountID, email string) (*Connection, error) {
	at := strings.LastIndexByte(email, '@')
	domain := strings.ToLower(strings.TrimSpace(email[at+1:]))
	q := s.db.Read(ctx).Where("domain = ?", domain)
	if accountID != "" {
		q = q.Where("account_id = ?", accountID)
	}
	var ds []Domain
	if err := q.Limit(2).Find(&ds).Error; err != nil {
		return nil, err
	}
	switch len(ds) {
	case 0:
		return nil, ErrNoConnection
	case 1:
		return s.byID(ctx, ds[0].ConnectionID)
	}
	return nil, ErrAmbiguousDomain
}

// byID loads a connection by id alone: the provider's answer names it in
// the URL, whichever account it is of.
func (s *Service) byID(ctx context.Context, connID string) (*Connection, error) {
	if !id.Valid(connID) {
		return nil, ErrUnknownConnection
	}
	var c Connection
	err := s.db.Read(ctx).Where("id = ?", connID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrUnknownConnection
	}
	return &c, err
}
