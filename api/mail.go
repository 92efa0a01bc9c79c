package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/problem"
)

// Email: templates (listing, preview with sample data, test message) and
// the outbox's messages. Admins only.

// emailReady tells whether invitations of the account can be emailed, and
// if not, why.
func (s *Server) emailReady(c *gin.Context, set *invite.Settings) error {
	return s.cfg.Mail.InvitationEmailReady(c.Request.Context(), set)
}

func (s *Server) listMailTemplates(c *gin.Context) {
	m := s.cfg.Mail
	ts, err := m.Catalog.List(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if ts == nil {
		ts = []mail.Listed{}
	}
	c.JSON(http.StatusOK, gin.H{"templates": ts, "delivery": m.Enabled()})
}

type previewInput struct {
	Locale string `json:"locale"`
}

func (s *Server) previewMailTemplate(c *gin.Context) {
	m := s.cfg.Mail
	var in previewInput
	if c.Request.ContentLength != 0 {
		if err := bind(c, &in); err != nil {
			s.fail(c, err)
			return
		}
	}
	p, err := m.Preview(c.Request.Context(), c.Param("name"), in.Locale)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"name": p.Name, "locale": p.Locale, "source": p.Source, "version": p.Version,
		"subject": p.Subject, "html": p.HTML, "text": p.Text, "model": p.Model})
}

type testMailInput struct {
	To     string `json:"to"`
	Locale string `json:"locale"`
}

func (s *Server) sendTestMail(c *gin.Context) {
	m := s.cfg.Mail
	var in testMailInput
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	msg, err := m.SendTest(c.Request.Context(), p.AccountID, p.Actor, c.Param("name"), in.Locale, in.To)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, msg)
}

func (s *Server) listMailMessages(c *gin.Context) {
	limit, err := intQuery(c, "limit", 0)
	if err != nil {
		s.fail(c, err)
		return
	}
	ms, err := mail.ListMessages(c.Request.Context(), s.cfg.DB, who(c).AccountID, c.Query("status"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ms == nil {
		ms = []mail.Message{}
	}
	c.JSON(http.StatusOK, gin.H{"messages": ms})
}

func (s *Server) getMailMessage(c *gin.Context) {
	m, err := mail.GetMessage(c.Request.Context(), s.cfg.DB, who(c).AccountID, c.Param("msg"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

type consoleEmailPage struct {
	Delivery  bool
	Templates []mail.Listed
	Messages  []mail.Message
}

func (s *Server) consoleEmail(c *gin.Context) {
	p := who(c)
	if !p.Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may manage email"))
		return
	}
	m := s.cfg.Mail
	d := consoleEmailPage{Delivery: m.Enabled()}
	var err error
	if d.Templates, err = m.Catalog.List(c.Request.Context()); err != nil {
		s.fail(c, err)
		return
	}
	if d.Messages, err = mail.ListMessages(c.Request.Context(), s.cfg.DB, p.AccountID, "", 50); err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "email", pageData{Title: "Email", Data: d})
}

// consoleEmailPreview serves a template's HTML rendered with sample data,
// for the console's preview frame: no scripts, no network, framed only by
// the console itself.
func (s *Server) consoleEmailPreview(c *gin.Context) {
	if !who(c).Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may preview email templates"))
		return
	}
	m := s.cfg.Mail
	p, err := m.Preview(c.Request.Context(), c.Param("name"), c.Query("locale"))
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox")
	body := p.HTML
	if body == "" {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(p.Text))
		return
	}
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(body))
}
