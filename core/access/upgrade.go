package access

import (
	"context"

	"github.com/invitegate/gateway/core/store"
)

// Upgrade moves the domain lists that gateways before this package kept in
// the invitation settings (invitation_settings.blocked_domains and
// allowed_domains) into access_policies, then drops those columns: the
// policy is the account's, checked for events and sign-ins too. One
// transaction; a second run finds nothing to move.
func (Policy) Upgrade(ctx context.Context, db *store.DB) error {
	if !db.HasTable("invitation_settings") || !db.W.Migrator().HasColumn("invitation_settings", "blocked_domains") {
		return nil
	}
	return db.Tx(ctx, func(tx *store.Tx) error {
		err := tx.Exec(`INSERT INTO access_policies (account_id, blocked_domains, allowed_domains, updated_at)
SELECT s.account_id, s.blocked_domains, s.allowed_domains, s.updated_at FROM invitation_settings s
WHERE NOT EXISTS (SELECT 1 FROM access_policies p WHERE p.account_id = s.account_id)`).Error
		if err != nil {
			return err
		}
		for _, col := range []string{"blocked_domains", "allowed_domains"} {
			if err := tx.Exec("ALTER TABLE invitation_settings DROP COLUMN " + col).Error; err != nil {
				return err
			}
		}
		return nil
	})
}
