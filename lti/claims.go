package lti

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4/jwt"
)

// Claim names of LTI Core 1.3 (§5.3, §5.4).
const (
	claimPrefix       = "https://purl.imsglobal.org/spec/lti/claim/"
	claimMessageType  = claimPrefix + "message_type"
	claimVersion      = claimPrefix + "version"
	claimDeploymentID = claimPrefix + "deployment_id"
	claimTargetLink   = claimPrefix + "target_link_uri"
	claimResourceLink = claimPrefix + "resource_link"
	claimRoles        = claimPrefix + "roles"
	claimContext      = claimPrefix + "context"
	claimCustom       = claimPrefix + "custom"
	claimNRPS         = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
	claimDeepLinking  = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
)

// Message types and the version this tool speaks.
const (
	MessageResourceLink = "LtiResourceLinkRequest"
	MessageDeepLinking  = "LtiDeepLinkingRequest"
	Version             = "1.3.0"
)

// Claims are what a launch's id_token says, as far as the tool reads it.
type Claims struct {
	Issuer     string           `json:"iss"`
	Subject    string           `json:"sub"`
	Audience   jwt.Audience     `json:"aud"`
	AZP        string           `json:"azp,omitempty"`
	Expiry     *jwt.NumericDate `json:"exp"`
	IssuedAt   *jwt.NumericDate `json:"iat"`
	Nonce      string           `json:"nonce"`
	Email      string           `json:"email,omitempty"`
	Name       string           `json:"name,omitempty"`
	GivenName  string           `json:"given_name,omitempty"`
	FamilyName string           `json:"family_name,omitempty"`

	MessageType   string `json:"https://purl.imsglobal.org/spec/lti/claim/message_type"`
	Version       string `json:"https://purl.imsglobal.org/spec/lti/claim/version"`
	DeploymentID  string `json:"https://purl.imsglobal.org/spec/lti/claim/deployment_id"`
	TargetLinkURI string `json:"https://purl.imsglobal.org/spec/lti/claim/target_link_uri"`
	// Roles is nil when the claim is absent (refused), empty when the
	// platform says the launcher has none.
	Roles        *[]string     `json:"https://purl.imsglobal.org/spec/lti/claim/roles"`
	ResourceLink *ResourceLink `json:"https://purl.imsglobal.org/spec/lti/claim/resource_link,omitempty"`
	Context      *Context      `json:"https://purl.imsglobal.org/spec/lti/claim/context,omitempty"`
	Custom       Custom        `json:"https://purl.imsglobal.org/spec/lti/claim/custom,omitempty"`
	// Extensions are the other claims named by a URL (a platform's own,
	// such as Sakai's https://www.sakailms.org/spec/lti/claim/extension,
	// and LTI's ext, lis and tool_platform), each as its JSON text, for
	// the room adapter.
	Extensions map[string]string `json:"-"`
	// NRPS is the Names and Role Provisioning Services endpoint of the
	// launch's context, nil when the platform offers none (nrps.go).
	NRPS *NRPSClaim `json:"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice,omitempty"`
	// DeepLinking are the settings of a deep linking request (deeplink.go).
	DeepLinking *DeepLinkingSettings `json:"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings,omitempty"`
}

// Limits of the extension claims a launch hands the room adapter.
const (
	maxExtensions    = 32
	maxExtensionSize = 16 << 10
)

// extensionClaims picks the extension claims out of a verified payload, in
// their order. A claim past the limits is left out: the adapter maps what
// it knows, and an LMS's bulky claim must not refuse a launch.
func extensionClaims(payload []byte) map[string]string {
	out := map[string]string{}
	ok := members(payload, func(key, value []byte) {
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			// An escaped key ("https:\/\/...") or one not UTF-8: its
			// text as the decoder gives it.
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) != nil {
				return
			}
			key = []byte(k)
		}
		if !bytes.Contains(key, []byte("://")) || knownClaims[string(key)] || len(value) > maxExtensionSize {
			return
		}
		k := string(key)
		if _, seen := out[k]; seen || len(out) < maxExtensions {
			out[k] = string(value)
		}
	})
	if !ok {
		return nil
	}
	return out
}

// knownClaims are the URL-named claims Claims reads itself.
var knownClaims = map[string]bool{claimMessageType: true, claimVersion: true, claimDeploymentID: true, claimTargetLink: true,
	claimResourceLink: true, claimRoles: true, claimContext: true, claimCustom: true, claimNRPS: true, claimDeepLinking: true}

// members calls fn with each member of the JSON object in p, in order: its
// key as written between the quotes and its value's JSON text. p has been
// decoded already, so it is valid JSON; members only finds where each
// member starts and ends, which is a fraction of decoding them all again
// (a launch's payload is a few KB, read once per launch). It reports
// false when p is not an object as it expects.
func members(p []byte, fn func(key, value []byte)) bool {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return false
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return true
	}
	for i < len(p) {
		if p[i] != '"' {
			return false
		}
		end := skipString(p, i)
		if end < 0 {
			return false
		}
		key := p[i+1 : end-1]
		i = skipSpace(p, end)
		if i >= len(p) || p[i] != ':' {
			return false
		}
		i = skipSpace(p, i+1)
		vend := skipValue(p, i)
		if vend < 0 {
			return false
		}
		fn(key, p[i:vend])
		i = skipSpace(p, vend)
		switch {
		case i < len(p) && p[i] == ',':
			i = skipSpace(p, i+1)
		case i < len(p) && p[i] == '}':
			return true
		default:
			return false
		}
	}
	return false
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipString is the index after the string starting at p[i] (a quote),
// or -1.
func skipString(p []byte, i int) int {
	for i++; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue is the index after the value starting at p[i], or -1.
func skipValue(p []byte, i int) int {
	if i >= len(p) {
		return -1
	}
	switch p[i] {
	case '"':
		return skipString(p, i)
	case '{', '[':
		depth := 0
		for ; i < len(p); i++ {
			switch p[i] {
			case '"':
				end := skipString(p, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(p); i++ {
		switch p[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// ResourceLink is the link in the course the launcher followed.
type ResourceLink struct {
	ID          string `json:"id"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// Context is the course (or other context) of the launch.
type Context struct {
	ID    string   `json:"id"`
	Label string   `json:"label,omitempty"`
	Title string   `json:"title,omitempty"`
	Type  []string `json:"type,omitempty"`
}

// Custom are the custom parameters of the link; platforms send strings,
// and a value of another JSON type is kept as its JSON text.
type Custom map[string]string

// UnmarshalJSON takes any JSON values.
func (c *Custom) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("custom claim: %w", err)
	}
	out := make(Custom, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	*c = out
	return nil
}

// DisplayName is the launcher's name as the platform gives it.
func (c *Claims) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	if c.GivenName != "" || c.FamilyName != "" {
		return c.GivenName + " " + c.FamilyName
	}
	return ""
}
