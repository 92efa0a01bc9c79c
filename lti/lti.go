// Package lti is the gateway's LTI 1.3 tool (1EdTech Security Framework
// and LTI Core 1.3): the platforms registered with each account, the
// third-party-initiated login, the validation of a launch's id_token (every
// check in one ordered list, launch.go), the tool's own RS256 keys, the
// way a validated resource link launch becomes a room, a user with their
// collaborator role and a session (enter.go), the Names and Role
// Provisioning Services client behind the invite dialog's course roster
// (nrps.go, roster.go), and Deep Linking, by which an instructor puts a
// room in a course (deeplink.go). api/ mounts its routes and renders its
// pages; the decisions are here.
package lti

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Service is the LTI tool of one gateway. Build it with New: it is
// complete from then on.
type Service struct {
	db       *store.DB
	base     *url.URL
	baseURL  string
	sessions *session.Service
	platform resource.Platform
	adapters func() []string
	log      *slog.Logger
	now      func() time.Time
	opts     Options
	keySets  *keySets
	sweepMu  sync.Mutex
	sweptAt  time.Time
	tokens   *accessTokens
	rosters  *rosters
	// platforms are the registrations launches read lately.
	platforms *platformCache
	// takeState consumes a login's state (state.go), prepared once.
	takeState *sql.Stmt
	// Keys are the tool's own signing keys, published at /lti/jwks.
	Keys *Keys
}

// Options configure a Service; zero values take the defaults.
type Options struct {
	// BaseURL is the gateway's public URL: the login, launch and JWKS URLs
	// are under it, and a launch's target_link_uri must be.
	BaseURL string
	// Sessions opens the session a launch signs the person in with.
	Sessions *session.Service
	// Platform maps launches to rooms through the room adapters; nil: none
	// configured (every launch is refused, saying so).
	Platform resource.Platform
	// Adapters lists the configured room adapters, to check a
	// registration's adapter; nil does not check.
	Adapters func() []string
	// HTTP fetches the platforms' key sets (default: a client with a 5 s
	// timeout). Security: the response is read up to 1 MB.
	HTTP *http.Client
	// Log receives each refused launch with its detail, which the person
	// is not shown.
	Log *slog.Logger
	// Now is the clock of states, token lifetimes and key rotation.
	Now func() time.Time
	// StateTTL is how long a login may take between initiation and launch
	// (default 10 minutes).
	StateTTL time.Duration
	// Skew is the clock difference allowed on a token's exp and iat
	// (default 60 s).
	Skew time.Duration
	// MaxAge is the oldest iat accepted (default 10 minutes): a token
	// issued an hour ago is refused even when its exp says otherwise.
	MaxAge time.Duration
	// KeySetRefresh is the shortest time between two fetches of one
	// platform's key set (default 1 minute): an unknown kid refetches at
	// most that often.
	KeySetRefresh time.Duration
	// SessionTTL is how long the session of a launch lasts (default 8 hours).
	SessionTTL time.Duration
	// KeyLead is how long a new tool key is published before it signs
	// (default 1 hour), so platforms that cache the key set see it first.
	KeyLead time.Duration
	// RegistrationTTL is how long a dynamic registration URL works
	// (default 1 hour).
	RegistrationTTL time.Duration
	// RosterTTL is how long a course roster read from the platform (NRPS)
	// answers the invite dialog before it is read again (default 2
	// minutes): a person typing an email costs the platform one read.
	RosterTTL time.Duration
}

// New builds the tool on db, creating its first signing key if it has none.
func New(ctx context.Context, db *store.DB, o Options) (*Service, error) {
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, errors.New("lti: the base URL must be an absolute http(s) URL")
	}
	if o.Sessions == nil {
		return nil, errors.New("lti: sessions are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	defaults := []struct {
		v *time.Duration
		d time.Duration
	}{{&o.StateTTL, 10 * time.Minute}, {&o.Skew, time.Minute}, {&o.MaxAge, 10 * time.Minute},
		{&o.KeySetRefresh, time.Minute}, {&o.SessionTTL, 8 * time.Hour}, {&o.KeyLead, time.Hour}, {&o.RosterTTL, 2 * time.Minute}}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.d
		}
	}
	s := &Service{db: db, base: base, baseURL: base.String(), sessions: o.Sessions, platform: o.Platform, adapters: o.Adapters,
		log: o.Log, now: func() time.Time { return o.Now().UTC() }, opts: o}
	s.keySets = newKeySets(o.HTTP, s.now, o.KeySetRefresh)
	s.tokens = &accessTokens{tokens: map[string]*accessToken{}}
	s.rosters = &rosters{entries: map[string]*rosterEntry{}}
	s.platforms = newPlatformCache()
	if s.Keys, err = openKeys(ctx, db, s.now, o.KeyLead); err != nil {
		return nil, err
	}
	if s.takeState, err = db.Prepare(ctx, true, sqlTakeState); err != nil {
		return nil, fmt.Errorf("lti: prepare the state statement: %w", err)
	}
	return s, nil
}

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Platform{}, NoPersonalData: "an LMS registered with an account: its endpoints and ids"},
		{Model: &loginState{}, NoPersonalData: "a login in flight: hashes of its state and nonce, the platform and the target link, for ten minutes"},
		{Model: &Key{}, NoPersonalData: "the tool's signing keys"},
		{Model: &registrationToken{}, NoPersonalData: "a dynamic registration URL an admin made: its hash, expiry, use and the platform it registered"},
		{Model: &launchContext{}, Erase: table.ByUser(&launchContext{})},
		{Model: &deepLinkRequest{}, Erase: table.ByUser(&deepLinkRequest{})},
		{Model: &placedRoom{}, NoPersonalData: "a room placed in a platform's courses by deep linking, and who placed it by user id"},
	}
}

// StateTTL is how long a login may take, and its state cookie lasts.
func (s *Service) StateTTL() time.Duration { return s.opts.StateTTL }

// URLs are what an LMS admin pastes into the platform to register the tool.
type URLs struct {
	Login  string `json:"login_url"`
	Launch string `json:"launch_url"`
	JWKS   string `json:"jwks_url"`
	// DeepLinking is the target link URI of deep linking requests (the
	// LMS's content selection URL); their id_token is posted to Launch.
	DeepLinking string `json:"deep_linking_url"`
}

// URLs of this tool.
func (s *Service) URLs() URLs {
	return URLs{Login: s.baseURL + "/lti/login", Launch: s.baseURL + "/lti/launch", JWKS: s.baseURL + "/lti/jwks",
		DeepLinking: s.baseURL + "/lti/deep-linking"}
}

// onGateway reports whether a URL is under the gateway's base URL.
func (s *Service) onGateway(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || !strings.EqualFold(u.Scheme, s.base.Scheme) || !strings.EqualFold(u.Host, s.base.Host) {
		return false
	}
	p := strings.TrimRight(s.base.Path, "/")
	return p == "" || u.Path == p || strings.HasPrefix(u.Path, p+"/")
}

func (s *Service) adaptersList() []string {
	if s.adapters == nil {
		return nil
	}
	if a := s.adapters(); a != nil {
		return a
	}
	return []string{}
}
