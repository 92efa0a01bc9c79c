package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso/connector"
)

// Purposes of a login.
const (
	PurposeConsole = "console" // a console session
	PurposeEvent   = "event"   // an event site session
)

// Refusals of the login flow; each is a page saying what to do, and the
// detail goes to the log.
var (
	ErrUnknownConnection = problem.New(problem.NotFound, "sso_unknown_connection",
		"this organization sign-in is not set up here (it was removed, or the address is wrong); start again from your organization's sign-in page")
	ErrNoConnection = problem.New(problem.NotFound, "sso_no_connection",
		"no organization sign-in is set up for this email's domain; check the address, or sign in another way")
	ErrAmbiguousDomain = problem.New(problem.Conflict, "sso_ambiguous_domain",
		"several organizations here sign in people of this email's domain; use the sign-in link your organization gave you")
	ErrNotProvisioned = problem.New(problem.Forbidden, "sso_not_provisioned",
		"you signed in with your organization, but you are not a user here yet, and this sign-in does not add people by itself; ask your administrator to add you")
	ErrNoConsoleAccess = problem.New(problem.Forbidden, "sso_no_console_access",
		"you signed in with your organization, but you have no console access here; ask an account admin to add you as a console user")
	ErrNotSSOEvent = problem.New(problem.Conflict, "sso_event_not_sso",
		"this event does not sign people in through their organization; use the event page's own sign-in")
)

// StartInput is what starts a login: a connection, or an email whose
// domain picks one (home-realm discovery); what it is for; where to go
// after.
type StartInput struct {
	ConnectionID string
	Email        string
	// Purpose is PurposeConsole (default) or PurposeEvent with EventID (an
	// event's id or slug).
	Purpose    string
	EventID    string
	ReturnPath string
	// Browser is the value of the starting browser's login cookie (a
	// token.New value the caller keeps in an HttpOnly cookie): only an
	// answer that comes back with it finishes the login.
	Browser string
}

// Start begins a login: the connection is found, its connector says where
// to send the browser, and the login in flight is saved (its key hashed)
// for the provider's answer.
func (s *Service) Start(ctx context.Context, in StartInput) (*connector.Redirect, error) {
	purpose := strings.TrimSpace(in.Purpose)
	if purpose == "" {
		purpose = PurposeConsole
	}
	var ev *event.Event
	switch purpose {
	case PurposeConsole:
	case PurposeEvent:
		var err error
		if ev, err = s.ssoEvent(ctx, in.EventID); err != nil {
			return nil, err
		}
	default:
		return nil, problem.Field("purpose", `purpose must be "console" or "event"`)
	}
	account := ""
	if ev != nil {
		account = ev.AccountID
	}
	c, err := s.pick(ctx, account, in)
	if err != nil {
		return nil, err
	}
	conn, err := s.connector(ctx, c)
	if err != nil {
		return nil, err
	}
	key, _ := token.New()
	req := &connector.Request{Key: key, AccountID: c.AccountID, ConnectionID: c.ID, Purpose: purpose,
		ReturnPath: SafeReturn(in.ReturnPath, ""), Browser: in.Browser, ExpiresAt: s.Now().Add(s.ttl)}
	if ev != nil {
		req.EventID = ev.ID
	}
	rd, err := conn.Begin(ctx, req)
	if err != nil {
		s.failed(ctx, c, err)
		return nil, err
	}
	if err := s.Requests.Save(ctx, req); err != nil {
		return nil, err
	}
	return rd, nil
}

// ssoEvent is the event a login is for, which must sign in by SSO.
func (s *Service) ssoEvent(ctx context.Context, ref string) (*event.Event, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, problem.Field("event", "event is required for an event sign-in")
	}
	ev, err := event.ByIDOrSlug(ctx, s.db, ref)
	if problem.KindOf(err) == problem.NotFound {
		return nil, problem.Field("event", "there is no such event")
	}
	if err != nil {
		return nil, err
	}
	if ev.LoginMethod != event.LoginSSO {
		return nil, ErrNotSSOEvent
	}
	return ev, nil
}

// pick is the connection a login starts with.
func (s *Service) pick(ctx context.Context, account string, in StartInput) (*Connection, error) {
	if cid := strings.TrimSpace(in.ConnectionID); cid != "" {
		c, err := s.byID(ctx, cid)
		if err == nil && account != "" && c.AccountID != account {
			return nil, ErrUnknownConnection
		}
		return c, err
	}
	if strings.TrimSpace(in.Email) == "" {
		return nil, problem.Field("email", "type your work email address, so the gateway can find your organization's sign-in")
	}
	email, err := user.NormalizeEmail(in.Email)
	if err != nil {
		return nil, problem.Field("email", err.Error())
	}
	return s.byDomain(ctx, account, email)
}

// Result is a finished login: the session to put in the browser's cookie
// and where to send it.
type Result struct {
	Purpose string
	// Console is the console session (PurposeConsole).
	Console *session.Opened
	// Event is the event site session (PurposeEvent).
	Event *event.SignIn
	// ReturnPath is a relative path of this gateway.
	ReturnPath string
}

// Finish completes a login with the provider's answer to connection
// connID of type typ (the route's), arrived in the browser whose login
// cookie is browser: the login in flight its key names is consumed (and
// must have been started in that browser), the connector checks the
// answer, and the person is signed in. The connection records the
// outcome; a refusal's detail goes to the log.
func (s *Service) Finish(ctx context.Context, typ, connID string, r *http.Request, browser string) (*Result, error) {
	c, err := s.byID(ctx, connID)
	if err == nil && c.Type != typ {
		err = ErrUnknownConnection
	}
	if err != nil {
		s.log.WarnContext(ctx, "sso login refused", "sso_connection", connID, "code", codeOf(err), "detail", err.Error())
		return nil, err
	}
	res, err := s.finish(ctx, c, r, browser)
	if err != nil {
		s.failed(ctx, c, err)
		return nil, err
	}
	s.succeeded(ctx, c)
	return res, nil
}

func (s *Service) finish(ctx context.Context, c *Connection, r *http.Request, browser string) (*Result, error) {
	conn, err := s.connector(ctx, c)
	if err != nil {
		return nil, err
	}
	// A key of the form ours take is a login of ours, or a refusal (used,
	// expired, unknown). Anything else is not ours: an IdP-initiated
	// answer's RelayState is the IdP's, often a path to land on.
	var req *connector.Request
	key := conn.RequestKey(r)
	if token.WellFormed(key) {
		if req, err = s.Requests.Take(ctx, c.ID, key, browser); err != nil {
			return nil, err
		}
	}
	as, err := conn.Finish(ctx, req, r)
	if err != nil {
		return nil, err
	}
	if req == nil {
		// An answer no login of ours asked for, which the connector
		// accepted (IdP-initiated SAML, when the connection allows it):
		// a console sign-in, landing where its RelayState says when that
		// is a path of this gateway.
		req = &connector.Request{AccountID: c.AccountID, ConnectionID: c.ID, Purpose: PurposeConsole, ReturnPath: SafeReturn(key, "")}
	}
	in, groups, err := c.Mapping.Names(c.Type).Apply(as)
	if err != nil {
		return nil, err
	}
	in.AccountID = c.AccountID
	in.LinkByEmail = c.LinkByEmail && as.EmailVerified
	if in.Email, err = user.NormalizeEmail(in.Email); err != nil {
		return nil, ErrNoEmail
	}
	if err := s.mayLogin(ctx, c, in); err != nil {
		return nil, err
	}
	if req.Purpose == PurposeEvent {
		return s.eventLogin(ctx, c, req, in, groups)
	}
	return s.consoleLogin(ctx, c, req, in, groups)
}

// mayLogin applies the account's domain policy and, for a connection that
// provisions no one, refuses a person the account does not know.
func (s *Service) mayLogin(ctx context.Context, c *Connection, in user.Identity) error {
	p, err := access.LoadPolicy(ctx, s.db, c.AccountID)
	if err != nil {
		return err
	}
	if err := p.Check(in.Email); err != nil {
		return err
	}
	if c.JIT {
		return nil
	}
	_, err = user.OfIdentity(ctx, s.db, c.AccountID, in.Issuer, in.Subject)
	if errors.Is(err, problem.ErrNotFound) {
		_, err = user.ByEmail(ctx, s.db, c.AccountID, in.Email)
	}
	if errors.Is(err, problem.ErrNotFound) {
		return fmt.Errorf("%w: the person is not a user of the account and the connection does not provision people", ErrNotProvisioned)
	}
	return err
}

// consoleLogin signs the person in to the console, in one transaction:
// the user resolved from the identity and following the provider's names,
// a console role (given by a provisioning connection, else required), the
// asserted groups, the session.
func (s *Service) consoleLogin(ctx context.Context, c *Connection, req *connector.Request, in user.Identity, groups []string) (*Result, error) {
	res := &Result{Purpose: PurposeConsole, ReturnPath: SafeReturn(req.ReturnPath, "/console")}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		u, err := user.Resolve(tx, in)
		if err != nil {
			return err
		}
		if _, err := user.Follow(tx, u, in); err != nil {
			return err
		}
		me := audit.Actor{Kind: audit.ActorUser, ID: u.ID}
		if u.ConsoleRole == "" {
			if !c.JIT {
				return fmt.Errorf("%w: the user has no console role and the connection does not provision people", ErrNoConsoleAccess)
			}
			if _, err := user.GiveConsoleRole(tx, u, user.RoleMember); err != nil {
				return err
			}
			if err := audit.Record(tx, c.AccountID, me, "user.console_added", "user", u.ID,
				map[string]any{"console_role": user.RoleMember, "sso_connection": c.ID}); err != nil {
				return err
			}
		}
		if err := group.RecordLogin(tx, c.AccountID, c.ID, u.Email, u.Name(), groups); err != nil {
			return err
		}
		o, err := s.sessions.Open(tx, c.AccountID, u.ID, session.How{Method: session.MethodConsoleSSO, Scope: session.ScopeConsole})
		if err != nil {
			return err
		}
		res.Console = o
		return audit.Record(tx, c.AccountID, me, "user.signed_in", "user", u.ID,
			map[string]any{"method": session.MethodConsoleSSO, "sso_connection": c.ID, "groups": len(groups)})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// eventLogin signs the person in to the event's site. The groups are
// recorded first, so a closed event's group grants see this login's
// groups; the event's own sign-in (core/event) then resolves the person,
// decides their place and opens the site session in its transaction.
func (s *Service) eventLogin(ctx context.Context, c *Connection, req *connector.Request, in user.Identity, groups []string) (*Result, error) {
	ev, err := s.ssoEvent(ctx, req.EventID)
	if err != nil {
		return nil, err
	}
	if ev.AccountID != c.AccountID {
		return nil, fmt.Errorf("%w: event %s is not of the connection's account", ErrUnknownConnection, ev.ID)
	}
	// The person's groups and the provider's names are recorded in the
	// sign-in's own transaction: the event's decision (a closed event's
	// grants) reads them, and a refused sign-in leaves none of it behind.
	record := func(tx *store.Tx) error {
		u, err := user.OfIdentity(tx.Context(), tx, c.AccountID, in.Issuer, in.Subject)
		if err == nil {
			if _, err := user.Follow(tx, u, in); err != nil {
				return err
			}
		} else if !errors.Is(err, problem.ErrNotFound) {
			return err
		}
		return group.RecordLogin(tx, c.AccountID, c.ID, in.Email, strings.TrimSpace(in.FirstName+" "+in.LastName), groups)
	}
	signIn, err := s.events.SignInSSO(ctx, ev.ID, in, record)
	if err != nil {
		return nil, err
	}
	return &Result{Purpose: PurposeEvent, Event: signIn, ReturnPath: SafeReturn(req.ReturnPath, "/e/"+ev.Slug)}, nil
}

// SafeReturn is p when it is a path of this gateway ("/..."), else def:
// never another site ("//host", "/\host", "https://..."), never a control
// character a browser would drop to make one.
func SafeReturn(p, def string) string {
	if p == "" || len(p) > 1024 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return def
	}
	for _, r := range p {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return def
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return def
	}
	return p
}

// codeOf is err's refusal code, or "internal".
func codeOf(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	return "internal"
}

// reasonOf is what the connection's last failure shows the admin: the
// refusal's code and the detail behind it, short. Details name no person
// (the refusals above carry none), so the connection holds no personal
// data.
func reasonOf(err error) string {
	p, ok := problem.As(err)
	if !ok {
		return "internal: the gateway could not complete the sign-in (see the log)"
	}
	r := p.Code
	if d, found := strings.CutPrefix(err.Error(), p.Message); found {
		if d = strings.TrimPrefix(d, ": "); d != "" {
			r += ": " + d
		}
	}
	return clip(r, 255)
}

// failed records a refused login on the connection and logs its detail
// for the admin (never a token or an assertion: connectors put neither in
// their errors).
func (s *Service) failed(ctx context.Context, c *Connection, err error) {
	level := "refused"
	if !connector.IsRefusal(err) && problem.KindOf(err) == 0 {
		level = "failed"
	}
	s.log.WarnContext(ctx, "sso login "+level, "sso_connection", c.ID, "account", c.AccountID, "code", codeOf(err), "detail", err.Error())
	s.recordFailure(ctx, c.ID, reasonOf(err))
}

// loginRecordEvery is how stale a connection's last successful login may
// show: a login within it of the recorded one writes nothing, so a burst
// of logins (the start of an event) is not also a burst of writes to the
// connection's row.
const loginRecordEvery = 30 * time.Second

// succeeded records a successful login on the connection (c as read at
// the start of this login).
func (s *Service) succeeded(ctx context.Context, c *Connection) {
	if c.LastLoginAt != nil && s.Now().Sub(*c.LastLoginAt) < loginRecordEvery {
		return
	}
	if e := s.db.W.WithContext(context.WithoutCancel(ctx)).Model(&Connection{}).Where("id = ?", c.ID).
		UpdateColumn("last_login_at", s.Now()).Error; e != nil {
		s.log.ErrorContext(ctx, "sso: record a login", "sso_connection", c.ID, "error", e.Error())
	}
}
