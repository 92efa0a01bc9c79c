// Package sso signs people in through their organization's identity
// provider: each account's connections (SAML or OIDC, package
// sso/connector's Config per type, one registry line each), the logins in
// flight and the replay cache (rows in the database, consumed once across
// replicas), the mapping of a provider's attributes to a person and their
// groups, and the login flow into core: domain policy, user.Resolve,
// group memberships, session.Open or the event site's SSO sign-in.
// api/ mounts its routes and renders its pages; the protocols live in
// sso/saml and sso/oidc.
package sso

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/sso/connector"
)

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Connection{}, NoPersonalData: "an account's identity provider settings; its last login fields hold a time and a refusal's code, naming no one"},
		{Model: &Domain{}, NoPersonalData: "the email domains a connection serves"},
		{Model: &Request{}, NoPersonalData: "a sign-in in flight for ten minutes: its connection, purpose, return path and protocol values, naming no one"},
		{Model: &SeenAssertion{}, NoPersonalData: "the ids of assertions a provider sent, until they expire, naming no one"},
	}
}

// Options build a Service.
type Options struct {
	DB    *store.DB
	Types Types
	// Sessions opens console sessions; Events signs people in to event
	// sites.
	Sessions *session.Service
	Events   *event.Service
	// BaseURL is the gateway's public URL (no trailing slash).
	BaseURL string
	Now     func() time.Time
	// ClockSkew is how far a provider's clock may be from ours (default 2m).
	ClockSkew time.Duration
	// RequestTTL is how long a login may take at the provider (default 10m).
	RequestTTL time.Duration
	// HTTPClient calls providers (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Service manages connections and runs logins.
type Service struct {
	db       *store.DB
	types    Types
	sessions *session.Service
	events   *event.Service
	baseURL  string
	now      func() time.Time
	skew     time.Duration
	ttl      time.Duration
	client   *http.Client
	log      *slog.Logger
	// Requests holds logins in flight and the replay cache.
	Requests *Requests

	// open caches each connection's connector (OIDC discovery and keys,
	// parsed SAML metadata), reopened when the connection changes.
	mu   sync.Mutex
	open map[string]opened
}

type opened struct {
	version time.Time
	conn    connector.Connector
}

// New builds the service.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Sessions == nil || o.Events == nil {
		return nil, errors.New("sso: DB, Sessions and Events are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = 2 * time.Minute
	}
	if o.RequestTTL <= 0 {
		o.RequestTTL = DefaultRequestTTL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Types == nil {
		o.Types = Types{}
	}
	return &Service{db: o.DB, types: o.Types, sessions: o.Sessions, events: o.Events,
		baseURL: strings.TrimRight(o.BaseURL, "/"), now: o.Now, skew: o.ClockSkew, ttl: o.RequestTTL,
		client: o.HTTPClient, log: o.Logger, Requests: &Requests{DB: o.DB, Now: o.Now},
		open: map[string]opened{}}, nil
}

// Now is the service's clock, in UTC.
func (s *Service) Now() time.Time { return s.now().UTC() }

// TypeNames are the connection types this gateway has.
func (s *Service) TypeNames() []string { return s.types.Names() }

// connector is the opened connector of c, from the cache while c has not
// changed since it was opened.
func (s *Service) connector(ctx context.Context, c *Connection) (connector.Connector, error) {
	s.mu.Lock()
	o, ok := s.open[c.ID]
	s.mu.Unlock()
	if ok && o.version.Equal(c.UpdatedAt) {
		return o.conn, nil
	}
	cfg, err := s.config(c)
	if err != nil {
		return nil, err
	}
	conn, err := cfg.Open(ctx, s.env(c))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.open[c.ID] = opened{version: c.UpdatedAt, conn: conn}
	s.mu.Unlock()
	return conn, nil
}

// env is what a connector of c gets from the gateway.
func (s *Service) env(c *Connection) connector.Env {
	return connector.Env{AccountID: c.AccountID, ConnectionID: c.ID, BaseURL: s.baseURL, Now: s.Now, ClockSkew: s.skew,
		HTTPClient: s.client, Replay: s.Requests, Claims: c.Mapping.Names(c.Type).claims(),
		Logger: s.log.With("sso_connection", c.ID, "sso_type", c.Type)}
}

// forget drops the cached connector of a changed or deleted connection.
func (s *Service) forget(connID string) {
	s.mu.Lock()
	delete(s.open, connID)
	s.mu.Unlock()
}

// Metadata is the connection's published metadata (SAML SP metadata), or
// ErrUnknownConnection when it has none.
func (s *Service) Metadata(ctx context.Context, typ, connID string) ([]byte, error) {
	c, err := s.byID(ctx, connID)
	if err != nil {
		return nil, err
	}
	if c.Type != typ {
		return nil, ErrUnknownConnection
	}
	conn, err := s.connector(ctx, c)
	if err != nil {
		return nil, err
	}
	m, ok := conn.(connector.Metadater)
	if !ok {
		return nil, ErrUnknownConnection
	}
	return m.Metadata(ctx)
}
