package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
)

// The built-in demo room stands in for a video platform, so the gateway
// works on its own: it verifies join tokens exactly as a real room would
// (with the keys from /.well-known/jwks.json), then keeps its own cookie.

const demoSessionAudience = "demo-room-session"

var errNotInRoom = problem.New(problem.Unauthorized, "not_in_room", "you are not in this room: open your invitation link to enter")

type demoRoomPage struct {
	Resource   *resource.Resource
	Claims     *jointoken.Claims
	Role       string
	Privileges []string
}

func (s *Server) demoCookie(resourceID string) string { return "ig_room_" + resourceID[:8] }

func (s *Server) demoRoom(c *gin.Context) {
	rid := c.Param("id")
	if !id.Valid(rid) {
		s.fail(c, errNoRoute)
		return
	}
	if jt := c.Query("jt"); jt != "" {
		claims, err := s.verifyJoin(c, jt, demoAudience)
		if err != nil || claims.Resource != rid {
			s.fail(c, problem.New(problem.Unauthorized, "join_token_invalid", "this room entry link is not valid or has expired: open your invitation link again"))
			return
		}
		sess, err := s.cfg.Signer.IssueFor(c.Request.Context(), demoSessionAudience, *claims, 12*time.Hour)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.setCookie(c, s.demoCookie(rid), sess, "/demo/rooms/"+rid, 12*3600)
		// Drop the token from the address bar and history.
		c.Redirect(http.StatusSeeOther, "/demo/rooms/"+rid)
		return
	}
	page, err := s.demoState(c, rid)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "room", pageData{Title: page.Resource.Title, Data: page})
}

// demoPresence lets the room page follow role changes without a new sign-in.
func (s *Server) demoPresence(c *gin.Context) {
	page, err := s.demoState(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"role": page.Role, "privileges": page.Privileges})
}

func (s *Server) demoState(c *gin.Context, rid string) (*demoRoomPage, error) {
	if !id.Valid(rid) {
		return nil, errNotInRoom
	}
	ck, err := c.Cookie(s.demoCookie(rid))
	if err != nil {
		return nil, errNotInRoom
	}
	claims, err := s.verifyJoin(c, ck, demoSessionAudience)
	if err != nil || claims.Resource != rid {
		return nil, errNotInRoom
	}
	res, err := resource.ByID(c.Request.Context(), s.cfg.DB, rid)
	if err != nil {
		return nil, problem.New(problem.Gone, "resource_deleted", "this room has been deleted")
	}
	role, err := resource.ParticipantRole(c.Request.Context(), s.cfg.DB, rid, claims.Subject)
	if err != nil {
		return nil, err
	}
	if role == "" {
		return nil, errNotInRoom
	}
	return &demoRoomPage{Resource: res, Claims: claims, Role: role, Privileges: resource.Privileges(role)}, nil
}

func (s *Server) verifyJoin(c *gin.Context, raw, aud string) (*jointoken.Claims, error) {
	keys, err := s.cfg.Signer.JWKS(c.Request.Context())
	if err != nil {
		return nil, err
	}
	claims, err := jointoken.Verify(raw, keys, s.base.String(), aud, s.cfg.Now())
	if err != nil {
		return nil, errors.New("join token rejected")
	}
	return claims, nil
}
