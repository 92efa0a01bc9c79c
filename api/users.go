package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/erase"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
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

// searchUsers feeds the invite dialog's email autocomplete (q; with
// resource_id, the people suggested for that resource) and, with
// console=1, the console user list.
func (s *Server) searchUsers(c *gin.Context) {
	p := who(c)
	var (
		us  []user.User
		err error
	)
	if c.Query("console") == "1" {
		us, err = user.ListConsole(c.Request.Context(), s.cfg.DB, p.AccountID)
	} else if rid := c.Query("resource_id"); rid != "" {
		s.suggestInvitees(c, rid)
		return
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

// suggestion is one person the invite dialog offers: a user of the
// account (with all of its fields) or, from the roster of the platform
// hosting the resource, someone the account does not know yet (email and
// names only).
type suggestion struct {
	*user.User
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	// Source is "account" or "roster".
	Source string `json:"source"`
}

// suggestInvitees answers the autocomplete of a resource's invite dialog:
// the account's people and, for a resource a room adapter hosts, its
// roster on the platform (core/resource.Suggest). Without the roster (the
// adapter could not answer) the account's people are still offered, and
// roster_unavailable says so.
func (s *Server) suggestInvitees(c *gin.Context, resourceID string) {
	limit, err := intQuery(c, "limit", 0)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, _, err := s.resourceNamed(c, resourceID, false)
	if errors.Is(err, problem.ErrNotFound) {
		err = &problem.Error{Kind: problem.NotFound, Code: "not_found", Field: "resource_id", Message: "resource_id names no resource you can see"}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	sug, err := resource.Suggest(c.Request.Context(), s.cfg.DB, s.cfg.Platform, res, c.Query("q"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeSuggestions(c, res, sug)
}

// writeSuggestions answers the invite dialog's autocomplete with sug.
func (s *Server) writeSuggestions(c *gin.Context, res *resource.Resource, sug *resource.Suggestions) {
	out := make([]suggestion, len(sug.People))
	for i, p := range sug.People {
		out[i] = suggestion{User: p.User, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName, Source: "account"}
		if p.User == nil {
			out[i].Source = "roster"
		}
	}
	body := gin.H{"users": out}
	if sug.RosterErr != nil {
		reqLog(c).Warn("roster not available for the invite dialog", "resource", res.ID, "adapter", res.Adapter, "error", errorText(sug.RosterErr))
		body["roster_unavailable"] = true
	}
	c.JSON(http.StatusOK, body)
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
	tok, err := s.cfg.Sessions.IssueLoginLink(c.Request.Context(), p.AccountID, c.Param("id"), p.Actor)
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
