package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Input is what an admin gives for a new endpoint.
type Input struct {
	URL         string   `json:"url"`
	Types       []string `json:"types"`
	Description string   `json:"description"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
}

// Patch changes an endpoint; nil fields stay.
type Patch struct {
	URL         *string   `json:"url,omitempty"`
	Types       *[]string `json:"types,omitempty"`
	Description *string   `json:"description,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// WithSecret is an endpoint with its secret, as shown once: when created
// and when the secret is rotated.
type WithSecret struct {
	Endpoint
	Secret string `json:"secret"`
}

// newSecret is a Standard Webhooks secret: "whsec_" and the base64 of 32
// bytes from crypto/rand.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// checkTypes reports the first type that is not one of Types, and an
// empty list.
func checkTypes(fs *problem.Fields, types []string) []string {
	if len(types) == 0 {
		fs.Add("types", "name at least one event type, e.g. invitation.created; known types: "+strings.Join(Types(), ", "))
		return nil
	}
	var out []string
	for _, t := range types {
		t = strings.TrimSpace(t)
		if !KnownType(t) {
			fs.Add("types", fmt.Sprintf("%q is not an event type; known types: %s", clip(t, 64), strings.Join(Types(), ", ")))
			return nil
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// checkURL says what is wrong with an endpoint URL: not http(s), http
// where https is required, credentials in it, or a host that is (or
// resolves to) an address deliveries may not reach.
func (s *Service) checkURL(ctx context.Context, fs *problem.Fields, raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		fs.Add("url", "the endpoint's URL is required, e.g. https://hooks.example.org/invitegate")
	case len(raw) > 2000:
		fs.Add("url", "the URL is longer than 2000 characters")
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		fs.Add("url", fmt.Sprintf("%q is not an http(s) URL, e.g. https://hooks.example.org/invitegate", clip(raw, 100)))
	case u.User != nil:
		fs.Add("url", "the URL must not carry a user name or password; the signature authenticates the gateway")
	case u.Scheme != "https" && !s.cfg.AllowPrivateTargets:
		fs.Add("url", "the URL must be https (plain http only with webhooks.allow_private_targets)")
	default:
		if why := s.refusedHost(ctx, u.Hostname()); why != "" {
			fs.Add("url", why)
		}
	}
	return raw
}

// Create adds an endpoint with a new secret, shown once in the answer.
func (s *Service) Create(ctx context.Context, accountID string, who audit.Actor, in Input) (*WithSecret, error) {
	var fs problem.Fields
	u := s.checkURL(ctx, &fs, in.URL)
	types := checkTypes(&fs, in.Types)
	if len(in.Description) > 500 {
		fs.Add("description", "the description is longer than 500 characters")
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	ep := &Endpoint{ID: id.New(), AccountID: accountID, URL: u, Description: strings.TrimSpace(in.Description), TypeList: typeList(types),
		Enabled: in.Enabled == nil || *in.Enabled, Secret: newSecret(), CreatedAt: now, UpdatedAt: now}
	err := s.change(ctx, accountID, func(tx *store.Tx) error {
		if err := tx.Create(ep).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "webhook.created", "webhook_endpoint", ep.ID, map[string]any{"url": ep.URL, "types": types})
	})
	if err != nil {
		return nil, err
	}
	return &WithSecret{Endpoint: *ep, Secret: ep.Secret}, nil
}

// change runs fn in a transaction and forgets which types the account
// wants, for this replica at once (the others within wantTTL).
func (s *Service) change(ctx context.Context, accountID string, fn func(tx *store.Tx) error) error {
	err := s.db.Tx(ctx, fn)
	s.wants.forget(accountID)
	return err
}

// List returns the account's endpoints, oldest first.
func (s *Service) List(ctx context.Context, accountID string) ([]Endpoint, error) {
	var out []Endpoint
	err := s.db.Read(ctx).Where("account_id = ?", accountID).Order("created_at, id").Find(&out).Error
	return out, err
}

// Get returns one endpoint of the account.
func (s *Service) Get(ctx context.Context, accountID, endpointID string) (*Endpoint, error) {
	return get(ctx, s.db, accountID, endpointID)
}

func get(ctx context.Context, r store.Reader, accountID, endpointID string) (*Endpoint, error) {
	if !id.Valid(endpointID) {
		return nil, problem.ErrNotFound
	}
	var ep Endpoint
	err := r.Read(ctx).Where("id = ? AND account_id = ?", endpointID, accountID).Take(&ep).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &ep, err
}

// Update changes an endpoint. Enabling it again clears why it was
// disabled and its run of failures.
func (s *Service) Update(ctx context.Context, accountID string, who audit.Actor, endpointID string, p Patch) (*Endpoint, error) {
	ep, err := s.Get(ctx, accountID, endpointID)
	if err != nil {
		return nil, err
	}
	var fs problem.Fields
	set := map[string]any{}
	if p.URL != nil {
		set["url"] = s.checkURL(ctx, &fs, *p.URL)
	}
	if p.Types != nil {
		set["types"] = typeList(checkTypes(&fs, *p.Types))
	}
	if p.Description != nil {
		if len(*p.Description) > 500 {
			fs.Add("description", "the description is longer than 500 characters")
		}
		set["description"] = strings.TrimSpace(*p.Description)
	}
	if p.Enabled != nil {
		set["enabled"] = *p.Enabled
		if *p.Enabled {
			set["disabled_reason"], set["failing_since"] = "", nil
		}
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	if len(set) == 0 {
		return ep, nil
	}
	set["updated_at"] = s.now()
	err = s.change(ctx, accountID, func(tx *store.Tx) error {
		if err := tx.Model(&Endpoint{}).Where("id = ?", ep.ID).Updates(set).Error; err != nil {
			return err
		}
		detail := map[string]any{}
		for k, v := range set {
			if k != "updated_at" {
				detail[k] = v
			}
		}
		return audit.Record(tx, accountID, who, "webhook.updated", "webhook_endpoint", ep.ID, detail)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, accountID, ep.ID)
}

// Delete removes an endpoint with its deliveries, sent or not.
func (s *Service) Delete(ctx context.Context, accountID string, who audit.Actor, endpointID string) error {
	ep, err := s.Get(ctx, accountID, endpointID)
	if err != nil {
		return err
	}
	return s.change(ctx, accountID, func(tx *store.Tx) error {
		if err := tx.Where("endpoint_id = ?", ep.ID).Delete(&Delivery{}).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", ep.ID).Delete(&Endpoint{}).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "webhook.deleted", "webhook_endpoint", ep.ID, map[string]any{"url": ep.URL})
	})
}

// RotateSecret gives the endpoint a new secret, shown once in the answer.
// The secret it replaces still signs every delivery, beside the new one,
// for RotationOverlap, so a receiver may switch at its own pace.
func (s *Service) RotateSecret(ctx context.Context, accountID string, who audit.Actor, endpointID string) (*WithSecret, error) {
	ep, err := s.Get(ctx, accountID, endpointID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	until := now.Add(s.cfg.RotationOverlap)
	secret := newSecret()
	err = s.change(ctx, accountID, func(tx *store.Tx) error {
		r := tx.Model(&Endpoint{}).Where("id = ? AND secret = ?", ep.ID, ep.Secret).
			Updates(map[string]any{"secret": secret, "previous_secret": ep.Secret, "previous_until": until, "updated_at": now})
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 0 {
			return problem.New(problem.Conflict, "rotated_meanwhile", "the secret was rotated at the same time by someone else; rotate again to get a secret you can see")
		}
		return audit.Record(tx, accountID, who, "webhook.secret_rotated", "webhook_endpoint", ep.ID, map[string]any{"previous_until": until})
	})
	if err != nil {
		return nil, err
	}
	ep.Secret, ep.PreviousSecret, ep.PreviousUntil, ep.UpdatedAt = secret, ep.Secret, &until, now
	return &WithSecret{Endpoint: *ep, Secret: secret}, nil
}
