package resource_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

func newAccount(t *testing.T, db *store.DB) string {
	t.Helper()
	b, err := account.EnsureFirst(context.Background(), db, "Acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	return b.Account.ID
}

func count(t *testing.T, db *store.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.W.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func hasField(err error, field string) bool {
	p, ok := problem.As(err)
	if !ok {
		return false
	}
	if p.Field == field {
		return true
	}
	for _, d := range p.Details {
		if d.Field == field {
			return true
		}
	}
	return false
}

func upsert(db *store.DB, accountID, adapter, externalID string, f resource.Fields) (*resource.Resource, bool, error) {
	var (
		r       *resource.Resource
		created bool
	)
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		var err error
		r, created, err = resource.Upsert(tx, accountID, adapter, externalID, f)
		return err
	})
	return r, created, err
}

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// upsertAll runs n upserts of the same platform resource at once and
// returns the resources they answered and how many said they created it.
func upsertAll(t *testing.T, db *store.DB, n int, accountID string, f resource.Fields) (map[string]bool, int) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]bool{}
		created int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, c, err := upsert(db, accountID, "rooms", "bio-101", f)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("upsert: %v", err)
				return
			}
			ids[r.ID] = true
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	return ids, created
}

func TestUpsertMakesOneResourcePerPlatformResource(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		acct := newAccount(t, db)
		by := audit.Actor{Kind: audit.ActorUser, ID: "u-1"}
		f := resource.Fields{Type: resource.Room, Title: "Biology 101", StartsAt: at("2030-01-01T10:00:00Z"), EndsAt: at("2030-01-01T11:00:00Z"), By: by}

		ids, created := upsertAll(t, db, 50, acct, f)
		if len(ids) != 1 || created != 1 {
			t.Fatalf("50 concurrent upserts answered %d resources, %d said created; want 1 and 1", len(ids), created)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM resources WHERE adapter = 'rooms' AND external_id = 'bio-101'"); n != 1 {
			t.Fatalf("%d rows for one platform resource", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM audit_entries WHERE action = 'resource.created' AND actor_id = 'u-1'"); n != 1 {
			t.Fatalf("%d resource.created entries by the launcher, want 1", n)
		}
		var id string
		for k := range ids {
			id = k
		}
		stored, err := resource.Get(context.Background(), db, acct, id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Title != "Biology 101" || stored.Type != resource.Room || !stored.StartsAt.Equal(*f.StartsAt) || !stored.EndsAt.Equal(*f.EndsAt) ||
			!stored.ChatCollab || stored.CreatedBy != "u-1" {
			t.Fatalf("stored %+v", stored)
		}

		// The platform renamed the course and moved it: the same resource
		// follows, once, however many launches bring the news at once.
		g := resource.Fields{Type: resource.Webcast, Title: "Biology 101 (spring)", StartsAt: at("2030-02-01T09:00:00Z")}
		ids, created = upsertAll(t, db, 50, acct, g)
		if len(ids) != 1 || !ids[id] || created != 0 {
			t.Fatalf("changed upserts answered %v, %d created", ids, created)
		}
		stored, _ = resource.Get(context.Background(), db, acct, id)
		if stored.Title != "Biology 101 (spring)" || stored.Type != resource.Webcast || !stored.StartsAt.Equal(*g.StartsAt) || stored.EndsAt != nil {
			t.Fatalf("after the platform's change: %+v", stored)
		}
		var detail []string
		if err := db.W.Raw("SELECT detail FROM audit_entries WHERE action = 'resource.updated' AND target_id = ?", id).Scan(&detail).Error; err != nil {
			t.Fatal(err)
		}
		if len(detail) != 1 || detail[0] != `{"adapter":"rooms","changed":["type","title","starts_at","ends_at"]}` {
			t.Fatalf("resource.updated entries: %q", detail)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM audit_entries WHERE action = 'resource.updated' AND actor_kind = 'plugin' AND actor_id = 'rooms'"); n != 1 {
			t.Fatalf("the change is not the adapter's: %d entries", n)
		}

		// Nothing changed: nothing written.
		if _, c, err := upsert(db, acct, "rooms", "bio-101", g); err != nil || c {
			t.Fatal(c, err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM audit_entries WHERE target_id = ?", id); n != 2 {
			t.Fatalf("%d audit entries after an upsert that changed nothing, want 2", n)
		}

		// Another adapter's, or another account's, resource of that id is
		// another resource.
		other, c, err := upsert(db, acct, "lms", "bio-101", g)
		if err != nil || !c || other.ID == id {
			t.Fatalf("other adapter: %+v %v %v", other, c, err)
		}
		a2, err := account.Create(context.Background(), db, "Other")
		if err != nil {
			t.Fatal(err)
		}
		if r, c, err := upsert(db, a2.ID, "rooms", "bio-101", g); err != nil || !c || r.AccountID != a2.ID {
			t.Fatalf("other account: %+v %v %v", r, c, err)
		}

		// A resource deleted in the gateway keeps its links dead; the
		// platform's resource comes back as a new one.
		if err := resource.Delete(context.Background(), db, acct, id, audit.System); err != nil {
			t.Fatal(err)
		}
		back, c, err := upsert(db, acct, "rooms", "bio-101", g)
		if err != nil || !c || back.ID == id {
			t.Fatalf("after delete: %+v %v %v", back, c, err)
		}
		if old, err := resource.GetAny(context.Background(), db, acct, id); err != nil || old.DeletedAt == nil {
			t.Fatalf("the deleted resource came back: %+v %v", old, err)
		}
	})
}

func TestUpsertTakesThePlatformsWordWithinLimits(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		acct := newAccount(t, db)
		long := ""
		for len(long) < 400 {
			long += "é"
		}
		r, _, err := upsert(db, acct, "rooms", "v-1", resource.Fields{Type: resource.Video, Title: long, StartsAt: at("2030-01-01T10:00:00Z")})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Title) != 300 || r.StartsAt != nil {
			t.Fatalf("title of %d bytes, start %v", len(r.Title), r.StartsAt)
		}
		r, _, err = upsert(db, acct, "rooms", "r-1", resource.Fields{Type: resource.Room, Title: "  ", StartsAt: at("2030-01-01T10:00:00Z"), EndsAt: at("2030-01-01T09:00:00Z")})
		if err != nil || r.Title != "r-1" || r.EndsAt != nil || r.StartsAt == nil {
			t.Fatalf("untitled room with its end before its start: %+v %v", r, err)
		}
		for _, tc := range []struct {
			name, adapter, externalID, field string
			f                                resource.Fields
		}{
			{"no adapter", "", "x", "adapter", resource.Fields{Type: resource.Room}},
			{"no external id", "rooms", "", "external_id", resource.Fields{Type: resource.Room}},
			{"unknown type", "rooms", "x", "type", resource.Fields{Type: "hologram"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := upsert(db, acct, tc.adapter, tc.externalID, tc.f)
				if !hasField(err, tc.field) {
					t.Fatalf("want a problem with %s, got %v", tc.field, err)
				}
			})
		}
	})
}

// An existing database has resources without an adapter, some with the
// same external id (the API lets anyone set one): the unique index is
// made over them, and holds for the platform's resources.
func TestPlatformIndexOnAnExistingDatabase(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acct := newAccount(t, db)
		if err := db.W.Exec("DROP INDEX idx_resources_platform").Error; err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{"", "", "course-7", "course-7"} {
			if _, err := resource.Create(ctx, db, acct, audit.System, resource.Input{Type: resource.Room, Title: "Old", ExternalID: ext}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(schema.Models()...); err != nil {
			t.Fatalf("migrating a database with resources: %v", err)
		}
		if _, c, err := upsert(db, acct, "rooms", "course-7", resource.Fields{Type: resource.Room, Title: "New"}); err != nil || !c {
			t.Fatalf("upsert after migration: %v %v", c, err)
		}
		// The index is there: a second row for the platform's resource is refused.
		err := db.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecSQL(`INSERT INTO resources (id, account_id, type, title, chat_collab, adapter, external_id, created_at, updated_at)
VALUES ('0190d3a4-7b1c-7c3e-9f00-0000000000aa', $1, 'room', 'Twin', true, 'rooms', 'course-7', $2, $2)`, acct, time.Now().UTC())
			return err
		})
		if !store.IsUniqueViolation(err) {
			t.Fatalf("a second row for one platform resource: %v", err)
		}
	})
}
