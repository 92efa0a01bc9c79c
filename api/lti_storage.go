package api

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/lti"
)

// The iframe paths of a launch for browsers that block the tool's cookies
// inside the LMS's page: the platform's postMessage storage (lti/storage.go)
// in place of the state cookie, and, where no cookie holds for the session
// either, the room opened in a window of its own.

// ltiStorageProbe is the value of the state cookie a storage login sets:
// it binds nothing (the storage does), it only tells the launch whether
// the frame keeps the tool's cookies, and so whether the session cookie
// will hold there.
const ltiStorageProbe = "storage"

type ltiStoragePutPage struct {
	*lti.StoragePut
	StateKey, NonceKey, Redirect string
}

// ltiStoragePut answers a login that carried lti_storage_target with the
// page that puts its state and nonce in the platform's storage frame, then
// goes to the platform's authorization URL.
func (s *Server) ltiStoragePut(c *gin.Context, lg *lti.Login) {
	s.ltiCookie(c, lti.StateCookie(lg.State), ltiStorageProbe, "/lti/launch", int(s.cfg.LTI.StateTTL().Seconds()))
	sk, nk := lti.StorageKeys(lg.State)
	frameAncestors(c, lg.Platform.Origins())
	s.render(c, http.StatusOK, "lti_storage_put", pageData{Title: "Opening the tool", Me: &principal{},
		Data: ltiStoragePutPage{StoragePut: lg.Storage, StateKey: sk, NonceKey: nk, Redirect: lg.Redirect}})
}

type ltiStorageGetPage struct {
	*lti.StorageGet
	IDToken, State, StateKey, NonceKey string
}

// ltiStorageGet answers the platform's posted launch of a storage login
// with the page that gets the state and nonce back from the platform's
// storage and posts them, with the id_token, to /lti/launch/storage.
func (s *Server) ltiStorageGet(c *gin.Context, st *lti.StorageGet, idToken, state string) {
	sk, nk := lti.StorageKeys(state)
	frameAncestors(c, st.FrameOrigins)
	s.render(c, http.StatusOK, "lti_storage_get", pageData{Title: "Opening the tool", Me: &principal{},
		Data: ltiStorageGetPage{StorageGet: st, IDToken: idToken, State: state, StateKey: sk, NonceKey: nk}})
}

// ltiLaunchStored is the second step of a storage launch: every check of
// the launch, with the storage's state and nonce as the browser binding.
func (s *Server) ltiLaunchStored(c *gin.Context) {
	state := c.PostForm("state")
	req := lti.LaunchRequest{IDToken: c.PostForm("id_token"), State: state,
		Stored: &lti.Stored{State: c.PostForm("stored_state"), Nonce: c.PostForm("stored_nonce")}}
	probe := s.ltiStateCookies(c, state, &req)
	if probe {
		s.ltiDropStateCookie(c, state)
	}
	s.ltiEnter(c, req, probe)
}

type ltiWindowPage struct {
	RoomID, Session, Title string
}

// ltiOpenWindow shows, in the frame, the button that opens the room in a
// window of its own: the launch is done and its session open, but this
// frame would not keep the session cookie.
func (s *Server) ltiOpenWindow(c *gin.Context, in *lti.Entered) {
	frameAncestors(c, in.Platform.Origins())
	s.render(c, http.StatusOK, "lti_window", pageData{Title: in.Resource.Title, Me: &principal{},
		Data: ltiWindowPage{RoomID: in.Resource.ID, Session: in.Session.Token, Title: in.Resource.Title}})
}

// ltiWindow is that window: the launch's session, posted from the frame's
// page (a same-origin form, so another site cannot sign a browser into its
// own session), becomes the session cookie of a first-party page, and the
// room page opens.
func (s *Server) ltiWindow(c *gin.Context) {
	room, tok := c.PostForm("room"), c.PostForm("session")
	for _, f := range []struct {
		name, v string
		max     int
	}{{"room", room, 36}, {"session", tok, 256}} {
		if len(f.v) > f.max {
			s.ltiFail(c, problem.Field(f.name, fmt.Sprintf("%s is longer than %d characters: it is not a launch's", f.name, f.max)))
			return
		}
	}
	if room == "" || tok == "" {
		s.ltiFail(c, errLTISession)
		return
	}
	sess, _, err := s.cfg.Sessions.Authenticate(c.Request.Context(), session.ScopeResource, room, tok)
	if err != nil || sess.Method != lti.SessionMethod {
		s.ltiFail(c, errLTISession)
		return
	}
	s.ltiCookie(c, ltiSessionCookie, tok, "/lti/rooms/"+room, int(sess.ExpiresAt.Sub(s.cfg.Now()).Seconds()))
	c.Redirect(http.StatusSeeOther, "/lti/rooms/"+room)
}
