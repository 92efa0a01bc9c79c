package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// A database from before core/access kept an account's domain lists in its
// invitation settings. Migrating moves them into access_policies and drops
// the old columns; upgrading again changes nothing.
func TestUpgradeMovesDomainLists(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		for _, q := range []string{
			"ALTER TABLE invitation_settings ADD COLUMN blocked_domains text",
			"ALTER TABLE invitation_settings ADD COLUMN allowed_domains text",
		} {
			if err := db.W.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.W.Exec(`INSERT INTO invitation_settings (account_id, enabled, link_lifetime_hours, reusability, max_uses, device_binding, email_template, email_locale, updated_at, blocked_domains, allowed_domains)
VALUES ('0190aaaa-0000-7000-8000-0000000000cc', true, 24, 'single', 1, true, '', 'en', ?, '["bad.test"]', '[]')`, now).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(schema.Models()...); err != nil {
			t.Fatal(err)
		}
		// Again, as the next start does (its own process: PostgreSQL's
		// cached plans of this one still have the dropped columns).
		if err := (access.Policy{}).Upgrade(ctx, db); err != nil {
			t.Fatal(err)
		}
		if db.W.Migrator().HasColumn("invitation_settings", "blocked_domains") {
			t.Fatal("invitation_settings still has blocked_domains")
		}
		p, err := access.LoadPolicy(ctx, db, "0190aaaa-0000-7000-8000-0000000000cc")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Blocked) != 1 || p.Blocked[0] != "bad.test" || len(p.Allowed) != 0 {
			t.Fatalf("moved policy %+v", p)
		}
	})
}
