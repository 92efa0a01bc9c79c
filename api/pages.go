package api

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/resource"
)

//go:embed web/templates/*.html web/templates/parts/*.html
var templateFS embed.FS

//go:embed web/static
var staticFS embed.FS

// pageData is what every page template receives.
type pageData struct {
	Title     string
	Error     *errorBody
	Me        *principal
	RequestID string
	// Data holds the page's own model.
	Data any
}

var funcs = template.FuncMap{
	"roleName": func(r string) string {
		return map[string]string{"viewer": "Viewer", "speaker": "Speaker", "moderator": "Moderator",
			"owner": "Owner", "co_owner": "Co-owner", "co_editor": "Co-editor", "co_publisher": "Co-publisher",
			"admin": "Admin", "member": "Member"}[r]
	},
	"typeName": func(t resource.Type) string {
		return map[resource.Type]string{resource.Room: "Room", resource.Webcast: "Webcast", resource.Simulive: "Simulive",
			resource.DIYLive: "DIY live", resource.Video: "Video", resource.Audio: "Audio", resource.Quiz: "Quiz",
			resource.Document: "Document", resource.Image: "Image"}[t]
	},
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"rfc3339": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"rfc3339n":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"join":       strings.Join,
	"privileges": resource.Privileges,
}

// loadPages parses each page together with the shared layout and the
// parts pages share (web/templates/parts).
func loadPages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "web/templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "web/templates/layout.html", "web/templates/parts/*.html", n)
		if err != nil {
			return nil, fmt.Errorf("page %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// render writes a page; a template error is logged and shown as a plain 500.
func (s *Server) render(c *gin.Context, status int, page string, d pageData) {
	t, ok := s.pages[page]
	if !ok {
		reqLog(c).Error("unknown page", "page", page)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	d.RequestID = requestIDOf(c)
	if d.Me == nil {
		if p, ok := c.Get("principal"); ok {
			d.Me = p.(*principal)
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		reqLog(c).Error("render page", "page", page, "error", err.Error())
		c.String(http.StatusInternalServerError, "internal error; request id "+d.RequestID)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (s *Server) static(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	b, err := staticFS.ReadFile("web/static/" + name)
	if err != nil || strings.Contains(name, "..") {
		s.fail(c, errNoRoute)
		return
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	}
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, ct, b)
}
