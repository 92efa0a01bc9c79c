package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/lti"
)

// The LTI tool's pages: the login initiation and the launch the platform
// sends the browser to, the tool's key set, and the room page inside the
// LMS. lti/ decides; these handlers translate.

// ltiSessionCookie holds the session a launch opened; it is sent to the
// room pages inside the LMS only.
const ltiSessionCookie = "ig_lti_session"

var errLTISession = problem.New(problem.Unauthorized, "lti_session_missing",
	"this page opens from the course in the LMS: open the tool again there. If it keeps coming back, the browser may block the tool's cookies inside the LMS page; allow them for this site, or open the tool in a new window")

func (s *Server) ltiRoutes(e *gin.Engine) {
	if s.cfg.LTI == nil {
		return
	}
	l := e.Group("/lti", noStore)
	l.GET("/login", s.ltiLogin)
	l.POST("/login", s.ltiLogin)
	l.POST("/launch", s.ltiLaunch)
	l.POST("/launch/storage", s.ltiLaunchStored)
	l.POST("/window", s.ltiWindow)
	l.GET("/jwks", s.ltiJWKS)
	l.POST("/deep-linking", s.ltiDeepLinkPick)
	room := l.Group("/rooms/:id", s.ltiAuth)
	room.GET("", s.ltiRoom)
	room.POST("/invitations", s.createInvitation)
	room.GET("/people", s.ltiPeople)
	room.POST("/join", s.ltiJoin)
}

// ltiFail shows a refusal of the login or launch as its page. The page
// may show inside the LMS's frame of any platform: it holds nothing to
// click and nothing of anyone.
func (s *Server) ltiFail(c *gin.Context, err error) {
	frameAncestors(c, nil)
	if _, ok := problem.As(err); !ok || wantsJSON(c) {
		s.fail(c, err)
		return
	}
	b := describe(c, err)
	s.render(c, statusOf(err), "lti_error", pageData{Title: "This launch was refused", Error: &b, Me: &principal{}})
	c.Abort()
}

// frameAncestors lets the page show in frames of the origins (any, when
// nil), instead of nowhere as every other page.
func frameAncestors(c *gin.Context, origins []string) {
	fa := "*"
	if origins != nil {
		fa = strings.Join(origins, " ")
		if fa == "" {
			fa = "'none'"
		}
	}
	h := c.Writer.Header()
	h.Del("X-Frame-Options")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors "+fa+"; base-uri 'none'")
}

// ltiCookie sets a cookie of the tool's pages: SameSite=None (and Secure)
// over https, so the browser sends it inside the LMS's frame and with
// the platform's cross-site form post; Lax over plain http, where
// browsers refuse SameSite=None. Over https it is also Partitioned
// (CHIPS): a browser that blocks third-party cookies still keeps it, in a
// jar of the LMS's site, which is where the frame sets and reads it.
func (s *Server) ltiCookie(c *gin.Context, name, value, path string, maxAge int) {
	ck := &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
	if s.secure {
		ck.SameSite, ck.Partitioned = http.SameSiteNoneMode, true
	}
	http.SetCookie(c.Writer, ck)
}

func (s *Server) ltiLogin(c *gin.Context) {
	param := func(k string) string {
		if c.Request.Method == http.MethodPost {
			return c.PostForm(k)
		}
		return c.Query(k)
	}
	lg, err := s.cfg.LTI.Login(c.Request.Context(), lti.LoginRequest{
		Issuer: param("iss"), LoginHint: param("login_hint"), TargetLinkURI: param("target_link_uri"),
		LTIMessageHint: param("lti_message_hint"), ClientID: param("client_id"), DeploymentID: param("lti_deployment_id"),
		StorageTarget: param("lti_storage_target"),
	})
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	if lg.Storage != nil {
		s.ltiStoragePut(c, lg)
		return
	}
	s.ltiCookie(c, lti.StateCookie(lg.State), lg.State, "/lti/launch", int(s.cfg.LTI.StateTTL().Seconds()))
	c.Redirect(http.StatusSeeOther, lg.Redirect)
}

func (s *Server) ltiLaunch(c *gin.Context) {
	state := c.PostForm("state")
	req := lti.LaunchRequest{IDToken: c.PostForm("id_token"), State: state}
	probe := s.ltiStateCookies(c, state, &req)
	if req.StateCookie == "" {
		// No cookie binds this launch: the login may have kept its state
		// in the platform's storage, which the launch page gets back.
		st, err := s.cfg.LTI.LoginStorage(c.Request.Context(), state)
		if err != nil {
			s.ltiFail(c, err)
			return
		}
		if st != nil {
			s.ltiStorageGet(c, st, req.IDToken, state)
			return
		}
	}
	if req.StateCookie != "" || probe {
		s.ltiDropStateCookie(c, state)
	}
	s.ltiEnter(c, req, req.StateCookie != "" || probe)
}

// ltiStateCookies reads the state cookies a launch came with into req; it
// reports whether the browser sent the cookie a storage login sets to
// learn whether cookies hold in the frame.
func (s *Server) ltiStateCookies(c *gin.Context, state string, req *lti.LaunchRequest) (probe bool) {
	for _, ck := range c.Request.Cookies() {
		switch {
		case state != "" && ck.Name == lti.StateCookie(state) && ck.Value == ltiStorageProbe:
			probe = true
		case state != "" && ck.Name == lti.StateCookie(state):
			req.StateCookie = ck.Value
		case lti.IsStateCookie(ck.Name):
			req.OtherStateCookies = true
		}
	}
	return probe
}

// ltiDropStateCookie deletes the state's cookie once the launch goes on.
func (s *Server) ltiDropStateCookie(c *gin.Context, state string) {
	s.ltiCookie(c, lti.StateCookie(state), "", "/lti/launch", -1)
}

// ltiEnter validates the launch, brings the launcher into the room and
// signs them in: with the session cookie and the room page, or, where the
// frame keeps no cookies of the tool (over https no cookie of the login
// came back), with the page that opens the room in a window of its own.
func (s *Server) ltiEnter(c *gin.Context, req lti.LaunchRequest, cookiesHold bool) {
	ctx := c.Request.Context()
	l, err := s.cfg.LTI.Launch(ctx, req)
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	if l.Claims.MessageType == lti.MessageDeepLinking {
		s.ltiDeepLinkPicker(c, l)
		return
	}
	in, err := s.cfg.LTI.Enter(ctx, l)
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	if s.secure && !cookiesHold {
		s.ltiOpenWindow(c, in)
		return
	}
	ss := in.Session.Session
	s.ltiCookie(c, ltiSessionCookie, in.Session.Token, "/lti/rooms/"+in.Resource.ID, int(ss.ExpiresAt.Sub(ss.CreatedAt).Seconds()))
	c.Redirect(http.StatusSeeOther, "/lti/rooms/"+in.Resource.ID)
}

func (s *Server) ltiJWKS(c *gin.Context) {
	set, err := s.cfg.LTI.Keys.JWKS(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, set)
}

// ltiAuth signs the room pages in with the session a launch opened on
// that room, and lets them show in the frames of the account's platforms.
func (s *Server) ltiAuth(c *gin.Context) {
	tok, _ := c.Cookie(ltiSessionCookie)
	if tok == "" {
		s.ltiFail(c, errLTISession)
		return
	}
	sess, _, err := s.cfg.Sessions.Authenticate(c.Request.Context(), session.ScopeResource, c.Param("id"), tok)
	if err != nil || sess.Method != lti.SessionMethod {
		s.ltiFail(c, errLTISession)
		return
	}
	u, err := user.Get(c.Request.Context(), s.cfg.DB, sess.AccountID, sess.UserID)
	if err != nil {
		s.ltiFail(c, errLTISession)
		return
	}
	origins, err := s.cfg.LTI.FrameOrigins(c.Request.Context(), sess.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if origins == nil {
		origins = []string{}
	}
	frameAncestors(c, origins)
	c.Set("principal", &principal{AccountID: sess.AccountID, Actor: audit.Actor{Kind: audit.ActorUser, ID: u.ID}, User: u, SessionID: sess.ID})
	c.Next()
}

type ltiRoomPage struct {
	Resource *resource.Resource
	// Role is the person's collaborator role, "" for a learner.
	Role   string
	Invite *inviteForm
}

func (s *Server) ltiRoom(c *gin.Context) {
	p := who(c)
	ctx := c.Request.Context()
	r, err := resource.Get(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	role, err := resource.CollaboratorRole(ctx, s.cfg.DB, r.ID, p.User.ID)
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	d := ltiRoomPage{Resource: r, Role: role}
	if resource.ValidCollaboratorRole(role) {
		f, err := s.newInviteForm(c, p.caller(), r, role, "/lti/rooms/"+r.ID+"/invitations", "/lti/rooms/"+r.ID+"/people")
		if err != nil {
			s.ltiFail(c, err)
			return
		}
		d.Invite = f
	}
	s.render(c, http.StatusOK, "lti_room", pageData{Title: r.Title, Me: &principal{AccountID: p.AccountID}, Data: d})
}

// ltiJoin enters the room: collaborators as moderators where the
// resource has them, everyone else as a viewer.
func (s *Server) ltiJoin(c *gin.Context) {
	p := who(c)
	ctx := c.Request.Context()
	r, err := resource.Get(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	role := resource.Viewer
	if cr, err := resource.CollaboratorRole(ctx, s.cfg.DB, r.ID, p.User.ID); err != nil {
		s.ltiFail(c, err)
		return
	} else if resource.ValidCollaboratorRole(cr) && r.Type.AllowsRole(resource.Moderator) {
		role = resource.Moderator
	}
	dest, err := s.enterURL(ctx, r, p.User.ID, p.User.Email, p.User.Name(), role)
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, dest)
}

// inviteForm is the invite dialog of a resource, the same wherever it
// shows (the console's resource page, the room page inside the LMS): the
// endpoints it calls, the roles the resource allows, whether links can be
// emailed, and why the caller may not invite, if they may not.
type inviteForm struct {
	ResourceID string
	// Action creates the invitation; People answers the email field's
	// suggestions ("" for the API's /api/v1/users).
	Action, People   string
	Roles            []string
	EmailReady       bool
	EmailUnavailable string
	Invitable        error
}

func (s *Server) newInviteForm(c *gin.Context, who invite.Caller, r *resource.Resource, role, action, people string) (*inviteForm, error) {
	f := &inviteForm{ResourceID: r.ID, Action: action, People: people, Roles: r.Type.InviteRoles()}
	set, err := invite.LoadSettings(c.Request.Context(), s.cfg.DB, who.AccountID)
	if err != nil {
		return nil, err
	}
	if err := s.emailReady(c, set); err != nil {
		f.EmailUnavailable = describe(c, err).Message
	} else {
		f.EmailReady = true
	}
	// The caller's role and the settings just read decide whether the
	// form shows.
	f.Invitable = access.OnResource(c.Request.Context(), access.Member{AccountID: who.AccountID, Admin: who.Admin, Collaborator: role}, r, access.Invite, !set.Enabled)
	return f, nil
}
