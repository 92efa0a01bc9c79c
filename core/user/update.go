package user

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// SetNames gives, in tx, a user the names a source that manages them sent
// (an identity provider's provisioning), replacing those they had; Resolve
// only fills empty names, since a sign-in is no authority on them.
func SetNames(tx *store.Tx, u *User, first, last string) error {
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	var fs problem.Fields
	if utf8.RuneCountInString(first) > MaxName {
		fs.Add("first_name", fmt.Sprintf("first name is longer than %d characters", MaxName))
	}
	if utf8.RuneCountInString(last) > MaxName {
		fs.Add("last_name", fmt.Sprintf("last name is longer than %d characters", MaxName))
	}
	if err := fs.Err(); err != nil {
		return err
	}
	if u.FirstName == first && u.LastName == last {
		return nil
	}
	u.FirstName, u.LastName, u.UpdatedAt = first, last, tx.Now()
	return tx.Model(&User{}).Where("id = ? AND account_id = ?", u.ID, u.AccountID).
		Updates(map[string]any{"first_name": first, "last_name": last, "updated_at": u.UpdatedAt}).Error
}

// Unlink forgets, in tx, one identity of the account: the issuer no longer
// vouches for the person (an identity provider deprovisioned them). The
// user stays, with everything else they hold.
func Unlink(tx *store.Tx, accountID, issuer, subject string) error {
	return tx.Where("account_id = ? AND issuer = ? AND subject = ?", accountID, issuer, subject).Delete(&UserIdentity{}).Error
}
