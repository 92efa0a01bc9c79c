// Package plugins is the Go SDK of the gateway's plugin contract: the
// handshake, the base service every plugin implements (Info, Configure,
// Health), the errors that cross the wire, and the helpers the kind packages
// (roomadapter, groupsource, templateprovider) build on.
//
// A plugin author implements one kind's interface and calls that package's
// Serve from main; see plugins/README.md. The host that starts and supervises
// plugin processes lives in plugins/host.
package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"

	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// Handshake is checked by host and plugin before anything else: a binary
// started without the cookie says it is a plugin and exits, and a plugin
// whose protocol version the host does not speak is refused before any call.
//
// ProtocolVersion history (bump it only for a change an old host or plugin
// cannot survive; additive changes to a kind service bump that kind's API
// version instead, which Info negotiates):
//
//	1: first release. Base service invitegate.plugin.v1.Plugin (Info,
//	   Configure, Health) plus exactly one kind service per process:
//	   RoomAdapter, GroupSource or TemplateProvider, each at API version 1.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// The handshake's parts, for plugins written in other languages: the host
// sets MagicCookieKey=MagicCookieValue in the plugin's environment and
// expects ProtocolVersion in the second field of the handshake line.
const (
	ProtocolVersion  = 1
	MagicCookieKey   = "INVITEGATE_PLUGIN"
	MagicCookieValue = "8c1f3b2e7d4a4f0e9b6a5c3d2e1f0a9b-invitegate-gateway-plugin"
)

// Kind names a plugin kind, as written in the gateway's config. Each kind
// package declares its own (roomadapter.Kind, groupsource.Kind...); the
// gateway's table of the kinds it runs is plugins/host's Kinds.
type Kind string

// Proto converts the kind to its wire enum: the value of plugin.proto's Kind
// enum named after it (see KindFromProto), KIND_UNSPECIFIED if there is none.
func (k Kind) Proto() pluginpb.Kind {
	if k == "" {
		return pluginpb.Kind_KIND_UNSPECIFIED
	}
	for v := range pluginpb.Kind_name {
		if KindFromProto(pluginpb.Kind(v)) == k {
			return pluginpb.Kind(v)
		}
	}
	return pluginpb.Kind_KIND_UNSPECIFIED
}

// KindFromProto converts the wire enum; an unknown value gives "". A kind's
// enum value is its name in upper case with its words joined by '_' after
// "KIND_" (KIND_ROOM_ADAPTER is "roomadapter"), so the mapping is read from
// the generated enum and a new kind needs no line here, only its value in
// plugin.proto.
func KindFromProto(k pluginpb.Kind) Kind {
	name, ok := pluginpb.Kind_name[int32(k)]
	if !ok || k == pluginpb.Kind_KIND_UNSPECIFIED {
		return ""
	}
	return Kind(strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "KIND_"), "_", "")))
}

// Info describes a plugin. Kind is filled in by the SDK from the kind the
// plugin is served as; APIVersions defaults to every version the SDK it was
// built with speaks.
type Info struct {
	Kind        Kind     `json:"kind"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	APIVersions []uint32 `json:"api_versions"`
	// ConfigSchema is a JSON Schema document of the configuration object.
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
}

// Plugin is what every plugin implements, whatever its kind.
//
// Methods are called concurrently; Configure may be called again after a
// restart of the plugin process (never concurrently with itself).
type Plugin interface {
	// Info says what the plugin is; it must not depend on Configure.
	Info(ctx context.Context) (Info, error)
	// Configure receives the configuration object as JSON and the API version
	// the host chose. It returns ConfigErrors listing every problem at once,
	// or another error when it cannot judge the configuration at all.
	Configure(ctx context.Context, apiVersion uint32, config json.RawMessage) error
	// Health returns nil when the plugin can do its work.
	Health(ctx context.Context) error
}

// ConfigProblem is one thing wrong with a plugin's configuration.
type ConfigProblem struct {
	// Field is a dotted path into the configuration, e.g. "rooms[2].id".
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ConfigErrors is every problem a plugin found in its configuration.
type ConfigErrors []ConfigProblem

// Add records a problem.
func (e *ConfigErrors) Add(field, format string, args ...any) {
	*e = append(*e, ConfigProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when there are no problems, so Configure can end with
// `return problems.Err()`.
func (e ConfigErrors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (e ConfigErrors) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		if p.Field == "" {
			parts[i] = p.Message
		} else {
			parts[i] = p.Field + ": " + p.Message
		}
	}
	return "invalid plugin configuration: " + strings.Join(parts, "; ")
}

// Negotiate picks the highest API version both sides speak.
func Negotiate(host, plugin []uint32) (uint32, error) {
	var best uint32
	for _, h := range host {
		for _, p := range plugin {
			if h == p && h > best {
				best = h
			}
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("%w: the plugin speaks API versions %v, this gateway speaks %v; upgrade whichever is older",
			ErrIncompatible, plugin, host)
	}
	return best, nil
}

// DecodeConfig reads a plugin's JSON configuration into dst strictly: an
// unknown key or a wrong type is a configuration problem the operator sees,
// not a setting silently ignored.
func DecodeConfig(raw json.RawMessage, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return ConfigErrors{{Message: "not a valid configuration object: " + err.Error()}}
	}
	return nil
}
