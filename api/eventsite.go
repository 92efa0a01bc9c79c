package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/invitegate/gateway/core/session"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/problem"
)

// The event site an attendee uses. Opening any of its addresses (GET, HEAD)
// changes nothing; every change is a POST from a button or form on the
// site's own pages:
//
//	GET  /e/{slug}                   the event; registration and sign-in forms, or the signed-in view
//	POST /e/{slug}/register          registration; emails the registration confirmation
//	POST /e/{slug}/signin            emails a login link (same answer whether or not the address is known)
//	POST /e/{slug}/visit             records the signed-in attendee's visit (the page posts it on load)
//	POST /e/{slug}/signout           ends the site session
//	GET  /e/{slug}/unregister        asks to confirm; POST unregisters
//	POST /e/{slug}/chat/terms        accepts the chat's terms; POST /e/{slug}/chat writes a message
//	GET  /e/{slug}/confirm/{token}   a confirmation link's page; POST confirms and signs in
//	GET  /l/{token}                  a login link's page (after console links); POST signs in
func (s *Server) eventSiteRoutes(e *gin.Engine) {
	g := e.Group("/e/:slug", noStore)
	g.GET("", s.eventPage)
	g.HEAD("", s.eventPage)
	g.POST("/register", s.eventRegister)
	g.POST("/signin", s.eventRequestLink)
	g.POST("/visit", s.eventVisit)
	g.POST("/signout", s.eventSignOut)
	g.GET("/unregister", s.eventUnregisterPage)
	g.HEAD("/unregister", s.eventUnregisterPage)
	g.POST("/unregister", s.eventUnregister)
	g.POST("/chat/terms", s.eventChatTerms)
	g.POST("/chat", s.eventChatPost)
	confirm := s.linkLimit(func(c *gin.Context, err error) { s.siteFail(c, nil, err) })
	g.GET("/confirm/:token", confirm, s.eventConfirmPage)
	g.HEAD("/confirm/:token", confirm, s.eventConfirmPage)
	g.POST("/confirm/:token", confirm, s.eventConfirm)
}

// eventCookie holds the event site session token; its path is the event's
// own, so each event's sign-in is separate.
const eventCookie = "ig_event"

// chatShown is how many recent chat messages the page shows.
const chatShown = 50

// eventView is the model of the event page.
type eventView struct {
	Event    *event.Event
	Schedule string
	// Phase is "before", "live" or "ended" by the event's schedule now.
	Phase    string
	Speakers []speakerView
	// Attendee is the signed-in attendee, nil for a visitor.
	Attendee *event.Attendee
	// Notice is what the last POST did ("registered", "signin_sent"...).
	Notice string
	// FormError and Form re-show a refused registration or sign-in form.
	FormError *errorBody
	FormName  string
	Form      map[string]string
	Chat      []event.ChatMessage
}

type speakerView struct {
	Name, Title, Company, Bio, ImageURL string
	Speaker, Moderator                  bool
}

// eventAuth is the site session of the request for ev: the attendee, or
// nil when not signed in. A blocked attendee's session is refused.
func (s *Server) eventAuth(c *gin.Context, ev *event.Event) (*session.Session, *event.Attendee, error) {
	tok, err := c.Cookie(eventCookie)
	if err != nil || tok == "" {
		return nil, nil, nil
	}
	sess, a, err := s.cfg.Events.Authenticate(c.Request.Context(), ev, tok)
	if errors.Is(err, event.ErrSignedOut) {
		return nil, nil, nil
	}
	return sess, a, err
}

// siteEvent loads the event the slug names.
func (s *Server) siteEvent(c *gin.Context) (*event.Event, bool) {
	ev, err := event.BySlug(c.Request.Context(), s.cfg.DB, c.Param("slug"))
	if err != nil {
		if problem.KindOf(err) == problem.NotFound {
			err = errNoEvent
		}
		s.siteFail(c, nil, err)
		return nil, false
	}
	return ev, true
}

var errNoEvent = problem.New(problem.NotFound, "event_not_found", "there is no event at this address; check the link you were given")

// signedIn loads the event and its signed-in attendee for a POST that
// needs one; it answers the request itself when there is none.
func (s *Server) signedIn(c *gin.Context) (*event.Event, *session.Session, *event.Attendee, bool) {
	ev, ok := s.siteEvent(c)
	if !ok {
		return nil, nil, nil, false
	}
	sess, a, err := s.eventAuth(c, ev)
	if err == nil && a == nil {
		err = event.ErrSignedOut
	}
	if err != nil {
		s.siteFail(c, ev, err)
		return nil, nil, nil, false
	}
	return ev, sess, a, true
}

func (s *Server) eventPage(c *gin.Context) {
	ev, ok := s.siteEvent(c)
	if !ok {
		return
	}
	_, a, err := s.eventAuth(c, ev)
	if err != nil {
		s.siteFail(c, ev, err)
		return
	}
	s.showEvent(c, http.StatusOK, ev, a, func(v *eventView) { v.Notice = c.Query("m") })
}

// showEvent renders the event page; mod fills what the request adds.
func (s *Server) showEvent(c *gin.Context, status int, ev *event.Event, a *event.Attendee, mod func(*eventView)) {
	ctx := c.Request.Context()
	v := &eventView{Event: ev, Attendee: a, Form: map[string]string{}}
	v.Schedule = mail.Schedule(&ev.StartsAt, &ev.EndsAt, ev.TimeZone)
	now := s.cfg.Now()
	switch {
	case now.Before(ev.StartsAt):
		v.Phase = "before"
	case now.Before(ev.EndsAt):
		v.Phase = "live"
	default:
		v.Phase = "ended"
	}
	sp, err := s.cfg.Events.Speakers(ctx, ev)
	if err != nil {
		s.siteFail(c, ev, err)
		return
	}
	for _, x := range sp {
		sv := speakerView{Name: x.Name(), Title: x.Title, Company: x.Company, Bio: x.Bio, Speaker: x.Speaker, Moderator: x.Moderator}
		if x.ImageRef != "" {
			sv.ImageURL = "/media/images/" + x.ImageRef
		}
		v.Speakers = append(v.Speakers, sv)
	}
	if a != nil && a.ChatTermsAcceptedAt != nil && !a.BlockedFromChat {
		if v.Chat, err = s.cfg.Events.ChatMessages(ctx, ev, chatShown); err != nil {
			s.siteFail(c, ev, err)
			return
		}
	}
	if mod != nil {
		mod(v)
	}
	s.render(c, status, "event_site", pageData{Title: ev.Name, Data: v})
}

// formAgain shows the page with a refused form and what was typed.
func (s *Server) formAgain(c *gin.Context, ev *event.Event, form string, cause error, fields ...string) {
	b := describe(c, cause)
	s.showEvent(c, statusOf(cause), ev, nil, func(v *eventView) {
		v.FormError, v.FormName = &b, form
		for _, f := range fields {
			v.Form[f] = c.PostForm(f)
		}
	})
}

// errTooManySiteForms refuses a client that sent the site's forms too often.
var errTooManySiteForms = problem.New(problem.RateLimited, "too_many_requests", "too many registrations or sign-in requests from your address; wait a minute and try again")

// siteFormAllowed spends one of the client's site form sends, answering the
// refusal page when none is left.
func (s *Server) siteFormAllowed(c *gin.Context, ev *event.Event) bool {
	client := c.ClientIP()
	if s.siteForms.exhausted(client) {
		s.siteFail(c, ev, errTooManySiteForms)
		return false
	}
	s.siteForms.spend(client)
	return true
}

func (s *Server) eventRegister(c *gin.Context) {
	ev, ok := s.siteEvent(c)
	if !ok || !s.siteFormAllowed(c, ev) {
		return
	}
	in := event.Identity{Email: c.PostForm("email"), FirstName: c.PostForm("first_name"), LastName: c.PostForm("last_name")}
	r, err := s.cfg.Events.SiteRegister(c.Request.Context(), ev, in)
	if err != nil {
		if problem.KindOf(err) == problem.Invalid {
			s.formAgain(c, ev, "register", err, "email", "first_name", "last_name")
			return
		}
		s.siteFail(c, ev, err)
		return
	}
	m := "registered"
	if !r.Emailed {
		m = "registered_no_email"
	}
	c.Redirect(http.StatusSeeOther, "/e/"+ev.Slug+"?m="+m)
}

func (s *Server) eventRequestLink(c *gin.Context) {
	ev, ok := s.siteEvent(c)
	if !ok || !s.siteFormAllowed(c, ev) {
		return
	}
	if err := s.cfg.Events.RequestLoginLink(c.Request.Context(), ev, c.PostForm("email")); err != nil {
		if problem.KindOf(err) == problem.Invalid {
			s.formAgain(c, ev, "signin", err, "email")
			return
		}
		s.siteFail(c, ev, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/e/"+ev.Slug+"?m=signin_sent")
}

// visitAnswer is what the page's script receives after entering.
type visitAnswer struct {
	Kind        string    `json:"kind"`
	At          time.Time `json:"at"`
	Status      string    `json:"status"`
	StatusLabel string    `json:"status_label"`
	Detail      string    `json:"detail"`
}

// eventVisit records that the signed-in attendee entered the event site:
// a pre-event or during-event visit by the event's schedule.
func (s *Server) eventVisit(c *gin.Context) {
	ev, _, a, ok := s.signedIn(c)
	if !ok {
		return
	}
	v, err := s.cfg.Events.RecordVisit(c.Request.Context(), ev.ID, a.ID)
	if err != nil {
		s.siteFail(c, ev, err)
		return
	}
	if wantsJSON(c) {
		// The attendee as the visit left them, for the page to show.
		if _, cur, err := s.eventAuth(c, ev); err == nil && cur != nil {
			a = cur
		}
		cur := a
		c.JSON(http.StatusOK, visitAnswer{Kind: v.Kind, At: v.At, Status: string(cur.Status), StatusLabel: cur.Status.Label(), Detail: string(cur.Detail)})
		return
	}
	c.Redirect(http.StatusSeeOther, "/e/"+ev.Slug+"?m=entered")
}

func (s *Server) eventSignOut(c *gin.Context) {
	ev, ok := s.siteEvent(c)
	if !ok {
		return
	}
	if sess, _, err := s.eventAuth(c, ev); err == nil && sess != nil {
		if err := s.cfg.Events.SignOut(c.Request.Context(), sess.ID); err != nil {
			s.siteFail(c, ev, err)
			return
		}
	}
	s.setCookie(c, eventCookie, "", "/e/"+ev.Slug, -1)
	c.Redirect(http.StatusSeeOther, "/e/"+ev.Slug+"?m=signed_out")
}

func (s *Server) eventUnregisterPage(c *gin.Context) {
	ev, _, a, ok := s.signedIn(c)
	if !ok {
		return
	}
	s.render(c, http.StatusOK, "event_unregister", pageData{Title: "Unregister from " + ev.Name, Data: &eventView{Event: ev, Attendee: a}})
}

func (s *Server) eventUnregister(c *gin.Context) {
	ev, _, a, ok := s.signedIn(c)
	if !ok {
		return
	}
	if _, err := s.cfg.Events.SiteUnregister(c.Request.Context(), ev, a.ID); err != nil {
		s.siteFail(c, ev, err)
		return
	}
	s.setCookie(c, eventCookie, "", "/e/"+ev.Slug, -1)
	c.Redirect(http.StatusSeeOther, "/e/"+ev.Slug+"?m=unregistered")
}

func (s *Server) eventChatTerms(c *gin.Context) {
	ev, _, a, ok := s.signedIn(c)
	if !ok {
		return
	}
	if _, err := s.cfg.Events.AcceptChatTerms(c.Request.Context(), ev.ID, a.ID); err != nil {
		s.siteFail(c, ev, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/e/"+ev.Slug+"?m=chat_open#chat")
}

func (s *Server) eventChatPost(c *gin.Context) {
	ev, _, a, ok := s.signedIn(c)
	if !ok {
		return
	}
	if _, err := s.cfg.Events.PostChat(c.Request.Context(), ev, a.ID, c.PostForm("message")); err != nil {
		if problem.KindOf(err) == problem.Invalid {
			b := describe(c, err)
			s.showEvent(c, http.StatusBadRequest, ev, a, func(v *eventView) {
				v.FormError, v.FormName = &b, "chat"
				v.Form["message"] = c.PostForm("message")
			})
			return
		}
		s.siteFail(c, ev, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/e/"+ev.Slug+"#chat")
}

// linkView is the model of a login or confirmation link's page.
type linkView struct {
	Event    *event.Event
	Attendee *event.Attendee
	Confirm  bool
	// Beacon: the page's script reports that a person has it open
	// (opened.go).
	Beacon bool
}

// eventConfirmPage shows a confirmation link's button; opening it changes
// nothing.
func (s *Server) eventConfirmPage(c *gin.Context) {
	lv, err := s.cfg.Events.CheckLink(c.Request.Context(), c.Param("token"), event.LinkConfirm)
	if err == nil && lv.Event.Slug != c.Param("slug") {
		err = event.ErrLinkInvalid
	}
	if err != nil {
		s.siteFail(c, s.cfg.Events.LinkEvent(c.Request.Context(), c.Param("token")), err)
		return
	}
	s.render(c, http.StatusOK, "event_link", pageData{Title: "Confirm your email", Data: &linkView{Event: lv.Event, Attendee: lv.Attendee, Confirm: true}})
}

func (s *Server) eventConfirm(c *gin.Context) {
	in, err := s.cfg.Events.ConfirmWithLink(c.Request.Context(), c.Param("slug"), c.Param("token"))
	if err != nil {
		s.siteFail(c, s.cfg.Events.LinkEvent(c.Request.Context(), c.Param("token")), err)
		return
	}
	s.startSiteSession(c, in)
	c.Redirect(http.StatusSeeOther, "/e/"+in.Event.Slug+"?m=confirmed")
}

// eventLoginPage is /l/{token} for an attendee login link: a button, no
// change.
func (s *Server) eventLoginPage(c *gin.Context) {
	lv, err := s.cfg.Events.CheckLink(c.Request.Context(), c.Param("token"), event.LinkLogin)
	if err != nil {
		s.siteFail(c, s.cfg.Events.LinkEvent(c.Request.Context(), c.Param("token")), err)
		return
	}
	s.recordView(c, lv.Event.AccountID, lv.Attendee.ID, "login")
	s.render(c, http.StatusOK, "event_link", pageData{Title: "Sign in to " + lv.Event.Name, Data: &linkView{Event: lv.Event, Attendee: lv.Attendee, Beacon: true}})
}

// eventLoginEnter uses an attendee login link and opens the event site.
func (s *Server) eventLoginEnter(c *gin.Context) {
	in, err := s.cfg.Events.SignInWithLink(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.siteFail(c, s.cfg.Events.LinkEvent(c.Request.Context(), c.Param("token")), err)
		return
	}
	s.startSiteSession(c, in)
	c.Redirect(http.StatusSeeOther, "/e/"+in.Event.Slug)
}

func (s *Server) startSiteSession(c *gin.Context, in *event.SignIn) {
	s.setCookie(c, eventCookie, in.Token, "/e/"+in.Event.Slug, int(in.Session.ExpiresAt.Sub(in.Session.CreatedAt).Seconds()))
}

// siteError is the model of an event site failure page.
type siteError struct {
	Event *event.Event
}

// siteFail answers a failure on the event site with its own page (JSON for
// the page's script), titled for what happened and leading back to the
// event when there is one; like fail, it notes the failure for linkLimit.
func (s *Server) siteFail(c *gin.Context, ev *event.Event, err error) {
	c.Set(failureKey, err)
	status := statusOf(err)
	b := describe(c, err)
	if wantsJSON(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": b})
		return
	}
	s.render(c, status, "event_error", pageData{Title: siteErrorTitle(b.Code), Error: &b, Data: &siteError{Event: ev}})
	c.Abort()
}

// siteErrorTitle is the heading of each event site failure page; codes
// the other pages share take errorTitle's.
func siteErrorTitle(code string) string {
	switch code {
	case "event_link_invalid":
		return "This link is not valid"
	case "event_link_used":
		return "This link was already used"
	case "event_link_expired":
		return "This link has expired"
	case "event_link_revoked":
		return "This link no longer works"
	case "attendee_blocked":
		return "You are blocked from this event"
	case "blocked_from_chat":
		return "You are blocked from this chat"
	case "invite_only":
		return "Registration is by invitation only"
	case "too_many_requests":
		return "Too many requests"
	case "event_uses_sso":
		return "This event uses single sign-on"
	case "event_signed_out":
		return "Please sign in"
	case "not_registered":
		return "You are not registered"
	case "chat_terms_not_accepted":
		return "Accept the chat's terms first"
	case "email_unavailable":
		return "Email is not available"
	case "event_not_found", "no_route", "not_found":
		return "Event not found"
	case "rate_limited":
		return "Too many attempts"
	}
	return errorTitle(code)
}
