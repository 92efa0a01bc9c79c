package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/user"
)

// The console is server-rendered; its buttons call the same /api/v1
// endpoints a program would, with the session cookie.

type consoleHomePage struct {
	Resources []resource.Resource
	Types     []resource.Type
}

func (s *Server) consoleHome(c *gin.Context) {
	rs, err := s.visibleResources(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "home", pageData{Title: "Resources", Data: consoleHomePage{Resources: rs, Types: resource.Types}})
}

type consoleResourcePage struct {
	Resource    *resource.Resource
	Invitations []invitationView
	Roles       []string
	Invitable   error
	// Collaborators with their users; Candidates are console users who can
	// be given a collaborator role, when the viewer may manage them.
	Collaborators []collaboratorRow
	Candidates    []user.User
	CanManage     bool
	// EmailReady offers "send link via email"; EmailUnavailable says why not.
	EmailReady       bool
	EmailUnavailable string
	// Invite is the invite dialog, shared with the room page inside the LMS.
	Invite *inviteForm
}

type collaboratorRow struct {
	User user.User
	Role string
}

func (s *Server) consoleResource(c *gin.Context) {
	r, myRole, err := s.resourceFor(c, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	d := consoleResourcePage{Resource: r, Roles: r.Type.InviteRoles(), CanManage: p.Admin || myRole == resource.Owner || myRole == resource.CoOwner}
	if err := s.loadCollaborators(c, &d); err != nil {
		s.fail(c, err)
		return
	}
	invs, err := s.cfg.Invites.List(c.Request.Context(), p.caller(), r.ID)
	if err != nil && problem.KindOf(err) != problem.Forbidden {
		s.fail(c, err)
		return
	}
	for i := range invs {
		d.Invitations = append(d.Invitations, s.viewInvitation(&invs[i], ""))
	}
	if err := s.withEmails(c, p.AccountID, d.Invitations); err != nil {
		s.fail(c, err)
		return
	}
	f, err := s.newInviteForm(c, p.caller(), r, myRole, "/api/v1/resources/"+r.ID+"/invitations", "")
	if err != nil {
		s.fail(c, err)
		return
	}
	d.Invite, d.EmailReady, d.EmailUnavailable, d.Invitable = f, f.EmailReady, f.EmailUnavailable, f.Invitable
	s.render(c, http.StatusOK, "resource", pageData{Title: r.Title, Data: d})
}

type consoleSettingsPage struct {
	settingsView
	// Templates are the template names an account may choose from.
	Templates []string
}

func (s *Server) consoleSettings(c *gin.Context) {
	p := who(c)
	set, err := invite.LoadSettings(c.Request.Context(), s.cfg.DB, p.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleSettingsPage{settingsView: s.viewSettings(c, set)}
	ts, err := s.cfg.Mail.Catalog.List(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	seen := map[string]bool{}
	for _, t := range ts {
		if t.Version != "" && !seen[t.Name] {
			seen[t.Name] = true
			d.Templates = append(d.Templates, t.Name)
		}
	}
	s.render(c, http.StatusOK, "settings", pageData{Title: "Invitation settings", Data: d})
}

func (s *Server) consoleUsers(c *gin.Context) {
	p := who(c)
	if !p.Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may manage console users"))
		return
	}
	us, err := user.ListConsole(c.Request.Context(), s.cfg.DB, p.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "users", pageData{Title: "Console users", Data: us})
}

func (s *Server) consolePlugins(c *gin.Context) {
	p := who(c)
	if !p.Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may see plugins"))
		return
	}
	st, err := s.cfg.Plugins.PluginStatuses(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "plugins", pageData{Title: "Plugins", Data: st})
}

func (s *Server) loadCollaborators(c *gin.Context, d *consoleResourcePage) error {
	ctx := c.Request.Context()
	cs, err := resource.Collaborators(ctx, s.cfg.DB, d.Resource.ID)
	if err != nil {
		return err
	}
	console, err := user.ListConsole(ctx, s.cfg.DB, d.Resource.AccountID)
	if err != nil {
		return err
	}
	byID := make(map[string]user.User, len(console))
	for _, u := range console {
		byID[u.ID] = u
	}
	for _, col := range cs {
		if u, ok := byID[col.UserID]; ok {
			d.Collaborators = append(d.Collaborators, collaboratorRow{User: u, Role: col.Role})
		}
	}
	if d.CanManage {
		d.Candidates = console
	}
	return nil
}
