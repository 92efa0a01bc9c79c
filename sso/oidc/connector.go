package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/invitegate/gateway/sso/connector"
)

// Connector is one opened OIDC connection: the provider's endpoints from
// discovery, its keys (fetched once, again only when a token names a key
// not seen yet) and the checks an id token must pass. Safe for concurrent
// use.
type Connector struct {
	cfg      Config
	issuer   string
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider
	client   *http.Client
	// claims are the names the connection's mapping reads; in "auto" mode
	// userinfo is asked when the id token lacks one.
	claims []string
	algs   []string
	now    func() time.Time
}

var _ connector.Connector = (*Connector)(nil)

// defaultHTTPClient is for an Env without a client: a provider that does
// not answer must not hold a sign-in forever.
func defaultHTTPClient() *http.Client { return &http.Client{Timeout: 15 * time.Second} }

// Open discovers the provider (its discovery document must name exactly
// the configured issuer) and builds the verifier. A provider that cannot
// be reached or misdescribes itself is a refusal (ErrProvider) with the
// detail, so the person sees a page and the admin the reason.
func (c *Config) Open(ctx context.Context, env connector.Env) (connector.Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	client := env.HTTPClient
	if client == nil {
		client = defaultHTTPClient()
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	ctx = gooidc.ClientContext(ctx, client)
	provider, err := gooidc.NewProvider(ctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %v", connector.ErrProvider, c.Issuer, err)
	}
	var meta struct {
		JWKSURI     string   `json:"jwks_uri"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %v", connector.ErrProvider, c.Issuer, err)
	}
	ep := provider.Endpoint()
	if ep.AuthURL == "" || ep.TokenURL == "" || meta.JWKSURI == "" {
		return nil, fmt.Errorf("%w: discovery of %s names no authorization_endpoint, token_endpoint or jwks_uri", connector.ErrProvider, c.Issuer)
	}
	if c.userInfoMode() == UserInfoAlways && provider.UserInfoEndpoint() == "" {
		return nil, fmt.Errorf("%w: the connection asks userinfo always, but %s publishes no userinfo_endpoint", connector.ErrProvider, c.Issuer)
	}
	ep.AuthStyle = authStyle(meta.AuthMethods)

	keys := &keySet{remote: gooidc.NewRemoteKeySet(ctx, meta.JWKSURI)}
	if slices.Contains(c.algs(), "HS256") {
		keys.secret = []byte(c.ClientSecret)
	}
	verifier := gooidc.NewVerifier(c.Issuer, keys, &gooidc.Config{
		ClientID:             c.ClientID,
		SupportedSigningAlgs: c.algs(),
		// go-oidc compares exp with Now and has no leeway of its own:
		// reading the clock ClockSkew early accepts a token that expired
		// up to ClockSkew ago by our clock (nbf keeps go-oidc's own five
		// minutes, plus the skew).
		Now: func() time.Time { return now().Add(-env.ClockSkew) },
	})
	return &Connector{
		cfg:    *c,
		issuer: c.Issuer,
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: ep,
			RedirectURL: RedirectURI(env.BaseURL, env.ConnectionID),
			Scopes:      c.scopes(),
		},
		verifier: verifier,
		provider: provider,
		client:   client,
		claims:   slices.Clone(env.Claims),
		algs:     c.algs(),
		now:      now,
	}, nil
}

// RedirectURI is where the provider sends the browser back: the URI to
// register with the provider for the connection.
func RedirectURI(baseURL, connectionID string) string {
	return baseURL + "/sso/oidc/" + connectionID + "/callback"
}

// authStyle picks how the client secret goes to the token endpoint from
// what discovery says the provider takes (the basic header when it takes
// it or says nothing, as RFC 6749 has every server accept it), so no code
// is spent on a first attempt the provider refuses.
func authStyle(methods []string) oauth2.AuthStyle {
	if len(methods) > 0 && !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// Begin makes the nonce and the PKCE verifier (kept in req, server-side)
// and sends the browser to the provider with state = req.Key.
func (c *Connector) Begin(ctx context.Context, req *connector.Request) (*connector.Redirect, error) {
	if req == nil || req.Key == "" {
		return nil, errors.New("oidc: a login request needs a key (the state)")
	}
	nonce, err := randomString()
	if err != nil {
		return nil, err
	}
	req.Nonce = nonce
	req.CodeVerifier = oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(req.CodeVerifier)}
	names := make([]string, 0, len(c.cfg.AuthParams))
	for name := range c.cfg.AuthParams {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		opts = append(opts, oauth2.SetAuthURLParam(name, c.cfg.AuthParams[name]))
	}
	return &connector.Redirect{URL: c.oauth.AuthCodeURL(req.Key, opts...)}, nil
}

// RequestKey is the state the provider sent back.
func (c *Connector) RequestKey(r *http.Request) string { return param(r, "state") }

// param reads a callback parameter from the query, or from the form when
// the provider posts its answer.
func param(r *http.Request, name string) string {
	if v := r.URL.Query().Get(name); v != "" {
		return v
	}
	if r.Method == http.MethodPost {
		return r.PostFormValue(name)
	}
	return ""
}

// randomString is 32 bytes from crypto/rand, base64url.
func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
