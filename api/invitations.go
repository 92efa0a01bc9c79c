package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/access"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/mail"
)

type invitationView struct {
	*invite.Invitation
	Status string `json:"status"`
	// Link is present only in the answer that created it: only its hash is kept.
	Link string `json:"link,omitempty"`
	// LastEmail is the newest email about this invitation: queued, sending,
	// sent (when) or failed (why). Absent when none was sent.
	LastEmail *mail.Delivery `json:"last_email,omitempty"`
}

func (s *Server) viewInvitation(inv *invite.Invitation, link string) invitationView {
	return invitationView{Invitation: inv, Status: inv.Status(s.cfg.Now().UTC()), Link: link}
}

// withEmails fills each view's LastEmail from the outbox.
func (s *Server) withEmails(c *gin.Context, accountID string, views []invitationView) error {
	if len(views) == 0 {
		return nil
	}
	ids := make([]string, len(views))
	for i := range views {
		ids[i] = views[i].ID
	}
	last, err := mail.LastDeliveries(c.Request.Context(), s.cfg.DB, accountID, ids)
	if err != nil {
		return err
	}
	for i := range views {
		views[i].LastEmail = last[views[i].ID]
	}
	return nil
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
	if err := s.withEmails(c, who(c).AccountID, out); err != nil {
		s.fail(c, err)
		return
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
	s.created(c, cr)
}

// created answers with a new link and, when one was queued, its email.
func (s *Server) created(c *gin.Context, cr *invite.Created) {
	v := []invitationView{s.viewInvitation(cr.Invitation, s.InviteURL(cr.Token))}
	if err := s.withEmails(c, cr.Invitation.AccountID, v); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, v[0])
}

func (s *Server) getInvitation(c *gin.Context) {
	inv, _, err := s.cfg.Invites.Get(c.Request.Context(), who(c).caller(), c.Param("id"), c.Param("inv"))
	if err != nil {
		s.fail(c, err)
		return
	}
	v := []invitationView{s.viewInvitation(inv, "")}
	if err := s.withEmails(c, inv.AccountID, v); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v[0])
}

func (s *Server) removeInvitation(c *gin.Context) {
	if err := s.cfg.Invites.Remove(c.Request.Context(), who(c).caller(), c.Param("id"), c.Param("inv")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) resendInvitation(c *gin.Context) {
	var in invite.ResendInput
	if c.Request.ContentLength != 0 {
		if err := bind(c, &in); err != nil {
			s.fail(c, err)
			return
		}
	}
	cr, err := s.cfg.Invites.Resend(c.Request.Context(), who(c).caller(), c.Param("id"), c.Param("inv"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.created(c, cr)
}

// settingsView is the settings with whether invitations can be emailed.
type settingsView struct {
	*invite.Settings
	// EmailReady: "send link via email" is offered; otherwise
	// EmailUnavailable says why.
	EmailReady       bool   `json:"email_ready"`
	EmailUnavailable string `json:"email_unavailable,omitempty"`
}

func (s *Server) viewSettings(c *gin.Context, set *invite.Settings) settingsView {
	v := settingsView{Settings: set}
	if err := s.emailReady(c, set); err != nil {
		v.EmailUnavailable = describe(c, err).Message
	} else {
		v.EmailReady = true
	}
	return v
}

func (s *Server) getSettings(c *gin.Context) {
	set, err := invite.LoadSettings(c.Request.Context(), s.cfg.DB, who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.viewSettings(c, set))
}

func (s *Server) putSettings(c *gin.Context) {
	p := who(c)
	set, err := invite.LoadSettings(c.Request.Context(), s.cfg.DB, p.AccountID)
	if err != nil && !errors.Is(err, access.ErrPolicyUnreadable) {
		s.fail(c, err)
		return
	}
	// A policy that cannot be read is replaced by the one sent.
	set.UpdatedAt = time.Time{}
	// What GET answers may be sent back as is: the read-only fields are
	// accepted and ignored.
	in := settingsView{Settings: set}
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	// Every field is checked before the template is looked up by name.
	if err := set.Validate(); err != nil {
		s.fail(c, err)
		return
	}
	if set.EmailTemplate != "" {
		if err := s.cfg.Mail.CheckTemplateName(c.Request.Context(), strings.TrimSpace(set.EmailTemplate)); err != nil {
			s.fail(c, err)
			return
		}
	}
	if err := invite.SaveSettings(c.Request.Context(), s.cfg.DB, p.AccountID, p.Actor, set); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.viewSettings(c, set))
}
