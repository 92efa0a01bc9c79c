package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/erase"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
)

func (s *Server) me(c *gin.Context) {
	p := who(c)
	out := gin.H{"account_id": p.AccountID, "actor": p.Actor, "admin": p.Admin}
	if p.User != nil {
		out["user"] = p.User
	}
	c.JSON(http.StatusOK, out)
}

// searchUsers feeds the invite dialog's email autocomplete (q) and, with
// console=1, the console user list.
func (s *Server) searchUsers(c *gin.Context) {
	p := who(c)
	var (
		us  []user.User
		err error
	)
	if c.Query("console") == "1" {
		us, err = user.ListConsole(c.Request.Context(), s.cfg.DB, p.AccountID)
	} else {
		var limit int
		if limit, err = intQuery(c, "limit", 0); err == nil {
			us, err = user.Search(c.Request.Context(), s.cfg.DB, p.AccountID, c.Query("q"), limit)
		}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"users": us})
}

func (s *Server) addConsoleUser(c *gin.Context) {
	var in user.NewConsoleUser
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	u, err := user.AddConsoleUser(c.Request.Context(), s.cfg.DB, p.AccountID, p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, u)
}

func (s *Server) issueLoginLink(c *gin.Context) {
	p := who(c)
	tok, err := s.sessions.IssueLoginLink(c.Request.Context(), p.AccountID, c.Param("id"), p.Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"link": s.LoginURL(tok)})
}

func (s *Server) listAudit(c *gin.Context) {
	limit, err := intQuery(c, "limit", 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	es, err := audit.List(c.Request.Context(), s.cfg.DB, who(c).AccountID, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"entries": es})
}

func (s *Server) listPlugins(c *gin.Context) {
	if s.cfg.Plugins == nil {
		c.JSON(http.StatusOK, gin.H{"plugins": []PluginRow{}})
		return
	}
	st, err := s.cfg.Plugins.PluginStatuses(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"plugins": st})
}

// eraseUser deletes a person from the gateway (DELETE /users/{id}). With
// dry_run=true it only answers what would be erased: the events and, for a
// shared user, the accounts it reaches. The console shows that first.
func (s *Server) eraseUser(c *gin.Context) {
	p := who(c)
	dry, err := boolQuery(c, "dry_run")
	if err != nil {
		s.fail(c, err)
		return
	}
	var imp *erase.Impact
	if dry {
		imp, err = erase.Preview(c.Request.Context(), s.cfg.DB, p.AccountID, c.Param("id"))
	} else {
		imp, err = erase.Erase(c.Request.Context(), s.cfg.DB, p.AccountID, c.Param("id"), p.Actor)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"dry_run": dry, "erased": !dry, "impact": imp})
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(c *gin.Context, name string) (bool, error) {
	v, ok := c.GetQuery(name)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, problem.Field(name, fmt.Sprintf("%s must be true or false, not %q", name, v))
	}
	return b, nil
}

// intQuery reads an optional whole-number query parameter, def when absent.
func intQuery(c *gin.Context, name string, def int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, problem.Field(name, name+" must be a whole number")
	}
	return n, nil
}
