package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/lti"
)

// Deep linking pages: the picker an instructor's deep linking request
// lands on (inside the LMS's frame), and the page that posts the tool's
// signed answer back to the LMS. lti/deeplink.go decides.

// ltiDeepLinkPicker answers a validated deep linking request with the
// picker: the instructor's rooms and a new room.
func (s *Server) ltiDeepLinkPicker(c *gin.Context, l *lti.Launch) {
	pk, err := s.cfg.LTI.BeginDeepLinking(c.Request.Context(), l)
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	frameAncestors(c, pk.Platform.Origins())
	s.render(c, http.StatusOK, "lti_deep_link", pageData{Title: "Add a room to the course", Me: &principal{AccountID: pk.Platform.AccountID}, Data: pk})
}

// ltiDeepLinkReturn is the page that posts the signed response to the
// LMS's return URL.
type ltiDeepLinkReturn struct {
	ReturnURL, JWT, Title string
}

// ltiDeepLinkPick takes the picker's form: room is a room's id, or "new"
// for a new room named title (the form always sends title); the answer is the page posting the response to the LMS.
func (s *Server) ltiDeepLinkPick(c *gin.Context) {
	pick := lti.Pick{Token: c.PostForm("token"), RoomID: c.PostForm("room"), NewTitle: c.PostForm("title")}
	if pick.RoomID == "new" {
		pick.RoomID, pick.New = "", true
	}
	out, err := s.cfg.LTI.CompleteDeepLinking(c.Request.Context(), pick)
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	origins, err := s.cfg.LTI.FrameOrigins(c.Request.Context(), out.Resource.AccountID)
	if err != nil {
		s.ltiFail(c, err)
		return
	}
	if origins == nil {
		origins = []string{}
	}
	frameAncestors(c, origins)
	s.render(c, http.StatusOK, "lti_deep_link_return", pageData{Title: "Adding the room to the course", Me: &principal{AccountID: out.Resource.AccountID},
		Data: ltiDeepLinkReturn{ReturnURL: out.ReturnURL, JWT: out.JWT, Title: out.Resource.Title}})
}
