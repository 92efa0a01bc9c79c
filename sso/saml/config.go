// Package saml is the SAML 2.0 service provider side of SSO: one
// connection's SP (its keys, its metadata, signed AuthnRequests) and the
// checks that turn an IdP's Response into a connector.Assertion. It is
// built on crewjam/saml's ServiceProvider, not on samlsp's cookie
// middleware: the gateway keeps logins in flight and sessions itself
// (package sso), and this package adds what the library leaves to its
// caller (the request id each response must answer, refusing unsolicited
// responses, the database replay cache, the configured clock skew).
package saml

import (
	"context"
	"net/url"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/sso/connector"
)

// Bindings an AuthnRequest can be sent with.
const (
	BindingRedirect = "redirect"
	BindingPost     = "post"
)

// Config is one SAML connection as stored (JSON) and edited through the
// API.
type Config struct {
	// IDPMetadataXML is the IdP's metadata document. With IDPMetadataURL
	// set too, it is the last good copy fetched from there (Refresh
	// replaces it).
	IDPMetadataXML string `json:"idp_metadata_xml,omitempty"`
	// IDPMetadataURL is where the IdP publishes its metadata; refreshed on
	// the gateway's schedule.
	IDPMetadataURL string `json:"idp_metadata_url,omitempty"`
	// EntityID is this SP's entity id as the IdP knows it; empty means the
	// SP metadata URL, which is what most IdPs are given.
	EntityID string `json:"entity_id,omitempty"`
	// NameIDFormat asks the IdP for a NameID format: "persistent",
	// "email", "transient", "unspecified" (the default: the IdP decides)
	// or a format URI.
	NameIDFormat string `json:"name_id_format,omitempty"`
	// Binding is how AuthnRequests go to the IdP: "redirect" (default) or
	// "post"; when the IdP offers only the other one, that one is used.
	Binding string `json:"binding,omitempty"`
	// AllowIDPInitiated accepts responses no login of ours asked for (a
	// tile in the IdP's portal). Off by default: an unsolicited response
	// has no request to tie it to this browser.
	AllowIDPInitiated bool `json:"allow_idp_initiated,omitempty"`
	// Keys are the SP's key pairs. The first signs AuthnRequests; every
	// one is published in the SP metadata and tried to decrypt encrypted
	// assertions, so a rollover can publish the next key before it signs.
	// Made by Prepare when the connection is created without one.
	Keys []KeyPair `json:"keys,omitempty"`
}

// KeyPair is one SP key: a PEM private key (RSA) and its PEM certificate.
type KeyPair struct {
	PrivateKey  string `json:"private_key,omitempty"`
	Certificate string `json:"certificate"`
}

var (
	_ connector.Config     = (*Config)(nil)
	_ connector.Preparer   = (*Config)(nil)
	_ connector.Refresher  = (*Config)(nil)
	_ connector.KeyRotator = (*Config)(nil)
)

// maxKeys bounds the key list: a rollover needs two; a few more leave room
// for an admin's own scheme without letting a config grow without end.
const maxKeys = 4

// nameIDFormats are the short names an admin may use for the common
// formats.
var nameIDFormats = map[string]crewjam.NameIDFormat{
	"":            crewjam.UnspecifiedNameIDFormat,
	"unspecified": crewjam.UnspecifiedNameIDFormat,
	"persistent":  crewjam.PersistentNameIDFormat,
	"email":       crewjam.EmailAddressNameIDFormat,
	"transient":   crewjam.TransientNameIDFormat,
}

// Validate reports every problem at once, fields named "config.<json
// name>". A key pair's private key may be left out in an update only when
// KeepSecrets has filled it from the stored config before.
func (c *Config) Validate() error {
	var f problem.Fields
	if strings.TrimSpace(c.IDPMetadataXML) == "" && strings.TrimSpace(c.IDPMetadataURL) == "" {
		f.Add("config.idp_metadata_xml", "give the IdP's metadata (XML) or its URL in config.idp_metadata_url")
	}
	if c.IDPMetadataURL != "" {
		if msg := checkMetadataURL(c.IDPMetadataURL); msg != "" {
			f.Add("config.idp_metadata_url", msg)
		}
	}
	if strings.TrimSpace(c.IDPMetadataXML) != "" {
		if _, err := parseIDPMetadata([]byte(c.IDPMetadataXML)); err != nil {
			f.Add("config.idp_metadata_xml", err.Error())
		}
	}
	if c.EntityID != "" && strings.TrimSpace(c.EntityID) != c.EntityID {
		f.Add("config.entity_id", "must not start or end with spaces")
	}
	if _, err := c.nameIDFormat(); err != nil {
		f.Add("config.name_id_format", err.Error())
	}
	switch c.Binding {
	case "", BindingRedirect, BindingPost:
	default:
		f.Add("config.binding", `must be "redirect" or "post"`)
	}
	if len(c.Keys) > maxKeys {
		f.Add("config.keys", "at most 4 key pairs")
	}
	for i, k := range c.Keys {
		k.validate(i, &f)
	}
	return f.Err()
}

func checkMetadataURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "must be an absolute http(s) URL"
	}
	return ""
}

func (c *Config) nameIDFormat() (crewjam.NameIDFormat, error) {
	if f, ok := nameIDFormats[c.NameIDFormat]; ok {
		return f, nil
	}
	if strings.HasPrefix(c.NameIDFormat, "urn:") {
		return crewjam.NameIDFormat(c.NameIDFormat), nil
	}
	return "", errorString(`must be "persistent", "email", "transient", "unspecified" or a format URI (urn:...)`)
}

func (c *Config) binding() string {
	if c.Binding == BindingPost {
		return crewjam.HTTPPostBinding
	}
	return crewjam.HTTPRedirectBinding
}

// Open builds the connector. Without stored metadata XML (a connection
// given only a URL, not yet refreshed) the metadata is fetched here.
func (c *Config) Open(ctx context.Context, env connector.Env) (connector.Connector, error) {
	return open(ctx, c, env)
}

// KeepSecrets fills the private keys an update leaves out from stored: an
// update with no keys keeps the stored ones; a key pair given by its
// certificate alone takes the stored private key of that certificate.
func (c *Config) KeepSecrets(stored connector.Config) {
	s, ok := stored.(*Config)
	if !ok {
		return
	}
	if len(c.Keys) == 0 {
		c.Keys = append([]KeyPair(nil), s.Keys...)
		return
	}
	for i, k := range c.Keys {
		if k.PrivateKey != "" {
			continue
		}
		for _, sk := range s.Keys {
			if sameCertificate(k.Certificate, sk.Certificate) {
				c.Keys[i].PrivateKey = sk.PrivateKey
				break
			}
		}
	}
}

// clone copies c deep enough that changing the copy's keys leaves c alone.
func (c *Config) clone() *Config {
	n := *c
	n.Keys = append([]KeyPair(nil), c.Keys...)
	return &n
}

type errorString string

func (e errorString) Error() string { return string(e) }
