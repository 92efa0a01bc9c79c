package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/webhook"
)

// Webhooks: the account's endpoints, their secrets and recent deliveries,
// for account admins (the API and the console page).

func (s *Server) webhookRoutes(v1 *gin.RouterGroup) {
	v1.GET("/webhooks", s.adminOnly, s.listWebhooks)
	v1.POST("/webhooks", s.adminOnly, s.createWebhook)
	v1.GET("/webhooks/:id", s.adminOnly, s.getWebhook)
	v1.PATCH("/webhooks/:id", s.adminOnly, s.updateWebhook)
	v1.DELETE("/webhooks/:id", s.adminOnly, s.deleteWebhook)
	v1.POST("/webhooks/:id/rotate-secret", s.adminOnly, s.rotateWebhookSecret)
	v1.GET("/webhooks/:id/deliveries", s.adminOnly, s.listWebhookDeliveries)
	v1.POST("/webhooks/:id/deliveries/:delivery/replay", s.adminOnly, s.replayWebhookDelivery)
	v1.POST("/webhooks/:id/test", s.adminOnly, s.testWebhook)
}

func (s *Server) consoleWebhookRoutes(con *gin.RouterGroup) {
	con.GET("/webhooks", s.consoleWebhooks)
	con.GET("/webhooks/:id", s.consoleWebhook)
}

// endpointView is an endpoint as the API shows it, with its types as a list.
type endpointView struct {
	webhook.Endpoint
	Types []string `json:"types"`
}

func viewOf(ep *webhook.Endpoint) endpointView {
	ts := ep.Types()
	if ts == nil {
		ts = []string{}
	}
	return endpointView{Endpoint: *ep, Types: ts}
}

// secretView is an endpoint with its secret, shown once.
type secretView struct {
	endpointView
	Secret string `json:"secret"`
}

func (s *Server) listWebhooks(c *gin.Context) {
	eps, err := s.cfg.Webhooks.List(c.Request.Context(), who(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]endpointView, len(eps))
	for i := range eps {
		out[i] = viewOf(&eps[i])
	}
	c.JSON(http.StatusOK, gin.H{"webhooks": out, "types": webhook.Types()})
}

func (s *Server) createWebhook(c *gin.Context) {
	var in webhook.Input
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	ep, err := s.cfg.Webhooks.Create(c.Request.Context(), p.AccountID, p.Actor, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, secretView{endpointView: viewOf(&ep.Endpoint), Secret: ep.Secret})
}

func (s *Server) getWebhook(c *gin.Context) {
	ep, err := s.cfg.Webhooks.Get(c.Request.Context(), who(c).AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewOf(ep))
}

func (s *Server) updateWebhook(c *gin.Context) {
	var in webhook.Patch
	if err := bind(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	ep, err := s.cfg.Webhooks.Update(c.Request.Context(), p.AccountID, p.Actor, c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewOf(ep))
}

func (s *Server) deleteWebhook(c *gin.Context) {
	p := who(c)
	if err := s.cfg.Webhooks.Delete(c.Request.Context(), p.AccountID, p.Actor, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) rotateWebhookSecret(c *gin.Context) {
	p := who(c)
	ep, err := s.cfg.Webhooks.RotateSecret(c.Request.Context(), p.AccountID, p.Actor, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, secretView{endpointView: viewOf(&ep.Endpoint), Secret: ep.Secret})
}

func (s *Server) listWebhookDeliveries(c *gin.Context) {
	limit, err := intQuery(c, "limit", 50)
	if err != nil {
		s.fail(c, err)
		return
	}
	if limit < 1 || limit > 500 {
		s.fail(c, problem.Field("limit", "limit must be between 1 and 500"))
		return
	}
	ds, err := s.cfg.Webhooks.Deliveries(c.Request.Context(), who(c).AccountID, c.Param("id"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ds == nil {
		ds = []webhook.DeliveryView{}
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": ds})
}

func (s *Server) replayWebhookDelivery(c *gin.Context) {
	p := who(c)
	d, err := s.cfg.Webhooks.Replay(c.Request.Context(), p.AccountID, p.Actor, c.Param("id"), c.Param("delivery"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, d)
}

func (s *Server) testWebhook(c *gin.Context) {
	p := who(c)
	d, err := s.cfg.Webhooks.SendTest(c.Request.Context(), p.AccountID, p.Actor, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, d)
}

type consoleWebhooksPage struct {
	Endpoints []endpointView
	Types     []string
}

type consoleWebhookPage struct {
	Endpoint   endpointView
	Types      []string
	Deliveries []webhook.DeliveryView
}

func (s *Server) consoleWebhooks(c *gin.Context) {
	p := who(c)
	if !p.Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may manage webhooks"))
		return
	}
	eps, err := s.cfg.Webhooks.List(c.Request.Context(), p.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleWebhooksPage{Types: webhook.Types()}
	for i := range eps {
		d.Endpoints = append(d.Endpoints, viewOf(&eps[i]))
	}
	s.render(c, http.StatusOK, "webhooks", pageData{Title: "Webhooks", Data: d})
}

func (s *Server) consoleWebhook(c *gin.Context) {
	p := who(c)
	if !p.Admin {
		s.fail(c, problem.New(problem.Forbidden, "admin_only", "only an account admin may manage webhooks"))
		return
	}
	ctx := c.Request.Context()
	ep, err := s.cfg.Webhooks.Get(ctx, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	ds, err := s.cfg.Webhooks.Deliveries(ctx, p.AccountID, ep.ID, 50)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "webhook", pageData{Title: "Webhook " + ep.URL, Data: consoleWebhookPage{Endpoint: viewOf(ep), Types: webhook.Types(), Deliveries: ds}})
}
