package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/invite"
)

type invitationView struct {
	*invite.Invitation
	Status string `json:"status"`
	// Link is present only in the answer that created it: only its hash is kept.
	Link string `json:"link,omitempty"`
}

func (s *Server) viewInvitation(inv *invite.Invitation, link string) invitationView {
	return invitationView{Invitation: inv, Status: inv.Status(s.cfg.Now().UTC()), Link: link}
}

func (s *Server) listInvitations(c *gin.Context) {
	invs, err := s.cfg.Invites.List(c.Request.Context(), who(c).caller(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]invitationView, len(invs))
	for i := range invs {
		out[i] = s.viewInvitation(&invs[i], "")
	}
	c.JSON(http.StatusOK, gin.H{"invitations": out})
}

func (s *Server) createInvitation(c *gin.Context) {
	var in invite.NewInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	cr, err := s.cfg.Invites.Create(c.Request.Context(), who(c).caller(), c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, s.viewInvitation(cr.Invitation, s.InviteURL(cr.Token)))
}

func (s *Server) getInvitation(c *gin.Context) {
	inv, _, err := s.cfg.Invites.Get(c.Request.Context(), who(c).caller(), c.Param("id"), c.Param("inv"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.viewInvitation(inv, ""))
}

func (s *Server) removeInvitation(c *gin.Context) {
	if err := s.cfg.Invites.Remove(c.Request.Context(), who(c).caller(), c.Param("id"), c.Param("inv")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) resendInvitation(c *gin.Context) {
	cr, err := s.cfg.Invites.Resend(c.Request.Context(), who(c).caller(), c.Param("id"), c.Param("inv"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, s.viewInvitation(cr.Invitation, s.InviteURL(cr.Token)))
}

func (s *Server) getSettings(c *gin.Context) {
	set, err := invite.LoadSettings(c.Request.Context(), s.cfg.DB.R, who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, set)
}

func (s *Server) putSettings(c *gin.Context) {
	p := who(c)
	set, err := invite.LoadSettings(c.Request.Context(), s.cfg.DB.R, p.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	set.UpdatedAt = time.Time{}
	if err := bind(c, set); err != nil {
		s.fail(c, err)
		return
	}
	if err := invite.SaveSettings(c.Request.Context(), s.cfg.DB.W, p.AccountID, p.Actor, set); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, set)
}
