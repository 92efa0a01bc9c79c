package host

import (
	"errors"
	"fmt"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// The scheduled jobs, by the name their run records carry. plugins/schedule
// holds what each one does.
const (
	JobGroupSync       = "group-sync"
	JobTemplateRefresh = "template-refresh"
)

// KindSpec is everything the gateway knows of one plugin kind that is not in
// the kind's own package. The host builds its plugin set, typed clients and
// version negotiation from it, Config.Validate its rules for a declaration,
// Check and `gateway plugins check` what they report and suggest, and the
// scheduler which job a plugin runs.
//
// Health needs no field: every kind answers the base service's Health, which
// the host calls alike for all of them (Options.HealthInterval).
type KindSpec struct {
	// Kind is the name the config's kind: and the plugin's Info use.
	Kind plugins.Kind
	// Plural names plugins of the kind in messages ("room adapters").
	Plural string
	// Does says in a few words what a plugin of the kind is for.
	Does string
	// Plugin is the kind's go-plugin wrapper (its GRPCPlugin): the kind's
	// entry in the plugin set the host offers at the handshake.
	Plugin goplugin.Plugin
	// NewClient makes the kind's typed client (the kind package's
	// NewClient) over a connection to a plugin process.
	NewClient func(grpc.ClientConnInterface) plugins.Plugin
	// APIVersions is what this gateway speaks of the kind's service.
	APIVersions []uint32
	// Job is the scheduled job a plugin of the kind runs (JobGroupSync...),
	// "" when it has none. A declaration must then have a schedule, and
	// may not have one when Job is "".
	Job string
	// Account, when set, says what the account a declaration names is for;
	// the account is then required. Kinds without it refuse one.
	Account string
}

// Kinds is the table of the plugin kinds this gateway runs, in the order the
// docs and messages list them: one entry per kind. A kind missing here is
// refused wherever it appears (config, Check, a plugin's Info).
func Kinds() []KindSpec {
	return []KindSpec{
		{
			Kind:        roomadapter.Kind,
			Plural:      "room adapters",
			Does:        "bridges the platform that hosts rooms, live sessions and media",
			Plugin:      &roomadapter.GRPCPlugin{},
			NewClient:   func(c grpc.ClientConnInterface) plugins.Plugin { return roomadapter.NewClient(c) },
			APIVersions: roomadapter.APIVersions(),
		},
		{
			Kind:        groupsource.Kind,
			Plural:      "group sources",
			Does:        "lists directory groups and streams their members",
			Plugin:      &groupsource.GRPCPlugin{},
			NewClient:   func(c grpc.ClientConnInterface) plugins.Plugin { return groupsource.NewClient(c) },
			APIVersions: groupsource.APIVersions(),
			Job:         JobGroupSync,
			Account:     "the account its groups belong to",
		},
		{
			Kind:        templateprovider.Kind,
			Plural:      "template providers",
			Does:        "supplies email templates",
			Plugin:      &templateprovider.GRPCPlugin{},
			NewClient:   func(c grpc.ClientConnInterface) plugins.Plugin { return templateprovider.NewClient(c) },
			APIVersions: templateprovider.APIVersions(),
			Job:         JobTemplateRefresh,
		},
	}
}

// ErrUnknownKind: a kind that is not in the table.
var ErrUnknownKind = errors.New("unknown plugin kind")

// LookupKind returns the table's entry for a kind, or an error wrapping
// ErrUnknownKind that lists the kinds there are.
func LookupKind(kind plugins.Kind) (KindSpec, error) {
	table := Kinds()
	for _, k := range table {
		if k.Kind == kind {
			return k, nil
		}
	}
	if kind == "" {
		// What a plugin reports when its wire kind is one this gateway's
		// plugin.proto does not have.
		return KindSpec{}, fmt.Errorf("%w: none, or one this gateway does not know; it runs %s", ErrUnknownKind, kindList(table))
	}
	return KindSpec{}, fmt.Errorf("%w %q: this gateway runs %s", ErrUnknownKind, kind, kindList(table))
}

// kindList is "roomadapter, groupsource or templateprovider".
func kindList(table []KindSpec) string {
	names := make([]string, len(table))
	for i, k := range table {
		names[i] = string(k.Kind)
	}
	return orList(names, "or")
}

func orList(items []string, conj string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

// pluginSets is what the host speaks, by handshake protocol version. Every
// kind of the table is in the set: the Info call, not the set, says which
// one a process is.
func pluginSets() map[int]goplugin.PluginSet {
	set := goplugin.PluginSet{}
	for _, k := range Kinds() {
		set[string(k.Kind)] = k.Plugin
	}
	return map[int]goplugin.PluginSet{plugins.ProtocolVersion: set}
}
