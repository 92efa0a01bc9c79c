package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/invitegate/gateway/core/limit"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/plugins/host"
)

// Config is the gateway's whole configuration: a YAML file, then
// environment variables over it (GATEWAY_LISTEN, GATEWAY_BASE_URL,
// GATEWAY_DATABASE_DSN, GATEWAY_ADMIN_EMAIL, GATEWAY_LOG_LEVEL,
// GATEWAY_LOG_FORMAT, GATEWAY_MAIL_FROM, GATEWAY_MAIL_SMTP_HOST,
// GATEWAY_MAIL_SMTP_PORT, GATEWAY_MAIL_SMTP_TLS, GATEWAY_MAIL_SMTP_USERNAME,
// GATEWAY_MAIL_SMTP_PASSWORD).
type Config struct {
	// Listen is the address to serve on.
	Listen string `yaml:"listen"`
	// BaseURL is the public URL of the gateway, used in every link it makes.
	// Defaults to http://LISTEN.
	BaseURL  string `yaml:"base_url"`
	Database struct {
		// DSN: a SQLite file path (default data/gateway.db) or postgres://...
		DSN string `yaml:"dsn"`
		// MaxOpenConns bounds PostgreSQL connections per replica.
		MaxOpenConns int `yaml:"max_open_conns"`
	} `yaml:"database"`
	// Bootstrap is what the first start creates: an account and its admin.
	Bootstrap struct {
		AccountName string `yaml:"account_name"`
		AdminEmail  string `yaml:"admin_email"`
	} `yaml:"bootstrap"`
	Log struct {
		Level  string `yaml:"level"`  // debug, info, warn, error
		Format string `yaml:"format"` // json or text
	} `yaml:"log"`
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ShutdownTimeout bounds the graceful drain on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Invitations tunes the lobby's guess limits.
	Invitations struct {
		MaxGuessesPerLink      int `yaml:"max_guesses_per_link"`
		GuessesPerClientMinute int `yaml:"guesses_per_client_minute"`
	} `yaml:"invitations"`
	// Limits bounds what one client (by IP, as trusted_proxies tell it)
	// may do.
	Limits struct {
		// UnknownLinks: answers "this link does not exist" on invite,
		// login and confirmation links, together; past max within window
		// the client gets 429 on those links until the window ends.
		UnknownLinks limit.Rule `yaml:"unknown_links"`
		// SiteFormsPerMinute: event site registrations and sign-in link
		// requests (together) per client and replica.
		SiteFormsPerMinute int `yaml:"site_forms_per_minute"`
	} `yaml:"limits"`
	// Plugins are the out-of-process connectors to start.
	Plugins []host.Config `yaml:"plugins"`
	// Mail is email delivery; without smtp.host the gateway sends no email
	// (templates can still be previewed).
	Mail MailConfig `yaml:"mail"`
	// SSO tunes sign-in through identity providers.
	SSO SSOConfig `yaml:"sso"`
	// Webhooks tunes the delivery of events to the accounts' endpoints.
	Webhooks WebhooksConfig `yaml:"webhooks"`
}

// SSOConfig is the sso: section.
type SSOConfig struct {
	// ClockSkew is how far an identity provider's clock may be from ours.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// RequestLifetime is how long a sign-in may take at the provider.
	RequestLifetime time.Duration `yaml:"request_lifetime"`
	// MetadataRefresh is when IdP metadata is fetched again from its URL:
	// a cron expression or "@every <duration>".
	MetadataRefresh string `yaml:"metadata_refresh"`
}

// problems lists every mistake in the sso section.
func (c *SSOConfig) problems() []string {
	var out []string
	if c.ClockSkew < 0 || c.ClockSkew > 10*time.Minute {
		out = append(out, fmt.Sprintf("sso.clock_skew: %v must be between 0 and 10m, e.g. 2m", c.ClockSkew))
	}
	if c.RequestLifetime < time.Minute || c.RequestLifetime > time.Hour {
		out = append(out, fmt.Sprintf("sso.request_lifetime: %v must be between 1m and 1h, e.g. 10m", c.RequestLifetime))
	}
	if _, err := cron.ParseStandard(c.MetadataRefresh); err != nil {
		out = append(out, fmt.Sprintf("sso.metadata_refresh: %q is not a cron schedule (e.g. \"@every 1h\" or \"0 * * * *\"): %v", c.MetadataRefresh, err))
	}
	return out
}

// MailConfig is the mail: section.
type MailConfig struct {
	// From is the sender of every message: "Name <address>".
	From string          `yaml:"from"`
	SMTP mail.SMTPConfig `yaml:"smtp"`
	// Workers: SMTP connections per replica; Batch: messages a worker
	// claims at once.
	Workers int `yaml:"workers"`
	Batch   int `yaml:"batch"`
	// MaxAttempts before a message is failed; RetryBase doubles after each
	// failed try up to RetryMax.
	MaxAttempts int           `yaml:"max_attempts"`
	RetryBase   time.Duration `yaml:"retry_base"`
	RetryMax    time.Duration `yaml:"retry_max"`
	// Lease: a message claimed by a worker that died is claimed again
	// after it.
	Lease time.Duration `yaml:"lease"`
	// Poll: how often idle workers look for due messages.
	Poll time.Duration `yaml:"poll"`
	// Bounces is where delivery status notifications go and are read.
	Bounces BouncesConfig `yaml:"bounces"`
	// ScannerWindow: a page load of a link without cookies this soon
	// after its email was sent is taken for a mail filter's link scanner
	// (default 60s).
	ScannerWindow time.Duration `yaml:"scanner_window"`
}

// BouncesConfig is the mail.bounces: section.
type BouncesConfig struct {
	// Address is the envelope sender (MAIL FROM, Return-Path) of every
	// message, so delivery status notifications go to it; "" leaves it
	// the From address.
	Address string `yaml:"address"`
	// Maildir is the folder (with new/, cur/, tmp/) that the local MTA
	// delivers Address to; the gateway reads it every Every (default 1m).
	// "" reads no bounces.
	Maildir string        `yaml:"maildir"`
	Every   time.Duration `yaml:"every"`
}

// Enabled reports whether email is delivered.
func (m *MailConfig) Enabled() bool { return strings.TrimSpace(m.SMTP.Host) != "" }

// problems lists every mistake in the mail section.
func (m *MailConfig) problems() []string {
	var out []string
	if !m.Enabled() {
		if m.From != "" && !strings.Contains(m.From, "@") {
			out = append(out, fmt.Sprintf("mail.from: %q is not an email address", m.From))
		}
		return out
	}
	if m.From == "" {
		out = append(out, `mail.from: required with mail.smtp.host, e.g. "Invitegate <noreply@example.org>"`)
	} else if _, err := mail.ParseFrom(m.From); err != nil {
		out = append(out, "mail.from: "+err.Error())
	}
	out = append(out, m.SMTP.Problems("mail.smtp.")...)
	for _, n := range []struct {
		name string
		v    int
	}{{"workers", m.Workers}, {"batch", m.Batch}, {"max_attempts", m.MaxAttempts}} {
		if n.v < 0 {
			out = append(out, fmt.Sprintf("mail.%s: must not be negative", n.name))
		}
	}
	if m.Workers > 64 {
		out = append(out, "mail.workers: at most 64")
	}
	if m.Batch > 1000 {
		out = append(out, "mail.batch: at most 1000")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"retry_base", m.RetryBase}, {"retry_max", m.RetryMax}, {"lease", m.Lease}, {"poll", m.Poll}} {
		if d.v < 0 {
			out = append(out, fmt.Sprintf("mail.%s: must not be negative", d.name))
		}
	}
	if m.RetryBase > 0 && m.RetryMax > 0 && m.RetryMax < m.RetryBase {
		out = append(out, "mail.retry_max: must be at least mail.retry_base")
	}
	if m.Lease > 0 && m.Lease < 2*time.Second {
		out = append(out, "mail.lease: at least 2s")
	}
	return append(out, m.Bounces.problems(m.ScannerWindow)...)
}

// problems lists every mistake in the mail.bounces section (and the
// scanner window beside it).
func (b *BouncesConfig) problems(scannerWindow time.Duration) []string {
	var out []string
	if b.Address != "" {
		if _, err := mail.ParseFrom(b.Address); err != nil {
			out = append(out, "mail.bounces.address: "+err.Error())
		}
	}
	if b.Maildir != "" {
		for _, sub := range []string{"new", "cur"} {
			if fi, err := os.Stat(filepath.Join(b.Maildir, sub)); err != nil || !fi.IsDir() {
				out = append(out, fmt.Sprintf("mail.bounces.maildir: %s has no %s/ folder; it must be a Maildir the MTA delivers the bounce address to", b.Maildir, sub))
				break
			}
		}
	}
	if b.Every < 0 {
		out = append(out, "mail.bounces.every: must not be negative")
	}
	if scannerWindow < 0 {
		out = append(out, "mail.scanner_window: must not be negative")
	}
	return out
}

// Defaults is the configuration before the file and the environment: a
// gateway serving locally on SQLite.
func Defaults() *Config {
	c := &Config{Listen: "127.0.0.1:8080", ShutdownTimeout: 20 * time.Second}
	c.Database.DSN = "data/gateway.db"
	c.Bootstrap.AccountName = "My organization"
	c.Bootstrap.AdminEmail = "admin@example.com"
	c.Log.Level, c.Log.Format = "info", "text"
	c.Invitations.MaxGuessesPerLink, c.Invitations.GuessesPerClientMinute = 5, 10
	c.Limits.UnknownLinks = limit.Rule{Max: 20, Window: time.Minute}
	c.Limits.SiteFormsPerMinute = 20
	c.SSO = SSOConfig{ClockSkew: 2 * time.Minute, RequestLifetime: 10 * time.Minute, MetadataRefresh: "@every 1h"}
	return c
}

// Load reads the file (if required or present) and the environment over
// the defaults, then validates. A missing default file is fine: defaults
// serve locally.
func Load(path string, required bool) (*Config, error) {
	c := Defaults()
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	case os.IsNotExist(err) && !required:
	default:
		return nil, fmt.Errorf("config file: %w", err)
	}
	for env, dst := range map[string]*string{
		"GATEWAY_LISTEN": &c.Listen, "GATEWAY_BASE_URL": &c.BaseURL, "GATEWAY_DATABASE_DSN": &c.Database.DSN,
		"GATEWAY_ADMIN_EMAIL": &c.Bootstrap.AdminEmail, "GATEWAY_LOG_LEVEL": &c.Log.Level, "GATEWAY_LOG_FORMAT": &c.Log.Format,
		"GATEWAY_MAIL_FROM": &c.Mail.From, "GATEWAY_MAIL_SMTP_HOST": &c.Mail.SMTP.Host,
		"GATEWAY_MAIL_SMTP_USERNAME": &c.Mail.SMTP.Username, "GATEWAY_MAIL_SMTP_PASSWORD": &c.Mail.SMTP.Password,
		"GATEWAY_MAIL_SMTP_TLS": &c.Mail.SMTP.TLS,
	} {
		if v, ok := os.LookupEnv(env); ok {
			*dst = v
		}
	}
	var envErrs []error
	if v, ok := os.LookupEnv("GATEWAY_MAIL_SMTP_PORT"); ok {
		p, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("GATEWAY_MAIL_SMTP_PORT: %q is not a port number", v))
		}
		c.Mail.SMTP.Port = p
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Listen
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if err := c.Validate(); err != nil || len(envErrs) > 0 {
		return c, errors.Join(append(envErrs, err)...)
	}
	return c, nil
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen: %q is not host:port (%v)", c.Listen, err)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		add("base_url: %q must be an absolute http(s) URL without a path, e.g. https://invite.example.org", c.BaseURL)
	}
	if strings.TrimSpace(c.Database.DSN) == "" {
		add("database.dsn: empty; use a SQLite file path or a postgres:// URL")
	} else if store.DialectOf(c.Database.DSN) == store.Postgres {
		if _, err := url.Parse(c.Database.DSN); err != nil {
			add("database.dsn: not a valid URL: %v", err)
		}
	}
	if c.Database.MaxOpenConns < 0 {
		add("database.max_open_conns: must not be negative")
	}
	if strings.TrimSpace(c.Bootstrap.AccountName) == "" {
		add("bootstrap.account_name: empty")
	}
	if _, err := user.NormalizeEmail(c.Bootstrap.AdminEmail); err != nil {
		add("bootstrap.admin_email: %v", err)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		add("log.level: %v", err)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		add("log.format: %q must be json or text", c.Log.Format)
	}
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				add("trusted_proxies: %q is not an IP address or CIDR", p)
			}
		}
	}
	if c.ShutdownTimeout <= 0 {
		add("shutdown_timeout: must be positive, e.g. 20s")
	}
	if c.Invitations.MaxGuessesPerLink < 1 || c.Invitations.GuessesPerClientMinute < 1 {
		add("invitations: guess limits must be at least 1")
	}
	if u := c.Limits.UnknownLinks; u.Max < 1 {
		add("limits.unknown_links.max: %d must be at least 1, e.g. 20", u.Max)
	}
	if w := c.Limits.UnknownLinks.Window; w < time.Second || w > 24*time.Hour {
		add("limits.unknown_links.window: %v must be between 1s and 24h, e.g. 1m", w)
	}
	if c.Limits.SiteFormsPerMinute < 1 {
		add("limits.site_forms_per_minute: %d must be at least 1, e.g. 20", c.Limits.SiteFormsPerMinute)
	}
	for _, p := range c.Mail.problems() {
		errs = append(errs, errors.New(p))
	}
	for _, p := range c.SSO.problems() {
		errs = append(errs, errors.New(p))
	}
	for _, p := range c.Webhooks.problems() {
		errs = append(errs, errors.New(p))
	}
	names := map[string]bool{}
	for i, p := range c.Plugins {
		if err := p.Validate(); err != nil {
			add("plugins[%d]: %v", i, err)
		}
		if names[p.Name] {
			add("plugins[%d]: name %q is used twice", i, p.Name)
		}
		names[p.Name] = true
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// Logger is the log the configuration asks for, on standard error.
func (c *Config) Logger() *slog.Logger {
	lvl, _ := parseLevel(c.Log.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
