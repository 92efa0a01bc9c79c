package lti

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
)

// Platform is an LMS registered with an account: what it sends the tool
// (issuer, client id, deployments) and where the tool reaches it (login
// authorization, token and key endpoints). Launches are found by issuer and
// client id across all accounts, since a launch arrives before anyone is
// known: the pair is unique.
type Platform struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;index" json:"account_id"`
	// Name is what the console calls it ("Sakai at State U").
	Name     string `gorm:"size:100;not null" json:"name"`
	Issuer   string `gorm:"size:512;not null;uniqueIndex:idx_lti_platforms_key,priority:1" json:"issuer"`
	ClientID string `gorm:"size:255;not null;uniqueIndex:idx_lti_platforms_key,priority:2" json:"client_id"`
	// DeploymentIDs are the deployments of the tool on the platform that
	// may launch; a launch of any other is refused.
	DeploymentIDs []string `gorm:"serializer:json;not null" json:"deployment_ids"`
	AuthLoginURL  string   `gorm:"size:2048;not null" json:"auth_login_url"`
	TokenURL      string   `gorm:"size:2048;not null" json:"token_url"`
	JWKSURL       string   `gorm:"column:jwks_url;size:2048;not null" json:"jwks_url"`
	// TokenAudience is the aud of the tool's client assertions when the
	// platform wants another than its token URL (its authorization server).
	TokenAudience string `gorm:"size:2048;not null;default:''" json:"token_audience,omitempty"`
	// Adapter is the room adapter plugin that maps this platform's
	// launches to rooms.
	Adapter string `gorm:"size:100;not null" json:"adapter"`
	// FrameOrigins are the origins of the LMS pages that show the tool in
	// an iframe, when they are not the issuer's or the login URL's (Canvas
	// serves courses from the school's own host).
	FrameOrigins []string `gorm:"serializer:json;not null" json:"frame_origins"`
	// LinkByEmail lets a first launch of a person attach to the account's
	// user with the same email; only for platforms that verify addresses.
	LinkByEmail bool      `gorm:"not null;default:false" json:"link_by_email"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TableName names the table.
func (Platform) TableName() string { return "lti_platforms" }

// Origins are the origins allowed to frame the tool's pages for this
// platform: the issuer's, the login URL's and the declared frame origins.
func (p *Platform) Origins() []string {
	var out []string
	for _, s := range append([]string{p.Issuer, p.AuthLoginURL}, p.FrameOrigins...) {
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
			if o := u.Scheme + "://" + u.Host; !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}

// HasDeployment reports whether the deployment is registered.
func (p *Platform) HasDeployment(d string) bool {
	return d != "" && slices.Contains(p.DeploymentIDs, d)
}

// PlatformInput is a registration as the API, console and CLI give it.
// On an update, absent fields keep their values.
type PlatformInput struct {
	Name          *string   `json:"name"`
	Issuer        *string   `json:"issuer"`
	ClientID      *string   `json:"client_id"`
	DeploymentIDs *[]string `json:"deployment_ids"`
	AuthLoginURL  *string   `json:"auth_login_url"`
	TokenURL      *string   `json:"token_url"`
	TokenAudience *string   `json:"token_audience"`
	JWKSURL       *string   `json:"jwks_url"`
	Adapter       *string   `json:"adapter"`
	FrameOrigins  *[]string `json:"frame_origins"`
	LinkByEmail   *bool     `json:"link_by_email"`
}

// Limits of a registration's fields, as the table holds them.
const (
	MaxName         = 100
	MaxIssuer       = 512
	MaxClientID     = 255
	MaxURL          = 2048
	MaxDeploymentID = 255
	MaxDeployments  = 100
	MaxFrameOrigins = 20
)

// apply sets the given fields on p.
func (in *PlatformInput) apply(p *Platform) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&p.Name, in.Name)
	set(&p.Issuer, in.Issuer)
	set(&p.ClientID, in.ClientID)
	set(&p.AuthLoginURL, in.AuthLoginURL)
	set(&p.TokenURL, in.TokenURL)
	set(&p.TokenAudience, in.TokenAudience)
	set(&p.JWKSURL, in.JWKSURL)
	set(&p.Adapter, in.Adapter)
	trim := func(vs []string) []string {
		out := []string{}
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	if in.DeploymentIDs != nil {
		p.DeploymentIDs = trim(*in.DeploymentIDs)
	}
	if in.FrameOrigins != nil {
		p.FrameOrigins = trim(*in.FrameOrigins)
	}
	if in.LinkByEmail != nil {
		p.LinkByEmail = *in.LinkByEmail
	}
	if p.DeploymentIDs == nil {
		p.DeploymentIDs = []string{}
	}
	if p.FrameOrigins == nil {
		p.FrameOrigins = []string{}
	}
}

// validate reports every wrong field of p at once; adapters are the room
// adapters configured (nil: not checked).
func (p *Platform) validate(adapters []string) error {
	var fs problem.Fields
	required := func(field, v string, max int) bool {
		switch {
		case v == "":
			fs.Add(field, field+" is required")
		case len(v) > max:
			fs.Add(field, fmt.Sprintf("%s is longer than %d characters", field, max))
		default:
			return true
		}
		return false
	}
	required("name", p.Name, MaxName)
	if required("issuer", p.Issuer, MaxIssuer) {
		if msg := checkURL(p.Issuer); msg != "" {
			fs.Add("issuer", "issuer "+msg)
		}
	}
	required("client_id", p.ClientID, MaxClientID)
	if len(p.TokenAudience) > MaxURL {
		fs.Add("token_audience", fmt.Sprintf("token_audience is longer than %d characters", MaxURL))
	}
	for _, f := range []struct{ field, v string }{{"auth_login_url", p.AuthLoginURL}, {"token_url", p.TokenURL}, {"jwks_url", p.JWKSURL}} {
		if required(f.field, f.v, MaxURL) {
			if msg := checkURL(f.v); msg != "" {
				fs.Add(f.field, f.field+" "+msg)
			}
		}
	}
	switch {
	case len(p.DeploymentIDs) == 0:
		fs.Add("deployment_ids", "deployment_ids needs at least one deployment id (the platform shows it when the tool is deployed)")
	case len(p.DeploymentIDs) > MaxDeployments:
		fs.Add("deployment_ids", fmt.Sprintf("at most %d deployment ids", MaxDeployments))
	}
	for i, d := range p.DeploymentIDs {
		if len(d) > MaxDeploymentID {
			fs.Add(fmt.Sprintf("deployment_ids[%d]", i), fmt.Sprintf("a deployment id is at most %d characters", MaxDeploymentID))
		}
	}
	if len(p.FrameOrigins) > MaxFrameOrigins {
		fs.Add("frame_origins", fmt.Sprintf("at most %d frame origins", MaxFrameOrigins))
	}
	for i, o := range p.FrameOrigins {
		u, err := url.Parse(o)
		if len(o) > MaxURL || err != nil || checkURL(o) != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			fs.Add(fmt.Sprintf("frame_origins[%d]", i), "a frame origin is scheme://host[:port], e.g. https://school.instructure.com")
		}
	}
	if required("adapter", p.Adapter, resource.MaxAdapter) && adapters != nil && !slices.Contains(adapters, p.Adapter) {
		msg := fmt.Sprintf("no room adapter named %q is configured", p.Adapter)
		if len(adapters) == 0 {
			msg += "; this gateway has none (declare one under plugins: in its config)"
		} else {
			msg += "; the room adapters are: " + strings.Join(adapters, ", ")
		}
		fs.Add("adapter", msg)
	}
	return fs.Err()
}

// checkURL says what is wrong with an endpoint of a platform, or "". The
// platform is reached over HTTPS; plain HTTP only on the loopback, where a
// test platform or a local LMS runs.
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "must be an absolute https URL"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if loopback(u.Hostname()) {
			return ""
		}
		return "must use https (plain http only on localhost)"
	}
	return "must be an absolute https URL"
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrPlatformExists refuses a second registration of the same issuer and
// client id: launches could not tell them apart.
var ErrPlatformExists = &problem.Error{Kind: problem.Conflict, Code: "lti_platform_exists", Field: "client_id",
	Message: "a platform with this issuer and client id is already registered (in this or another account); each registration needs its own client id"}

// CreatePlatform registers a platform with the account.
func (s *Service) CreatePlatform(ctx context.Context, accountID string, who audit.Actor, in PlatformInput) (*Platform, error) {
	now := s.now()
	p := &Platform{ID: id.New(), AccountID: accountID, CreatedAt: now, UpdatedAt: now}
	in.apply(p)
	if err := p.validate(s.adaptersList()); err != nil {
		return nil, err
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(p).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "lti_platform.created", "lti_platform", p.ID, map[string]any{"issuer": p.Issuer, "client_id": p.ClientID, "adapter": p.Adapter})
	})
	if store.IsUniqueViolation(err) {
		return nil, ErrPlatformExists
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdatePlatform changes the given fields of a registration.
func (s *Service) UpdatePlatform(ctx context.Context, accountID, platformID string, who audit.Actor, in PlatformInput) (*Platform, error) {
	p, err := s.GetPlatform(ctx, accountID, platformID)
	if err != nil {
		return nil, err
	}
	in.apply(p)
	if err := p.validate(s.adaptersList()); err != nil {
		return nil, err
	}
	p.UpdatedAt = s.now()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Select("*").Omit("id", "account_id", "created_at").Updates(p).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "lti_platform.updated", "lti_platform", p.ID, map[string]any{"issuer": p.Issuer, "client_id": p.ClientID, "adapter": p.Adapter})
	})
	if store.IsUniqueViolation(err) {
		return nil, ErrPlatformExists
	}
	if err != nil {
		return nil, err
	}
	s.platforms.forget(p.ID)
	return p, nil
}

// DeletePlatform removes a registration: its launches are refused from
// then on. Rooms it brought in stay.
func (s *Service) DeletePlatform(ctx context.Context, accountID, platformID string, who audit.Actor) error {
	p, err := s.GetPlatform(ctx, accountID, platformID)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Where("id = ?", p.ID).Delete(&Platform{}).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "lti_platform.deleted", "lti_platform", p.ID, map[string]any{"issuer": p.Issuer, "client_id": p.ClientID})
	})
	if err != nil {
		return err
	}
	s.platforms.forget(p.ID)
	return nil
}

// GetPlatform is a registration of the account.
func (s *Service) GetPlatform(ctx context.Context, accountID, platformID string) (*Platform, error) {
	return store.Owned[Platform](ctx, s.db, accountID, platformID)
}

// ListPlatforms lists the account's registrations, oldest first.
func (s *Service) ListPlatforms(ctx context.Context, accountID string) ([]Platform, error) {
	out := []Platform{}
	err := s.db.Read(ctx).Where("account_id = ?", accountID).Order("created_at, id").Find(&out).Error
	return out, err
}

// platformByID is a registration by id alone, for a launch whose state
// names it.
func (s *Service) platformByID(ctx context.Context, platformID string) (*Platform, error) {
	var p Platform
	err := s.db.Read(ctx).Where("id = ?", platformID).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &p, err
}

// platformsOf are the registrations of an issuer, and of its client id
// when one is given.
func (s *Service) platformsOf(ctx context.Context, issuer, clientID string) ([]Platform, error) {
	var out []Platform
	q := s.db.Read(ctx).Where("issuer = ?", issuer)
	if clientID != "" {
		q = q.Where("client_id = ?", clientID)
	}
	err := q.Limit(2).Find(&out).Error
	return out, err
}
