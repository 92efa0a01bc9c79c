// Package remote is a template provider that fetches email templates over
// HTTP(S) from one URL serving a JSON document:
//
//	{"templates": [
//	  {"name": "invitation", "locale": "en", "subject": "...", "html": "...",
//	   "text": "...", "version": "optional"}
//	]}
//
// A template without a version gets a hash of its content, so the version
// changes exactly when the content does. The provider sends If-None-Match
// with the last ETag and reuses its last list on 304 Not Modified.
package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// Version is this plugin's release.
const Version = "1.0.0"

// Config is the plugin's configuration object.
type Config struct {
	// URL serves the templates document (http or https).
	URL string `json:"url"`
	// Headers are sent with every request (e.g. Authorization).
	Headers map[string]string `json:"headers,omitempty"`
	// TimeoutSeconds bounds one fetch (default 30).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	// MaxBytes bounds the document (default 4 MiB).
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["url"],
  "additionalProperties": false,
  "properties": {
    "url": {"type": "string", "description": "http(s) URL of a JSON document {\"templates\": [{name, locale, subject, html, text, version}]}"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "sent with every request, e.g. Authorization"},
    "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 300, "default": 30},
    "max_bytes": {"type": "integer", "minimum": 1024, "default": 4194304}
  }
}`

// Provider implements templateprovider.TemplateProvider.
type Provider struct {
	// Client makes the requests (default: http.Client with the timeout).
	Client *http.Client

	mu   sync.Mutex
	cfg  *Config
	etag string
	last []templateprovider.Template
}

// New returns an unconfigured provider.
func New() *Provider { return &Provider{} }

// Info implements plugins.Plugin.
func (p *Provider) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name: "template-http", Version: Version,
		Description:  "Email templates fetched over HTTP(S) from a URL",
		ConfigSchema: json.RawMessage(schema),
	}, nil
}

// Configure implements plugins.Plugin.
func (p *Provider) Configure(_ context.Context, _ uint32, raw json.RawMessage) error {
	var cfg Config
	if err := plugins.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	var problems plugins.ConfigErrors
	if cfg.URL == "" {
		problems.Add("url", "is required")
	} else if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems.Add("url", "%q is not an absolute http(s) URL", cfg.URL)
	}
	for k := range cfg.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(cfg.Headers[k], "\r\n") {
			problems.Add("headers."+k, "is not a valid header")
		}
	}
	if cfg.TimeoutSeconds < 0 || cfg.TimeoutSeconds > 300 {
		problems.Add("timeout_seconds", "must be between 1 and 300")
	}
	if cfg.MaxBytes < 0 || (cfg.MaxBytes > 0 && cfg.MaxBytes < 1024) {
		problems.Add("max_bytes", "must be at least 1024")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	if cfg.TimeoutSeconds == 0 {
		cfg.TimeoutSeconds = 30
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 4 << 20
	}
	p.mu.Lock()
	if p.cfg == nil || p.cfg.URL != cfg.URL {
		p.etag, p.last = "", nil
	}
	p.cfg = &cfg
	p.mu.Unlock()
	return nil
}

func (p *Provider) config() (*Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg == nil {
		return nil, fmt.Errorf("%w: not configured", plugins.ErrUnavailable)
	}
	return p.cfg, nil
}

// Health implements plugins.Plugin. The remote server being down is not the
// plugin being unhealthy (a restart would not help): a refresh reports it.
func (p *Provider) Health(context.Context) error {
	_, err := p.config()
	return err
}

type document struct {
	Templates []struct {
		Name    string `json:"name"`
		Locale  string `json:"locale"`
		Subject string `json:"subject"`
		HTML    string `json:"html"`
		Text    string `json:"text"`
		Version string `json:"version"`
	} `json:"templates"`
}

// ListTemplates implements templateprovider.TemplateProvider.
func (p *Provider) ListTemplates(ctx context.Context) ([]templateprovider.Template, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.TimeoutSeconds)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", plugins.ErrInvalid, err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range cfg.Headers {
		req.Header.Set(k, v)
	}
	p.mu.Lock()
	etag, last := p.etag, p.last
	p.mu.Unlock()
	if etag != "" && last != nil {
		req.Header.Set("If-None-Match", etag)
	}
	client := p.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetch %s: %v", plugins.ErrUnavailable, redact(cfg.URL), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && last != nil:
		return last, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: %s answered %s", plugins.ErrUnavailable, redact(cfg.URL), resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s answered %s", plugins.ErrInvalid, redact(cfg.URL), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", plugins.ErrUnavailable, redact(cfg.URL), err)
	}
	if int64(len(body)) > cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %s is larger than max_bytes (%d)", plugins.ErrInvalid, redact(cfg.URL), cfg.MaxBytes)
	}
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s is not a templates document: %v", plugins.ErrInvalid, redact(cfg.URL), err)
	}
	out := make([]templateprovider.Template, 0, len(doc.Templates))
	var problems []error
	for i, t := range doc.Templates {
		if t.Name == "" || t.Locale == "" {
			problems = append(problems, fmt.Errorf("templates[%d]: name and locale are required", i))
			continue
		}
		tt := templateprovider.Template{Name: t.Name, Locale: t.Locale, Subject: strings.TrimSpace(t.Subject), HTML: t.HTML, Text: t.Text, Version: t.Version}
		if tt.Version == "" {
			tt.Version = hashVersion(tt)
		}
		out = append(out, tt)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %w", plugins.ErrInvalid, errors.Join(problems...))
	}
	p.mu.Lock()
	p.etag, p.last = resp.Header.Get("ETag"), out
	p.mu.Unlock()
	return out, nil
}

func hashVersion(t templateprovider.Template) string {
	h := sha256.New()
	for _, s := range []string{t.Subject, t.HTML, t.Text} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// redact drops credentials and the query from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the templates URL"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

var _ templateprovider.TemplateProvider = (*Provider)(nil)
