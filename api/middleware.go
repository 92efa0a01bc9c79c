package api

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

const requestIDHeader = "X-Request-ID"

type ctxKey int

const loggerKey ctxKey = iota

// requestID tags each request with an id (the caller's if it sent a sane
// one) that appears in the response, every log line and error pages.
func (s *Server) requestID(c *gin.Context) {
	rid := c.GetHeader(requestIDHeader)
	if !saneID(rid) {
		b := make([]byte, 8)
		rand.Read(b)
		rid = hex.EncodeToString(b)
	}
	c.Set("request_id", rid)
	c.Header(requestIDHeader, rid)
	// The request's logger is made only when something other than the
	// access log line logs (reqLog): a logger With an attribute formats and
	// copies it up front, on every request.
	c.Set("log", s.log)
	c.Next()
}

func saneID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// reqLog is the logger of the request, tagged with its id.
func reqLog(c *gin.Context) *slog.Logger {
	if l, ok := c.Get("log"); ok {
		return l.(*slog.Logger).With("request_id", requestIDOf(c))
	}
	return slog.Default()
}

func requestIDOf(c *gin.Context) string { return c.GetString("request_id") }

// accessLog logs the route pattern, never the raw path or query: links and
// join tokens travel in paths and queries, and tokens never reach the logs.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	status := c.Writer.Status()
	s.metrics.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Observe(d.Seconds())
	if route == "/metrics" || route == "/healthz" {
		return
	}
	// The same line reqLog(c) would write, request id first. The record is
	// made here rather than by Logger.LogAttrs, which walks the stack for
	// the caller's source line: always this function, on every request.
	ctx := c.Request.Context()
	if h := s.log.Handler(); h.Enabled(ctx, slog.LevelInfo) {
		r := slog.NewRecord(start.Add(d), slog.LevelInfo, "http", 0)
		r.AddAttrs(slog.String("request_id", requestIDOf(c)),
			slog.String("method", c.Request.Method), slog.String("route", route),
			slog.Int("status", status), slog.Duration("duration", d))
		h.Handle(ctx, r)
	}
}

// recover turns a panic into a logged error and a plain 500 page, never a stack trace.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			reqLog(c).Error("panic", "route", c.FullPath(), "panic", r)
			if !c.Writer.Written() {
				s.fail(c, errInternal)
			}
			c.Abort()
		}
	}()
	c.Next()
}

// securityHeaders keep pages from being framed, sniffed, or leaking the
// token in their URL through the Referer header.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Next()
}

type metrics struct {
	requests    *prometheus.HistogramVec
	redemptions *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gateway_http_request_duration_seconds", Help: "HTTP requests by method, route and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "status"}),
		redemptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_invite_redemptions_total", Help: "Invite link redemptions by outcome (ok, reentry, or the refusal code).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.redemptions)
	return m
}

var _ http.Handler = (*Server)(nil)
