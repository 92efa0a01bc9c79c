package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/resource"
)

// linkInput names a platform's resource: by its id there, or by the LTI
// context or resource link that launches into it.
type linkInput struct {
	Adapter        string `json:"adapter"`
	ResourceID     string `json:"resource_id"`
	ContextID      string `json:"context_id"`
	ResourceLinkID string `json:"resource_link_id"`
}

// linkedView is a linked resource, and whether the link made it.
type linkedView struct {
	resourceView
	Created bool `json:"created"`
}

// linkResource (POST /resources/link) brings a resource of a room
// adapter's platform into the gateway for integrators: once, however often
// it is linked; the calling console user becomes its collaborator with the
// role the platform gives them. core/resource.Link decides everything.
func (s *Server) linkResource(c *gin.Context) {
	var in linkInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	l := resource.Linker{AccountID: p.AccountID, Actor: p.Actor, Admin: p.Admin}
	if p.User != nil {
		l.UserID, l.Email, l.Name = p.User.ID, p.User.Email, p.User.Name()
	}
	out, err := resource.Link(c.Request.Context(), s.cfg.DB, s.cfg.Platform, l, in.Adapter, resource.Launch{
		Source: resource.SourceAPI, ResourceID: in.ResourceID, ContextID: in.ContextID, ResourceLinkID: in.ResourceLinkID,
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if out.Created {
		status = http.StatusCreated
	}
	c.JSON(status, linkedView{resourceView: viewResource(out.Resource, out.Role), Created: out.Created})
}
