// Package scim is the gateway's SCIM 2.0 service provider (RFC 7643,
// 7644), mounted by api at /scim/v2, so an identity provider (Entra ID,
// Okta) provisions the account's people and groups the way it provisions
// everywhere else. The protocol (routing, schemas, filters, PATCH
// operations, list responses, errors) is github.com/elimity-com/scim's;
// this package translates between its resources and core/provision, which
// decides. It authenticates nobody: api does, and hands each request the
// caller (WithCaller).
package scim

import (
	"context"
	"errors"
	"net/http"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/invitegate/gateway/core/provision"
)

// Prefix is where api mounts the handler; the library answers under /v2
// of it.
const Prefix = "/scim"

// MaxResults bounds a page of a list, and is the page when the provider
// asks for none.
const MaxResults = 100

// Config is what the handler needs.
type Config struct {
	Provision *provision.Service
	// BaseURL is the SCIM base URL providers are given (".../scim/v2"):
	// resources' meta.location is built from it.
	BaseURL string
	// Refusal turns an error of core into the SCIM error (an
	// errors.ScimError) the provider is shown: api's one mapping of errors
	// to statuses.
	Refusal func(r *http.Request, err error) error
}

type callerKey struct{}

// WithCaller is ctx carrying the authenticated provider.
func WithCaller(ctx context.Context, c provision.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerOf(r *http.Request) provision.Caller {
	c, _ := r.Context().Value(callerKey{}).(provision.Caller)
	return c
}

// UserSchema and GroupSchema are the resources' schemas as the library
// declares them; api's body check validates against the same.
func UserSchema() schema.Schema  { return schema.CoreUserSchema() }
func GroupSchema() schema.Schema { return schema.CoreGroupSchema() }

// New builds the SCIM handler; requests reach it with /scim stripped and
// the caller set.
func New(cfg Config) (http.Handler, error) {
	if cfg.Provision == nil || cfg.Refusal == nil || cfg.BaseURL == "" {
		return nil, errors.New("scim: Provision, Refusal and BaseURL are required")
	}
	h := handlers{cfg: cfg}
	enterprise := []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}}
	s, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString(cfg.BaseURL),
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type: scim.AuthenticationTypeOauthBearerToken, Name: "Provisioning token",
				Description: "A provisioning token an account admin creates on the console's SCIM page, sent as Authorization: Bearer <token>.",
				Primary:     true,
			}},
			MaxResults: MaxResults, SupportFiltering: true, SupportPatch: true,
		},
		ResourceTypes: []scim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("People of the account"),
				Schema: UserSchema(), SchemaExtensions: enterprise, Handler: userHandler{h}},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("Groups of the account's people"),
				Schema: GroupSchema(), Handler: groupHandler{h}},
		},
	}, scim.WithBaseURL(cfg.BaseURL))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// handlers is what both resource handlers share.
type handlers struct{ cfg Config }

func (h handlers) fail(r *http.Request, err error) error {
	if err == nil {
		return nil
	}
	return h.cfg.Refusal(r, err)
}
