package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
)

// Core's platform over the real static-rooms plugin: what core asks, in
// core's words, and the plugin's answers and failures in core's.
func TestRoomsServeCoresPlatform(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	h := newHost(t, newLogs(),
		host.Config{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum, Config: map[string]any{
			"join_url": "https://video.example.org/join/{resource}",
			"rooms": []any{
				map[string]any{"id": "bio-101", "type": "room", "title": "Biology 101", "starts_at": "2030-01-02T15:00:00Z", "ends_at": "2030-01-02T16:00:00Z",
					"lti_contexts":  []any{"ctx-bio"},
					"collaborators": map[string]any{"cara@example.org": "co-publisher", "olga@example.org": "co-owner"},
					"roster":        []any{map[string]any{"email": "sam@example.org", "name": "Sam Ortiz"}, map[string]any{"email": "ola@example.org", "name": "Ola Sam"}, map[string]any{"email": "bo@example.org", "name": "Bo"}}},
				map[string]any{"id": "town-hall", "type": "live", "title": "Town hall"},
				map[string]any{"id": "intro", "type": "media", "title": "Intro video", "starts_at": "2030-01-02T15:00:00Z"},
			},
		}},
		host.Config{Name: "down", Kind: "roomadapter", Path: bin, SHA256: strings.Repeat("0", 64)},
	)
	ctx := context.Background()
	h.Start(ctx) // "down" fails its checksum, on purpose
	rooms := host.NewRooms(h)

	res, err := rooms.Resolve(ctx, "rooms", resource.Launch{Source: resource.SourceLTI, ContextID: "ctx-bio", UserEmail: "Cara@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Fields
	if res.ExternalID != "bio-101" || res.CollaboratorRole != resource.CoPublisher || f.Type != resource.Room || f.Title != "Biology 101" ||
		f.StartsAt == nil || f.StartsAt.Format("2006-01-02T15:04Z07:00") != "2030-01-02T15:00Z" || f.EndsAt == nil {
		t.Fatalf("resolution %+v", res)
	}
	if res, err := rooms.Resolve(ctx, "rooms", resource.Launch{Source: resource.SourceAPI, ResourceID: "bio-101", UserEmail: "olga@example.org"}); err != nil || res.CollaboratorRole != resource.CoOwner {
		t.Fatalf("co-owner: %+v %v", res, err)
	}
	for id, typ := range map[string]resource.Type{"town-hall": resource.Webcast, "intro": resource.Video} {
		res, err := rooms.Resolve(ctx, "rooms", resource.Launch{Source: resource.SourceAPI, ResourceID: id})
		if err != nil || res.Fields.Type != typ || res.CollaboratorRole != "" || res.Fields.StartsAt != nil && typ == resource.Webcast {
			t.Fatalf("%s: %+v %v", id, res, err)
		}
	}
	_, err = rooms.Resolve(ctx, "rooms", resource.Launch{Source: resource.SourceAPI, ResourceID: "chem-1"})
	if p, ok := problem.As(err); !ok || p.Kind != problem.NotFound || !errors.Is(err, resource.ErrNotOnPlatform) || !strings.Contains(p.Message, `no room "chem-1"`) {
		t.Fatalf("unknown room: %v", err)
	}

	st, err := rooms.Status(ctx, "rooms", "bio-101")
	if err != nil || !st.Exists || st.StartsAt == nil || !st.EndsAt.After(*st.StartsAt) {
		t.Fatalf("status %+v %v", st, err)
	}
	if st, err := rooms.Status(ctx, "rooms", "gone"); err != nil || st.Exists {
		t.Fatalf("status of a room the adapter no longer has: %+v %v", st, err)
	}

	people, err := rooms.Roster(ctx, "rooms", "bio-101", "sam", 10, nil)
	if err != nil || len(people) != 2 || people[0] != (resource.Person{Email: "ola@example.org", Name: "Ola Sam"}) || people[1].Email != "sam@example.org" {
		t.Fatalf("roster %+v %v", people, err)
	}

	// An adapter that is not configured names the field and the adapters there are.
	_, err = rooms.Status(ctx, "zoom", "x")
	if p, ok := problem.As(err); !ok || !errors.Is(err, resource.ErrNoAdapter) || p.Field != "adapter" || !strings.Contains(p.Message, "down, rooms") {
		t.Fatalf("unknown adapter: %v", err)
	}
	// One that is configured but not running cannot answer.
	for name, call := range map[string]func() error{
		"resolve": func() error { _, err := rooms.Resolve(ctx, "down", resource.Launch{ResourceID: "x"}); return err },
		"status":  func() error { _, err := rooms.Status(ctx, "down", "x"); return err },
		"roster":  func() error { _, err := rooms.Roster(ctx, "down", "x", "", 5, nil); return err },
	} {
		err := call()
		if p, ok := problem.As(err); !ok || p.Kind != problem.Unavailable || !errors.Is(err, resource.ErrPlatformDown) || !strings.Contains(p.Cause.Error(), "checksum mismatch") {
			t.Fatalf("%s on a failed plugin: %v", name, err)
		}
	}
}
