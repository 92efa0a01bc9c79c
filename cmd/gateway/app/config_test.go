package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/limit"
)

func TestUnknownLinkLimitConfig(t *testing.T) {
	dir := t.TempDir()
	load := func(yaml string) (*Config, error) {
		p := filepath.Join(dir, "gateway.yaml")
		os.WriteFile(p, []byte(yaml), 0o600)
		return Load(p, true)
	}
	c, err := load("")
	if err != nil || c.Limits.UnknownLinks != (limit.Rule{Max: 20, Window: time.Minute}) {
		t.Fatalf("default unknown-link limit: %+v, %v", c.Limits.UnknownLinks, err)
	}
	c, err = load("limits: {unknown_links: {max: 50}}\n")
	if err != nil || c.Limits.UnknownLinks != (limit.Rule{Max: 50, Window: time.Minute}) {
		t.Fatalf("max alone keeps the default window: %+v, %v", c.Limits.UnknownLinks, err)
	}
	_, err = load("limits: {unknown_links: {max: 0, window: 500ms}}\n")
	if err == nil || !strings.Contains(err.Error(), "limits.unknown_links.max") || !strings.Contains(err.Error(), "limits.unknown_links.window") {
		t.Fatalf("a zero max and a half-second window: %v", err)
	}
	if _, err = load("limits: {unknown_links: {window: 48h}}\n"); err == nil || !strings.Contains(err.Error(), "limits.unknown_links.window: 48h0m0s must be between 1s and 24h") {
		t.Fatalf("a two-day window: %v", err)
	}
	if _, err = load("limits: {unknown_link: {max: 5}}\n"); err == nil || !strings.Contains(err.Error(), "unknown_link") {
		t.Fatalf("a misspelt key: %v", err)
	}
}

func TestMailConfigProblems(t *testing.T) {
	c := Defaults()
	c.BaseURL = "http://127.0.0.1:8080"
	c.Mail.SMTP.Host = "smtp.example.org"
	c.Mail.SMTP.TLS = "ssl"
	c.Mail.SMTP.Username = "u"
	c.Mail.Workers = -1
	c.Mail.Lease = time.Second
	err := c.Validate()
	if err == nil {
		t.Fatal("bad mail config accepted")
	}
	for _, want := range []string{"mail.from: required", `mail.smtp.tls: "ssl"`, "mail.smtp.username and password", "mail.workers", "mail.lease"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	c.Mail = MailConfig{From: "Gateway <gw@example.org>"}
	c.Mail.SMTP.Host = "smtp.example.org"
	if err := c.Validate(); err != nil {
		t.Fatalf("good mail config refused: %v", err)
	}
}

func TestSiteFormsLimitConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	os.WriteFile(p, []byte(""), 0o600)
	if c, err := Load(p, true); err != nil || c.Limits.SiteFormsPerMinute != 20 {
		t.Fatalf("default site form limit: %d, %v", c.Limits.SiteFormsPerMinute, err)
	}
	os.WriteFile(p, []byte("limits: {site_forms_per_minute: 5}\n"), 0o600)
	if c, err := Load(p, true); err != nil || c.Limits.SiteFormsPerMinute != 5 {
		t.Fatalf("site_forms_per_minute: 5: %d, %v", c.Limits.SiteFormsPerMinute, err)
	}
	os.WriteFile(p, []byte("limits: {site_forms_per_minute: 0}\n"), 0o600)
	if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), "limits.site_forms_per_minute: 0 must be at least 1") {
		t.Fatalf("a zero site form limit: %v", err)
	}
}

func TestSSOConfig(t *testing.T) {
	dir := t.TempDir()
	load := func(yaml string) (*Config, error) {
		p := filepath.Join(dir, "gateway.yaml")
		os.WriteFile(p, []byte(yaml), 0o600)
		return Load(p, true)
	}
	c, err := load("")
	if err != nil || c.SSO != (SSOConfig{ClockSkew: 2 * time.Minute, RequestLifetime: 10 * time.Minute, MetadataRefresh: "@every 1h"}) {
		t.Fatalf("default sso section: %+v, %v", c.SSO, err)
	}
	c, err = load("sso: {clock_skew: 30s, metadata_refresh: \"0 */6 * * *\"}\n")
	if err != nil || c.SSO.ClockSkew != 30*time.Second || c.SSO.MetadataRefresh != "0 */6 * * *" || c.SSO.RequestLifetime != 10*time.Minute {
		t.Fatalf("sso section: %+v, %v", c.SSO, err)
	}
	_, err = load("sso: {clock_skew: 1h, request_lifetime: 10s, metadata_refresh: hourly}\n")
	for _, want := range []string{"sso.clock_skew", "sso.request_lifetime", "sso.metadata_refresh"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad sso section: %v, want it to name %s", err, want)
		}
	}
}

func TestMailBouncesConfig(t *testing.T) {
	c := Defaults()
	c.BaseURL = "http://127.0.0.1:8080"
	c.Mail = MailConfig{From: "Gateway <gw@example.org>", ScannerWindow: -time.Second,
		Bounces: BouncesConfig{Address: "not an address", Maildir: t.TempDir(), Every: -time.Minute}}
	c.Mail.SMTP.Host = "smtp.example.org"
	err := c.Validate()
	if err == nil {
		t.Fatal("bad mail.bounces accepted")
	}
	for _, want := range []string{"mail.bounces.address", "mail.bounces.maildir", "has no new/ folder", "mail.bounces.every", "mail.scanner_window"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	dir := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.Mail.ScannerWindow = 0
	c.Mail.Bounces = BouncesConfig{Address: "bounces@example.org", Maildir: dir}
	if err := c.Validate(); err != nil {
		t.Fatalf("good mail.bounces refused: %v", err)
	}
}
