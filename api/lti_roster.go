package api

import (
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
)

// ltiPeople answers the invite dialog's autocomplete on the room page
// inside the LMS: what the console's dialog suggests and, for a session a
// launch with the Names and Role Provisioning service opened, the members
// of that course (lti.Service.Suggest). Without the roster the others are
// still offered, and roster_unavailable says so.
func (s *Server) ltiPeople(c *gin.Context) {
	limit, err := intQuery(c, "limit", 0)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, _, err := s.resourceNamed(c, c.Param("id"), false)
	if errors.Is(err, problem.ErrNotFound) {
		err = &problem.Error{Kind: problem.NotFound, Code: "not_found", Field: "id", Message: "this room is not one you can see"}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	sug, err := s.cfg.LTI.Suggest(c.Request.Context(), who(c).SessionID, res, c.Query("q"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeSuggestions(c, res, sug)
}
