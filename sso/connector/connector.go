// Package connector is the contract between the gateway's SSO login flow
// (package sso) and each identity-provider protocol (sso/saml, sso/oidc):
// a connector sends the browser to its provider and turns what comes back
// into a checked Assertion. It knows nothing of users, sessions or events;
// package sso maps an Assertion to an identity and signs the person in.
//
// Adding a protocol is one package with a Config and a Connector, and one
// line in sso's registry.
package connector

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/invitegate/gateway/core/problem"
)

// Config is one connection's protocol settings as stored (JSON) and
// edited through the API. Secrets (an OIDC client secret, a SAML SP
// private key) are part of it but never leave the gateway: Public is what
// the API shows.
type Config interface {
	// Validate reports every mistake at once, fields named "config.<json
	// name>" (problem.Fields).
	Validate() error
	// Open builds the connector. It may read the network (OIDC discovery),
	// through env.HTTPClient and bounded by ctx.
	Open(ctx context.Context, env Env) (Connector, error)
	// Public is the config as the API returns it: secrets left out, with a
	// flag saying each one is set.
	Public() any
	// KeepSecrets fills the secrets left empty in an update from the
	// stored config, so an admin can edit a connection without pasting
	// its secret again.
	KeepSecrets(stored Config)
}

// Preparer is a Config that makes part of itself (a SAML SP key pair)
// the first time it is stored: sso calls Prepare once on create, after
// Validate, so the stored config holds what was made.
type Preparer interface {
	Prepare(now time.Time) error
}

// Refresher is a Config whose provider details are fetched from a URL
// (SAML IdP metadata): Refresh returns the config with the fetched
// details, or an error that leaves the stored (last good) copy in use.
type Refresher interface {
	Refresh(ctx context.Context, client *http.Client) (Config, error)
}

// KeyRotator is a Config holding keys of its own (the SAML SP key pair):
// RotateKey takes one step of a rollover and says what it did.
type KeyRotator interface {
	RotateKey(now time.Time) (Config, string, error)
}

// Env is what a connector gets from the gateway.
type Env struct {
	AccountID    string
	ConnectionID string
	// BaseURL is the gateway's public URL without a trailing slash; the
	// connector's own URLs are BaseURL + "/sso/<type>/<connection id>/...".
	BaseURL string
	// Now is the clock every time check reads.
	Now func() time.Time
	// ClockSkew is how far the provider's clock may be from ours.
	ClockSkew time.Duration
	// HTTPClient is for calls to the provider (discovery, keys, token,
	// userinfo, metadata), with the gateway's timeouts.
	HTTPClient *http.Client
	// Replay remembers assertion ids until they expire, across replicas.
	Replay Replay
	// Claims are the claim or attribute names the connection's mapping
	// reads: an OIDC connector asks userinfo when the id token lacks one.
	Claims []string
	Logger *slog.Logger
}

// Replay is the database's memory of assertions already used.
type Replay interface {
	// Once records id for the connection until until, and fails with
	// ErrReplayed when it was recorded before (by any replica).
	Once(ctx context.Context, connectionID, id string, until time.Time) error
}

// Request is one login in flight, kept server-side from Begin to Finish
// and consumed once: package sso makes it (Key, purpose, return path),
// the connector adds what its protocol needs to check the answer.
type Request struct {
	// Key is the random value the browser carries to the provider and
	// back (OIDC state, SAML RelayState). Stored hashed.
	Key          string
	AccountID    string
	ConnectionID string
	// Purpose is "console" or "event"; EventID names the event.
	Purpose string
	EventID string
	// ReturnPath is where the person goes after signing in: always a
	// relative path of this gateway.
	ReturnPath string
	// Browser is the value of a cookie of the browser that started the
	// login; stored hashed, the answer is taken only from that browser,
	// so nobody can finish a login of theirs in someone else's browser
	// (login CSRF).
	Browser string
	// OIDC: the nonce the id token must carry and the PKCE verifier.
	Nonce        string
	CodeVerifier string
	// SAML: the AuthnRequest id the response must answer (InResponseTo).
	AuthnRequestID string
	ExpiresAt      time.Time
}

// Redirect is how the browser is sent to the provider: a GET of URL
// (OIDC, SAML HTTP-Redirect binding), or, with Form set, a POST of Form's
// fields to URL (SAML HTTP-POST binding).
type Redirect struct {
	URL  string
	Form map[string]string
}

// Assertion is what the provider said about the person, checked.
type Assertion struct {
	// Issuer is the provider's entity id or issuer URL; Subject its stable
	// id of the person (SAML NameID, OIDC sub).
	Issuer, Subject string
	// Attributes are the SAML attributes or OIDC claims, by name, each as
	// strings (a boolean claim is "true"/"false").
	Attributes map[string][]string
	// EmailVerified says the provider vouches for the email attribute
	// (OIDC email_verified; SAML: the IdP's directory is the source).
	EmailVerified bool
	// Expires is when the assertion stops being valid.
	Expires time.Time
}

// Connector talks to one identity provider.
type Connector interface {
	// Begin fills in req what the protocol needs (nonce, verifier,
	// request id) and says where to send the browser.
	Begin(ctx context.Context, req *Request) (*Redirect, error)
	// RequestKey is the Request key in the provider's answer (OIDC state,
	// SAML RelayState); "" when it carries none.
	RequestKey(r *http.Request) string
	// Finish checks the provider's answer to req and returns the
	// assertion. req is nil for an answer no login of ours asked for
	// (IdP-initiated SAML), which the connector refuses unless its
	// connection allows it.
	Finish(ctx context.Context, req *Request, r *http.Request) (*Assertion, error)
}

// Metadater is a connector that publishes metadata (SAML SP metadata).
type Metadater interface {
	Metadata(ctx context.Context) ([]byte, error)
}

// Refusals a connector returns; each is a page that says what went wrong.
// Wrap them with the detail for the log (fmt.Errorf("%w: ...", Err...));
// the person sees only the message.
var (
	ErrProvider = problem.New(problem.Unauthorized, "sso_provider_error",
		"your organization's sign-in service refused or failed this sign-in; try again, and tell your administrator if it keeps happening")
	ErrInvalidResponse = problem.New(problem.Unauthorized, "sso_invalid_response",
		"the answer from your organization's sign-in service could not be verified; start the sign-in again")
	ErrExpired = problem.New(problem.Unauthorized, "sso_expired",
		"this sign-in took too long or its answer has expired; start the sign-in again")
	ErrReplayed = problem.New(problem.Unauthorized, "sso_replayed",
		"this sign-in answer was already used; start the sign-in again")
	ErrUnsolicited = problem.New(problem.Unauthorized, "sso_unsolicited",
		"this sign-in was not started here; start it from the gateway's sign-in page")
)

// IsRefusal reports whether err is one of the refusals above (as opposed
// to a fault of the gateway).
func IsRefusal(err error) bool {
	for _, r := range []error{ErrProvider, ErrInvalidResponse, ErrExpired, ErrReplayed, ErrUnsolicited} {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}
