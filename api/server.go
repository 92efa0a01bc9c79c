// Package api is the gateway's HTTP surface: the JSON API under /api/v1, the
// invitee pages (/i, /l), the console, the demo room, and the operational
// endpoints. Handlers translate between HTTP and core; core decides.
package api

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/limit"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/provision"
	"github.com/invitegate/gateway/core/resend"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/webhook"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/sso"
)

// Config is everything the HTTP layer needs; cmd/gateway/app builds it,
// every service and clock set and the limits already validated (its
// Config.Validate), so New fills in nothing but a metrics registry.
type Config struct {
	// BaseURL is the public URL people reach the gateway at; links and the
	// join token issuer are built from it.
	BaseURL string
	DB      *store.DB
	Logger  *slog.Logger
	Signer  *jointoken.Signer
	Invites *invite.Service
	// Events owns virtual events and their attendees.
	Events *event.Service
	// Bulk checks and imports CSV files of attendees; its jobs run on the job runner cmd/gateway/app starts.
	Bulk *bulk.Service
	// Resend queues bulk resends to a filtered All users list, run by
	// the same job runner.
	Resend *resend.Service
	// Mail renders templates and queues email; without SMTP it still
	// renders (previews) and refuses to send, saying so.
	Mail *mail.Service
	// Sessions signs people in.
	Sessions *session.Service
	// SSO manages identity provider connections and runs SSO logins.
	SSO *sso.Service
	// Rooms gives join URLs for resources hosted by a room adapter plugin
	// (resources without an adapter use the built-in demo room); a
	// resource whose adapter is not configured is refused by it.
	Rooms JoinURLs
	// Platform is the room side of resources hosted by room adapters:
	// linking a platform's resource, its roster in the invite dialog's
	// autocomplete.
	Platform resource.Platform
	// Plugins reports plugin status for the admin surface.
	Plugins PluginStatus
	// GroupSources are the group source plugins, which admins see and run
	// (Directory sync).
	GroupSources GroupSources
	// LTI is the LTI 1.3 tool: its routes are mounted when it is set.
	LTI *lti.Service
	// Provision holds what identity providers push by SCIM (/scim/v2).
	Provision *provision.Service
	// Webhooks manages the account's webhook endpoints.
	Webhooks *webhook.Service
	// Now is the clock.
	Now func() time.Time
	// Registry receives the gateway's metrics; a new one when nil.
	Registry *prometheus.Registry
	// GuessesPerMinute bounds wrong lobby emails per client (its IP as
	// TrustedProxies tell it) in a minute; replicas on PostgreSQL share the
	// counts.
	GuessesPerMinute int
	// SiteFormsPerMinute bounds event site registrations and sign-in link
	// requests per client.
	SiteFormsPerMinute int
	// UnknownLinks bounds, per client (its IP as TrustedProxies tell it),
	// the answers "this link does not exist" on the routes that take a
	// link's token (/i, /l, /e/{slug}/confirm), counted together: past Max
	// within Window the client gets 429 on all of them until the window
	// ends. Replicas on PostgreSQL share the counts.
	UnknownLinks limit.Rule
	// TrustedProxies are the proxy addresses whose X-Forwarded-For is believed.
	TrustedProxies []string
}

// JoinURLs is the room side of resources hosted elsewhere than the demo room.
type JoinURLs interface {
	// JoinURL returns where a person enters the resource (one its Adapter
	// hosts); the gateway adds the signed join token as the "jt" query
	// parameter.
	JoinURL(ctx context.Context, res *resource.Resource, who Entrant) (string, error)
}

// Entrant is the person entering a resource.
type Entrant struct {
	UserID, Email, Name, Role string
}

// PluginStatus lists plugins for the admin API and console.
type PluginStatus interface {
	PluginStatuses(ctx context.Context) ([]PluginRow, error)
}

// PluginRow is one configured plugin as an admin sees it.
type PluginRow struct {
	Name      string     `json:"name"`
	Kind      string     `json:"kind"`
	State     string     `json:"state"`
	Version   string     `json:"version,omitempty"`
	Restarts  int        `json:"restarts"`
	LastRun   *time.Time `json:"last_run,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// Server is the gateway's HTTP handler.
type Server struct {
	cfg     Config
	base    *url.URL
	baseURL string // base, as URL prefixes it
	secure  bool
	log     *slog.Logger
	engine  *gin.Engine
	handler http.Handler
	pages   map[string]*template.Template
	metrics *metrics
	// guesses counts, per client, wrong emails typed in a lobby; replicas
	// on PostgreSQL share the counts.
	guesses *limit.Counter
	// siteForms bounds, per client, the event site's forms that create a
	// person or send an email (register, sign-in link).
	siteForms *limiter
	// unknownLinks counts, per client, answers that a link does not exist.
	unknownLinks *limit.Counter
	// scimAPI is the SCIM service provider under /scim.
	scimAPI http.Handler
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, errors.New("base URL must be an absolute http(s) URL")
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if cfg.DB == nil || cfg.Invites == nil || cfg.Events == nil || cfg.Bulk == nil || cfg.Mail == nil || cfg.Sessions == nil ||
		cfg.Signer == nil || cfg.Rooms == nil || cfg.Platform == nil || cfg.Plugins == nil || cfg.SSO == nil || cfg.Logger == nil || cfg.Now == nil {
		return nil, errors.New("api: DB, Invites, Events, Bulk, Mail, Sessions, Signer, Rooms, Platform, Plugins, SSO, Logger and Now are required")
	}
	if cfg.GroupSources == nil {
		return nil, errors.New("api: GroupSources is required")
	}
	if cfg.Resend == nil {
		return nil, errors.New("api: Resend is required")
	}
	pages, err := loadPages()
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		cfg: cfg, base: base, baseURL: base.String(), secure: base.Scheme == "https", log: cfg.Logger,
		pages: pages, metrics: newMetrics(cfg.Registry),
		guesses:      limit.New(cfg.DB, limit.Config{Scope: guessScope, Rule: limit.Rule{Max: cfg.GuessesPerMinute, Window: time.Minute}, Now: cfg.Now}),
		siteForms:    newLimiter(cfg.Now, float64(cfg.SiteFormsPerMinute)/60, cfg.SiteFormsPerMinute),
		unknownLinks: limit.New(cfg.DB, limit.Config{Scope: unknownLinkScope, Rule: cfg.UnknownLinks, Now: cfg.Now}),
	}
	if s.scimAPI, err = s.newSCIM(); err != nil {
		return nil, err
	}
	e := gin.New()
	e.ContextWithFallback = true
	e.HandleMethodNotAllowed = true
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	e.Use(s.requestID, s.accessLog, s.recover, securityHeaders, s.checkInput)
	e.NoRoute(func(c *gin.Context) { s.fail(c, errNoRoute) })
	e.NoMethod(func(c *gin.Context) { s.fail(c, errNoMethod) })
	s.engine = e
	s.routes(cfg.Registry)
	// Cross-origin protection for every state-changing request made by a
	// browser (console forms, invite buttons): a request another site makes
	// the browser send is refused. Programs with API keys send no Origin or
	// Sec-Fetch-Site and pass.
	cop := http.NewCrossOriginProtection()
	// An LMS starts the tool's login and posts its launch from its own
	// site: those two are cross-site by design, and are protected by the
	// state and nonce the login stores and the launch consumes.
	cop.AddInsecureBypassPattern("POST /lti/login")
	cop.AddInsecureBypassPattern("POST /lti/launch")
	for _, route := range ssoAnswerRoutes {
		cop.AddInsecureBypassPattern(route)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"code":"cross_origin","message":"cross-origin request refused: submit forms from the gateway's own pages"}}`))
	}))
	s.handler = cop.Handler(e)
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// URL builds an absolute URL under the base URL.
func (s *Server) URL(path string) string { return s.baseURL + path }

// InviteURL is the link an invitee opens.
func (s *Server) InviteURL(token string) string { return s.URL("/i/" + token) }

// LoginURL is a console sign-in link.
func (s *Server) LoginURL(token string) string { return s.URL("/l/" + token) }

func (s *Server) routes(reg *prometheus.Registry) {
	e := s.engine
	e.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/console") })
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	e.GET("/.well-known/jwks.json", s.jwks)
	e.GET("/openapi.json", s.openapi)
	e.GET("/static/*file", s.static)
	e.GET("/media/images/:ref", s.mediaImage)

	inv := e.Group("/i/:token", noStore, s.linkLimit(s.fail))
	inv.GET("", s.invitePage)
	inv.HEAD("", s.invitePage)
	inv.POST("", s.inviteEnter)
	inv.POST("/opened", s.inviteOpened)

	login := e.Group("/l/:token", noStore, s.linkLimit(s.fail))
	login.GET("", s.loginPage)
	login.HEAD("", s.loginPage)
	login.POST("", s.loginEnter)
	login.POST("/opened", s.loginOpened)

	s.eventSiteRoutes(e)
	s.ssoRoutes(e)

	e.GET("/demo/rooms/:id", noStore, s.demoRoom)
	e.GET("/demo/rooms/:id/presence", noStore, s.demoPresence)

	con := e.Group("/console", noStore, s.consoleAuth)
	con.GET("", s.consoleHome)
	con.GET("/resources/:id", s.consoleResource)
	con.GET("/settings", s.consoleSettings)
	con.GET("/users", s.consoleUsers)
	con.GET("/sso", s.consoleSSO)
	con.GET("/plugins", s.consolePlugins)
	con.GET("/email", s.consoleEmail)
	con.GET("/email/preview/:name", s.consoleEmailPreview)
	s.consoleEventRoutes(con)
	s.consoleBulkRoutes(con)
	s.consoleAccessRoutes(con)
	s.consoleGroupSourceRoutes(con)
	e.POST("/console/signout", s.signOut)

	v1 := e.Group("/api/v1", noStore, s.apiAuth)
	v1.GET("/me", s.me)
	v1.GET("/resources", s.listResources)
	v1.POST("/resources", s.createResource)
	v1.POST("/resources/link", s.linkResource)
	v1.GET("/resources/:id", s.getResource)
	v1.PATCH("/resources/:id", s.updateResource)
	v1.DELETE("/resources/:id", s.deleteResource)
	v1.GET("/resources/:id/collaborators", s.listCollaborators)
	v1.PUT("/resources/:id/collaborators/:user", s.setCollaborator)
	v1.GET("/resources/:id/invitations", s.listInvitations)
	v1.POST("/resources/:id/invitations", s.createInvitation)
	v1.GET("/resources/:id/invitations/:inv", s.getInvitation)
	v1.DELETE("/resources/:id/invitations/:inv", s.removeInvitation)
	v1.POST("/resources/:id/invitations/:inv/resend", s.resendInvitation)
	v1.GET("/settings/invitations", s.getSettings)
	v1.PUT("/settings/invitations", s.adminOnly, s.putSettings)
	v1.GET("/users", s.searchUsers)
	v1.POST("/users", s.adminOnly, s.addConsoleUser)
	v1.POST("/users/:id/login-links", s.adminOnly, s.issueLoginLink)
	v1.DELETE("/users/:id", s.adminOnly, s.eraseUser)
	v1.GET("/audit", s.adminOnly, s.listAudit)
	v1.GET("/plugins", s.adminOnly, s.listPlugins)
	v1.GET("/mail/templates", s.adminOnly, s.listMailTemplates)
	v1.POST("/mail/templates/:name/preview", s.adminOnly, s.previewMailTemplate)
	v1.POST("/mail/templates/:name/test", s.adminOnly, s.sendTestMail)
	v1.GET("/mail/messages", s.adminOnly, s.listMailMessages)
	v1.GET("/mail/messages/:msg", s.adminOnly, s.getMailMessage)
	s.eventRoutes(v1)
	s.bulkRoutes(v1)
	s.accessRoutes(v1)
	s.groupSourceRoutes(v1)
	s.ltiRoutes(e)
	s.ltiConsoleRoutes(con)
	s.ltiAPIRoutes(v1)
	s.ltiRegisterRoutes(e)
	s.ltiRegistrationAPIRoutes(v1)
	s.ssoAPIRoutes(v1)
	s.scimRoutes(e)
	s.scimAPIRoutes(v1)
	s.scimConsoleRoutes(con)
	s.webhookRoutes(v1)
	s.consoleWebhookRoutes(con)
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.DB.Ping(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "database not reachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (s *Server) jwks(c *gin.Context) {
	set, err := s.cfg.Signer.JWKS(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, set)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}
