package api

import (
	"net/http"

	"github.com/invitegate/gateway/core/access"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/user"
)

type resourceView struct {
	*resource.Resource
	InviteRoles []string `json:"invite_roles"`
	// MyRole is the caller's collaborator role, if any.
	MyRole string `json:"my_role,omitempty"`
}

func viewResource(r *resource.Resource, myRole string) resourceView {
	return resourceView{Resource: r, InviteRoles: r.Type.InviteRoles(), MyRole: myRole}
}

// resourceFor loads a resource the caller may see (manage: change), as
// core/access decides: admins see every resource of their account, members
// those they collaborate on, and a resource one may not see is "not found"
// like a missing one.
func (s *Server) resourceFor(c *gin.Context, manage bool) (*resource.Resource, string, error) {
	return s.resourceNamed(c, c.Param("id"), manage)
}

// resourceNamed is resourceFor for the resource with this id.
func (s *Server) resourceNamed(c *gin.Context, id string, manage bool) (*resource.Resource, string, error) {
	p := who(c)
	ctx := c.Request.Context()
	r, err := resource.Get(ctx, s.cfg.DB, p.AccountID, id)
	if err != nil {
		return nil, "", err
	}
	wants := access.View
	if manage {
		wants = access.Manage
	}
	myRole := ""
	if p.User != nil {
		if myRole, err = resource.CollaboratorRole(ctx, s.cfg.DB, r.ID, p.User.ID); err != nil {
			return nil, "", err
		}
	}
	if err := access.OnResource(ctx, access.Member{AccountID: p.AccountID, Admin: p.Admin, Collaborator: myRole}, r, wants, false); err != nil {
		return nil, "", err
	}
	return r, myRole, nil
}

// visibleResources lists what the caller may see: every resource of the
// account for admins, the ones they collaborate on for members.
func (s *Server) visibleResources(c *gin.Context) ([]resource.Resource, error) {
	p := who(c)
	only := ""
	if !p.Admin {
		only = p.User.ID
	}
	return resource.List(c.Request.Context(), s.cfg.DB, p.AccountID, only)
}

func (s *Server) listResources(c *gin.Context) {
	rs, err := s.visibleResources(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]resourceView, len(rs))
	for i := range rs {
		out[i] = viewResource(&rs[i], "")
	}
	c.JSON(http.StatusOK, gin.H{"resources": out})
}

func (s *Server) createResource(c *gin.Context) {
	var in resource.Input
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	r, err := resource.Create(c.Request.Context(), s.cfg.DB, p.AccountID, p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	role := ""
	if p.User != nil {
		role = resource.Owner
	}
	c.JSON(http.StatusCreated, viewResource(r, role))
}

func (s *Server) getResource(c *gin.Context) {
	r, role, err := s.resourceFor(c, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewResource(r, role))
}

func (s *Server) updateResource(c *gin.Context) {
	r, role, err := s.resourceFor(c, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	in := resource.Input{Title: r.Title, Description: r.Description, StartsAt: r.StartsAt, EndsAt: r.EndsAt, TimeZone: r.TimeZone}
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if in.Type != "" && in.Type != r.Type {
		s.fail(c, problem.Field("type", "a resource's type cannot change; create a new resource"))
		return
	}
	p := who(c)
	r, err = resource.Update(c.Request.Context(), s.cfg.DB, p.AccountID, r.ID, p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewResource(r, role))
}

func (s *Server) deleteResource(c *gin.Context) {
	r, _, err := s.resourceFor(c, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := resource.Delete(c.Request.Context(), s.cfg.DB, p.AccountID, r.ID, p.Actor); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listCollaborators(c *gin.Context) {
	r, _, err := s.resourceFor(c, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	cs, err := resource.Collaborators(c.Request.Context(), s.cfg.DB, r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"collaborators": cs})
}

func (s *Server) setCollaborator(c *gin.Context) {
	r, _, err := s.resourceFor(c, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	var in struct {
		Role string `json:"role"`
	}
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	u, err := user.Get(c.Request.Context(), s.cfg.DB, p.AccountID, c.Param("user"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if u.ConsoleRole == "" {
		s.fail(c, problem.Field("user", "collaborators must be console users; add them under Users first"))
		return
	}
	if err := resource.SetCollaborator(c.Request.Context(), s.cfg.DB, p.AccountID, r.ID, u.ID, in.Role, p.Actor); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"resource_id": r.ID, "user_id": u.ID, "role": in.Role})
}
