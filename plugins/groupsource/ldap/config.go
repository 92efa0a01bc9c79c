package ldap

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/invitegate/gateway/plugins"
)

// Directory flavours: each sets the defaults of the attributes and filters
// below, so an OpenLDAP or an Active Directory source needs only its URL,
// bind and base DN.
const (
	FlavorOpenLDAP        = "openldap"
	FlavorActiveDirectory = "active_directory"
)

// Config is the plugin's configuration object (the `config:` of its entry in
// the gateway's config file). Empty fields take their flavour's default.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool `json:"start_tls,omitempty"`
	// CAFile is a PEM file of the CA certificates that sign the directory's
	// certificate; without it the system's roots are used.
	CAFile string `json:"ca_file,omitempty"`
	// ServerName overrides the host name checked against the certificate.
	ServerName string `json:"server_name,omitempty"`
	// BindDN and BindPassword (or BindPasswordFile) authenticate; with no
	// BindDN the plugin binds anonymously.
	BindDN           string `json:"bind_dn,omitempty"`
	BindPassword     string `json:"bind_password,omitempty"`
	BindPasswordFile string `json:"bind_password_file,omitempty"`

	// Flavor is "openldap" (default) or "active_directory".
	Flavor string `json:"flavor,omitempty"`
	// BaseDN is where groups and users are searched (whole subtree).
	BaseDN string `json:"base_dn"`
	// GroupBaseDN and UserBaseDN narrow the two searches; default BaseDN.
	GroupBaseDN string `json:"group_base_dn,omitempty"`
	UserBaseDN  string `json:"user_base_dn,omitempty"`
	GroupFilter string `json:"group_filter,omitempty"`
	UserFilter  string `json:"user_filter,omitempty"`

	// GroupIDAttribute is the group's stable id (entryUUID; AD objectGUID).
	GroupIDAttribute string `json:"group_id_attribute,omitempty"`
	// GroupNameAttribute is the group's shown name (cn).
	GroupNameAttribute string `json:"group_name_attribute,omitempty"`
	// MemberAttributes hold members' DNs (member, uniqueMember; AD member).
	MemberAttributes []string `json:"member_attributes,omitempty"`
	// MemberUIDAttribute holds members' uids (posixGroup's memberUid),
	// matched against users' UIDAttribute. "none" turns it off.
	MemberUIDAttribute string `json:"member_uid_attribute,omitempty"`
	// NestedGroups counts the members of member groups as members, at any
	// depth (cycles are safe).
	NestedGroups bool `json:"nested_groups,omitempty"`

	// UserIDAttribute is the person's stable id (entryUUID; AD objectGUID).
	UserIDAttribute string `json:"user_id_attribute,omitempty"`
	// EmailAttribute is the person's email (mail).
	EmailAttribute string `json:"email_attribute,omitempty"`
	// NameAttributes are tried in order for the person's name
	// (displayName, then cn).
	NameAttributes []string `json:"name_attributes,omitempty"`
	// UIDAttribute is what memberUid values name (uid; AD sAMAccountName).
	UIDAttribute string `json:"uid_attribute,omitempty"`

	// PageSize is the RFC 2696 page size (default 500): every search is
	// paged, so a directory's size limit does not cut a large listing.
	PageSize int `json:"page_size,omitempty"`
	// TimeoutSeconds bounds connecting and each request (default 30).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`

	password string
	roots    *x509.CertPool
}

// flavorDefaults are a flavour's defaults; a configured value always wins.
func flavorDefaults(flavor string) (Config, bool) {
	switch flavor {
	case FlavorOpenLDAP:
		return Config{
			GroupFilter:        "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))",
			UserFilter:         "(|(objectClass=inetOrgPerson)(objectClass=posixAccount))",
			GroupIDAttribute:   "entryUUID",
			GroupNameAttribute: "cn",
			MemberAttributes:   []string{"member", "uniqueMember"},
			MemberUIDAttribute: "memberUid",
			UserIDAttribute:    "entryUUID",
			EmailAttribute:     "mail",
			NameAttributes:     []string{"displayName", "cn"},
			UIDAttribute:       "uid",
		}, true
	case FlavorActiveDirectory:
		return Config{
			GroupFilter:        "(objectClass=group)",
			UserFilter:         "(&(objectCategory=person)(objectClass=user))",
			GroupIDAttribute:   "objectGUID",
			GroupNameAttribute: "cn",
			MemberAttributes:   []string{"member"},
			MemberUIDAttribute: "none",
			UserIDAttribute:    "objectGUID",
			EmailAttribute:     "mail",
			NameAttributes:     []string{"displayName", "cn"},
			UIDAttribute:       "sAMAccountName",
		}, true
	}
	return Config{}, false
}

const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["url", "base_dn"],
  "properties": {
    "url": {"type": "string", "description": "ldap://host:389 or ldaps://host:636"},
    "start_tls": {"type": "boolean", "description": "upgrade ldap:// to TLS before binding"},
    "ca_file": {"type": "string", "description": "PEM CA certificates for LDAPS/StartTLS (default: system roots)"},
    "server_name": {"type": "string", "description": "name checked against the server certificate (default: the URL's host)"},
    "bind_dn": {"type": "string", "description": "DN to bind as; empty: anonymous"},
    "bind_password": {"type": "string"},
    "bind_password_file": {"type": "string", "description": "file holding the bind password"},
    "flavor": {"enum": ["openldap", "active_directory"], "description": "sets the defaults below (default openldap)"},
    "base_dn": {"type": "string"},
    "group_base_dn": {"type": "string", "description": "default: base_dn"},
    "user_base_dn": {"type": "string", "description": "default: base_dn"},
    "group_filter": {"type": "string"},
    "user_filter": {"type": "string"},
    "group_id_attribute": {"type": "string", "description": "default entryUUID (AD: objectGUID)"},
    "group_name_attribute": {"type": "string", "description": "default cn"},
    "member_attributes": {"type": "array", "items": {"type": "string"}, "description": "DN-valued member attributes (default member, uniqueMember)"},
    "member_uid_attribute": {"type": "string", "description": "uid-valued member attribute (default memberUid; none: off)"},
    "nested_groups": {"type": "boolean"},
    "user_id_attribute": {"type": "string", "description": "default entryUUID (AD: objectGUID)"},
    "email_attribute": {"type": "string", "description": "default mail"},
    "name_attributes": {"type": "array", "items": {"type": "string"}, "description": "default displayName, cn"},
    "uid_attribute": {"type": "string", "description": "default uid (AD: sAMAccountName)"},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 10000},
    "timeout_seconds": {"type": "integer", "minimum": 1}
  }
}`

// check fills the defaults in and returns every problem at once. It reads
// the password and CA files, so a wrong path is reported at start.
func (c *Config) check() error {
	var p plugins.ConfigErrors
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		p.Add("url", "is required (ldap://host:389 or ldaps://host:636)")
	case err != nil:
		p.Add("url", "is not a URL: %v", err)
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		p.Add("url", "must start with ldap:// or ldaps://, not %q", c.URL)
	case u.Host == "":
		p.Add("url", "names no host: %q", c.URL)
	case c.StartTLS && u.Scheme == "ldaps":
		p.Add("start_tls", "cannot be used with ldaps:// (the connection is TLS already)")
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			p.Add("ca_file", "cannot be read: %v", err)
		} else {
			c.roots = x509.NewCertPool()
			if !c.roots.AppendCertsFromPEM(pem) {
				p.Add("ca_file", "%s holds no PEM certificate", c.CAFile)
			}
		}
	}
	c.password = c.BindPassword
	switch {
	case c.BindPassword != "" && c.BindPasswordFile != "":
		p.Add("bind_password_file", "give bind_password or bind_password_file, not both")
	case c.BindPasswordFile != "":
		b, err := os.ReadFile(c.BindPasswordFile)
		if err != nil {
			p.Add("bind_password_file", "cannot be read: %v", err)
		}
		c.password = strings.TrimRight(string(b), "\r\n")
		if err == nil && c.password == "" {
			p.Add("bind_password_file", "%s is empty", c.BindPasswordFile)
		}
	}
	if c.BindDN == "" && c.password != "" {
		p.Add("bind_dn", "is required with a bind password (leave both empty to bind anonymously)")
	}
	if c.BindDN != "" && c.password == "" && c.BindPasswordFile == "" {
		p.Add("bind_password", "is required with bind_dn (an empty password would be an unauthenticated bind)")
	}
	if c.Flavor == "" {
		c.Flavor = FlavorOpenLDAP
	}
	def, ok := flavorDefaults(c.Flavor)
	if !ok {
		p.Add("flavor", "must be openldap or active_directory, not %q", c.Flavor)
	}
	c.applyDefaults(def)
	if c.BaseDN == "" {
		p.Add("base_dn", "is required")
	}
	for field, dn := range map[string]string{"bind_dn": c.BindDN, "base_dn": c.BaseDN, "group_base_dn": c.GroupBaseDN, "user_base_dn": c.UserBaseDN} {
		if dn != "" {
			if _, err := goldap.ParseDN(dn); err != nil {
				p.Add(field, "is not a DN: %v", err)
			}
		}
	}
	for field, f := range map[string]string{"group_filter": c.GroupFilter, "user_filter": c.UserFilter} {
		if f == "" && !ok {
			continue // no default without a known flavour: reported above
		}
		if _, err := goldap.CompileFilter(f); err != nil {
			p.Add(field, "is not an LDAP filter: %v", err)
		}
	}
	if c.PageSize < 0 || c.PageSize > 10000 {
		p.Add("page_size", "must be between 1 and 10000, not %d", c.PageSize)
	}
	if c.TimeoutSeconds < 0 {
		p.Add("timeout_seconds", "must be positive, not %d", c.TimeoutSeconds)
	}
	for i, a := range c.MemberAttributes {
		if a == "" || strings.ContainsAny(a, " ;()") {
			p.Add(fmt.Sprintf("member_attributes[%d]", i), "is not an attribute name: %q", a)
		}
	}
	return p.Err()
}

func (c *Config) applyDefaults(def Config) {
	str := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	str(&c.GroupBaseDN, c.BaseDN)
	str(&c.UserBaseDN, c.BaseDN)
	str(&c.GroupFilter, def.GroupFilter)
	str(&c.UserFilter, def.UserFilter)
	str(&c.GroupIDAttribute, def.GroupIDAttribute)
	str(&c.GroupNameAttribute, def.GroupNameAttribute)
	str(&c.MemberUIDAttribute, def.MemberUIDAttribute)
	str(&c.UserIDAttribute, def.UserIDAttribute)
	str(&c.EmailAttribute, def.EmailAttribute)
	str(&c.UIDAttribute, def.UIDAttribute)
	if c.MemberUIDAttribute == "none" {
		c.MemberUIDAttribute = ""
	}
	if len(c.MemberAttributes) == 0 {
		c.MemberAttributes = def.MemberAttributes
	}
	if len(c.NameAttributes) == 0 {
		c.NameAttributes = def.NameAttributes
	}
	if c.PageSize == 0 {
		c.PageSize = 500
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = 30
	}
}

func (c *Config) timeout() time.Duration { return time.Duration(c.TimeoutSeconds) * time.Second }
