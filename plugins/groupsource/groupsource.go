// Package groupsource is the GroupSource plugin kind: a directory (an IdP
// admin API, SCIM, LDAP, a file) that lists groups and streams their members.
// The gateway runs it on a schedule and applies the difference to its own
// copy of the groups (core/group).
package groupsource

import (
	"context"

	"github.com/invitegate/gateway/plugins"
)

// Kind is this package's plugin kind, as the config names it. Its wire
// enum in plugin.proto is named after it (plugins.KindFromProto).
const Kind plugins.Kind = "groupsource"

// APIVersions lists the GroupSource API versions this SDK speaks.
//
// History:
//
//	1: ListGroups, ListMembers (server-streamed batches).
func APIVersions() []uint32 { return []uint32{1} }

// Group is a group in the source.
type Group struct {
	// ID is the source's stable identifier; the name may change.
	ID   string
	Name string
}

// Member is a person in a group. ID identifies the person in the source;
// Email identifies them when ID is empty.
type Member struct {
	GroupID string
	ID      string
	Email   string
	Name    string
}

// GroupSource is implemented by a group source plugin and by the typed client
// the gateway uses to call one.
type GroupSource interface {
	plugins.Plugin
	ListGroups(ctx context.Context) ([]Group, error)
	// ListMembers calls emit for each member of the groups (every group when
	// groupIDs is empty). Returning nil promises that every member was
	// emitted: only then does the gateway delete the members it did not
	// receive. When emit returns an error the receiver is gone: stop and
	// return that error.
	ListMembers(ctx context.Context, groupIDs []string, emit func(Member) error) error
}
