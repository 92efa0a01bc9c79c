package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso"
)

// consoleSSOPage is the model of the account's SSO page.
type consoleSSOPage struct {
	Connections []ssoConnectionRow
	Types       []string
	Presets     []string
	// BaseURL is where the provider reaches the gateway.
	BaseURL string
}

// ssoConnectionRow is a connection with its public config shown as JSON.
type ssoConnectionRow struct {
	sso.View
	PublicConfig string
}

func (s *Server) consoleSSO(c *gin.Context) {
	p := who(c)
	if !p.Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may manage the account's SSO connections"))
		return
	}
	vs, err := s.cfg.SSO.List(c.Request.Context(), p.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleSSOPage{Types: s.cfg.SSO.TypeNames(), Presets: sso.Presets(), BaseURL: s.baseURL}
	for _, v := range vs {
		b, _ := json.MarshalIndent(v.Config, "", "  ")
		d.Connections = append(d.Connections, ssoConnectionRow{View: v, PublicConfig: string(b)})
	}
	s.render(c, http.StatusOK, "sso", pageData{Title: "SSO", Data: d})
}
