package scim

import (
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/invitegate/gateway/plugins"
)

// Config is the plugin's configuration object.
type Config struct {
	// URL is the SCIM service's base, the one /Users and /Groups hang off
	// (https://idp.example.org/scim/v2).
	URL string `json:"url"`
	// Token (or TokenFile) is the bearer token sent with every request.
	Token     string `json:"token,omitempty"`
	TokenFile string `json:"token_file,omitempty"`
	// PageSize is the count asked for per page (default 100); a server may
	// send fewer, and paging follows what it sent.
	PageSize int `json:"page_size,omitempty"`
	// TimeoutSeconds bounds each request (default 30).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`

	base  *url.URL
	token string
}

const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["url"],
  "properties": {
    "url": {"type": "string", "description": "the SCIM 2.0 base URL, e.g. https://idp.example.org/scim/v2"},
    "token": {"type": "string", "description": "bearer token"},
    "token_file": {"type": "string", "description": "file holding the bearer token"},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "default 100"},
    "timeout_seconds": {"type": "integer", "minimum": 1, "description": "per request, default 30"}
  }
}`

// check fills the defaults in and returns every problem at once.
func (c *Config) check() error {
	var p plugins.ConfigErrors
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		p.Add("url", "is required (the SCIM base URL, e.g. https://idp.example.org/scim/v2)")
	case err != nil:
		p.Add("url", "is not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		p.Add("url", "must be an http:// or https:// URL, not %q", c.URL)
	case u.Host == "":
		p.Add("url", "names no host: %q", c.URL)
	default:
		u.Path = strings.TrimSuffix(u.Path, "/")
		c.base = u
	}
	c.token = c.Token
	switch {
	case c.Token != "" && c.TokenFile != "":
		p.Add("token_file", "give token or token_file, not both")
	case c.TokenFile != "":
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			p.Add("token_file", "cannot be read: %v", err)
		}
		c.token = strings.TrimSpace(string(b))
		if err == nil && c.token == "" {
			p.Add("token_file", "%s is empty", c.TokenFile)
		}
	case c.Token == "":
		p.Add("token", "is required (the bearer token the SCIM server gave for this client)")
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		p.Add("page_size", "must be between 1 and 1000, not %d", c.PageSize)
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = 30
	}
	if c.TimeoutSeconds < 0 {
		p.Add("timeout_seconds", "must be positive, not %d", c.TimeoutSeconds)
	}
	return p.Err()
}

func (c *Config) timeout() time.Duration { return time.Duration(c.TimeoutSeconds) * time.Second }
