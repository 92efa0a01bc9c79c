package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/provision"
)

// consoleSCIMPage is the model of the account's SCIM provisioning page.
type consoleSCIMPage struct {
	BaseURL string
	Tokens  []provision.Token
}

func (s *Server) scimConsoleRoutes(con *gin.RouterGroup) {
	con.GET("/scim", s.consoleSCIM)
}

// consoleSCIM shows an admin the SCIM base URL and the account's
// provisioning tokens, to create and revoke them.
func (s *Server) consoleSCIM(c *gin.Context) {
	p := who(c)
	if !p.Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may manage SCIM provisioning"))
		return
	}
	ts, err := s.cfg.Provision.Tokens(c.Request.Context(), p.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "console_scim", pageData{Title: "SCIM provisioning", Data: consoleSCIMPage{BaseURL: s.SCIMBaseURL(), Tokens: ts}})
}
