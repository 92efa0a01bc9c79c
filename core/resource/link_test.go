package resource_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// platform is a room adapter's platform with one course room, whose
// collaborators are given by email.
func platform(roles map[string]string, launches *[]resource.Launch) *resource.PlatformMock {
	return &resource.PlatformMock{ResolveFunc: func(_ context.Context, adapter string, l resource.Launch) (resource.Resolution, error) {
		*launches = append(*launches, l)
		if adapter != "rooms" {
			return resource.Resolution{}, resource.NoAdapter(adapter, []string{"rooms"})
		}
		if l.ResourceID != "bio-101" && l.ContextID != "ctx-bio" {
			return resource.Resolution{}, resource.NotOnPlatform(adapter, "no room "+l.ResourceID)
		}
		return resource.Resolution{ExternalID: "bio-101", Fields: resource.Fields{Type: resource.Room, Title: "Biology 101"}, CollaboratorRole: roles[l.UserEmail]}, nil
	}}
}

func TestLink(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acct := newAccount(t, db)
		var launches []resource.Launch
		p := platform(map[string]string{"ann@acme.test": resource.CoOwner, "ed@acme.test": resource.CoEditor}, &launches)
		key := resource.Linker{AccountID: acct, Actor: audit.Actor{Kind: audit.ActorAPIKey, ID: "k-1"}, Admin: true}
		ann := resource.Linker{AccountID: acct, Actor: audit.Actor{Kind: audit.ActorUser, ID: "0190d3a4-7b1c-7c3e-9f00-0000000000a1"},
			UserID: "0190d3a4-7b1c-7c3e-9f00-0000000000a1", Email: "ann@acme.test", Name: "Ann Ames"}
		bob := resource.Linker{AccountID: acct, Actor: audit.Actor{Kind: audit.ActorUser, ID: "0190d3a4-7b1c-7c3e-9f00-0000000000b1"},
			UserID: "0190d3a4-7b1c-7c3e-9f00-0000000000b1", Email: "bob@acme.test"}
		api := resource.Launch{Source: resource.SourceAPI, ResourceID: "bio-101"}

		// A member the platform gives no role links nothing.
		if _, err := resource.Link(ctx, db, p, bob, "rooms", api); !errors.Is(err, resource.ErrNoPlatformRole) {
			t.Fatalf("member without a role: %v", err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM resources"); n != 0 {
			t.Fatalf("a refused link wrote %d resources", n)
		}

		first, err := resource.Link(ctx, db, p, key, "rooms", api)
		if err != nil || !first.Created || first.Role != "" || first.Resource.Adapter != "rooms" || first.Resource.ExternalID != "bio-101" {
			t.Fatalf("API key's link: %+v %v", first, err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM collaborators"); n != 0 {
			t.Fatalf("an API key became a collaborator: %d rows", n)
		}

		// The same room by its LTI context: the same resource; the member
		// becomes co-owner, as the platform says, and is told who launched.
		again, err := resource.Link(ctx, db, p, ann, "rooms", resource.Launch{Source: resource.SourceAPI, ContextID: " ctx-bio "})
		if err != nil || again.Created || again.Resource.ID != first.Resource.ID || again.Role != resource.CoOwner {
			t.Fatalf("member's link: %+v %v", again, err)
		}
		if l := launches[len(launches)-1]; l.ContextID != "ctx-bio" || l.UserEmail != "ann@acme.test" || l.UserName != "Ann Ames" || l.UserSubject != ann.UserID || l.Source != "api" {
			t.Fatalf("the adapter was asked %+v", l)
		}
		if role, _ := resource.CollaboratorRole(ctx, db, first.Resource.ID, ann.UserID); role != resource.CoOwner {
			t.Fatalf("collaborator role %q", role)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM audit_entries WHERE action = 'resource.collaborator_set' AND actor_id = ?", ann.UserID); n != 1 {
			t.Fatalf("%d collaborator_set entries", n)
		}
		// Linking again changes nothing.
		if l, err := resource.Link(ctx, db, p, ann, "rooms", api); err != nil || l.Created || l.Role != resource.CoOwner {
			t.Fatalf("relink: %+v %v", l, err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM audit_entries WHERE target_id = ?", first.Resource.ID); n != 2 {
			t.Fatalf("%d audit entries after a relink, want 2 (created, collaborator set)", n)
		}

		// The platform's word on the role wins over the one the member had.
		p2 := platform(map[string]string{"ann@acme.test": resource.CoEditor}, &launches)
		if l, err := resource.Link(ctx, db, p2, ann, "rooms", api); err != nil || l.Role != resource.CoEditor {
			t.Fatalf("role from the platform: %+v %v", l, err)
		}

		for _, tc := range []struct {
			name    string
			adapter string
			l       resource.Launch
			field   string
			code    string
		}{
			{"nothing named", "rooms", resource.Launch{}, "resource_id", "invalid"},
			{"no adapter", "", api, "adapter", "invalid"},
			{"long id", "rooms", resource.Launch{ResourceID: string(make([]byte, 256))}, "resource_id", "invalid"},
			{"unknown adapter", "zoom", api, "adapter", "room_adapter_unknown"},
			{"unknown room", "rooms", resource.Launch{ResourceID: "chem-1"}, "", "platform_resource_not_found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := resource.Link(ctx, db, p, key, tc.adapter, tc.l)
				pe, ok := problem.As(err)
				if !ok || pe.Code != tc.code || (tc.field != "" && !hasField(err, tc.field)) {
					t.Fatalf("want %s naming %q, got %v", tc.code, tc.field, err)
				}
			})
		}
		if _, err := resource.Link(ctx, db, nil, key, "rooms", api); !errors.Is(err, resource.ErrNoAdapter) {
			t.Fatalf("without room adapters: %v", err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM resources"); n != 1 {
			t.Fatalf("%d resources after the refusals, want 1", n)
		}
	})
}

// The same person links the same resource many times at once: one
// collaboration, and every link answers it.
func TestLinkAtOnce(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acct := newAccount(t, db)
		var mu sync.Mutex
		var launches []resource.Launch
		p := platform(map[string]string{"ann@acme.test": resource.Owner}, &launches)
		resolve := p.ResolveFunc
		p.ResolveFunc = func(ctx context.Context, adapter string, l resource.Launch) (resource.Resolution, error) {
			mu.Lock()
			defer mu.Unlock()
			return resolve(ctx, adapter, l)
		}
		ann := resource.Linker{AccountID: acct, Actor: audit.Actor{Kind: audit.ActorUser, ID: "0190d3a4-7b1c-7c3e-9f00-0000000000a1"},
			UserID: "0190d3a4-7b1c-7c3e-9f00-0000000000a1", Email: "ann@acme.test"}
		// Linked once already: the links at once all find the resource,
		// and none finds Ann its collaborator yet.
		key := resource.Linker{AccountID: acct, Actor: audit.Actor{Kind: audit.ActorAPIKey, ID: "k-1"}, Admin: true}
		if _, err := resource.Link(ctx, db, p, key, "rooms", resource.Launch{Source: resource.SourceAPI, ResourceID: "bio-101"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		created := make(chan bool, 20)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := resource.Link(ctx, db, p, ann, "rooms", resource.Launch{Source: resource.SourceAPI, ResourceID: "bio-101"})
				if err != nil || l.Role != resource.Owner {
					t.Errorf("link: %+v %v", l, err)
					return
				}
				created <- l.Created
			}()
		}
		wg.Wait()
		close(created)
		n := 0
		for c := range created {
			if c {
				n++
			}
		}
		if n != 0 || count(t, db, "SELECT COUNT(*) FROM resources") != 1 || count(t, db, "SELECT COUNT(*) FROM collaborators") != 1 {
			t.Fatalf("%d links said created; %d resources, %d collaborators", n,
				count(t, db, "SELECT COUNT(*) FROM resources"), count(t, db, "SELECT COUNT(*) FROM collaborators"))
		}
	})
}
