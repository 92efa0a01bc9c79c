package mail

import (
	"fmt"

	"gorm.io/gorm"
)

// Delivery filters of a list (the All users list's delivery=...), each a
// condition on the newest message about a person.
const (
	FilterFailed      = "failed"       // StateFailed
	FilterNeverOpened = "never_opened" // sent and not opened: StateSent, StateScanner or StateViewed
	FilterOpened      = "opened"       // StateOpened
	FilterScannerOnly = "scanner_only" // StateScanner
	FilterQueued      = "queued"       // StateQueued or StateRetrying
	FilterSent        = "sent"         // StateSent: accepted, and its page not loaded since
)

// filterSQL is each filter's condition on m, the newest message.
var filterSQL = map[string]string{
	FilterFailed:      "m.opened_at IS NULL AND m.status = 'failed'",
	FilterNeverOpened: "m.opened_at IS NULL AND m.status = 'sent'",
	FilterOpened:      "m.opened_at IS NOT NULL",
	FilterScannerOnly: "m.opened_at IS NULL AND m.status = 'sent' AND EXISTS (SELECT 1 FROM mail_views v WHERE v.message_id = m.id AND v.scanner = ?) AND NOT EXISTS (SELECT 1 FROM mail_views v WHERE v.message_id = m.id AND v.scanner = ?)",
	FilterQueued:      "m.opened_at IS NULL AND m.status IN ('queued', 'sending')",
	FilterSent:        "m.opened_at IS NULL AND m.status = 'sent' AND NOT EXISTS (SELECT 1 FROM mail_views v WHERE v.message_id = m.id)",
}

// FilterProblem says what is wrong with a delivery filter ("" when it is
// one of the Filter... values, or empty).
func FilterProblem(f string) string {
	if _, ok := filterSQL[f]; ok || f == "" {
		return ""
	}
	return fmt.Sprintf("unknown delivery status %q: use failed, never_opened, opened, scanner_only, queued or sent", f)
}

// RefsWithDelivery returns, for a valid filter f, the subquery (built on r)
// of the ref ids in the account whose newest message matches it: what a
// list keeps with "id IN (?)".
func RefsWithDelivery(accountID, f string) func(r *gorm.DB) *gorm.DB {
	cond := filterSQL[f]
	var args []any
	if f == FilterScannerOnly {
		args = []any{true, false}
	}
	return func(r *gorm.DB) *gorm.DB {
		return r.Table("mail_messages AS m").Select("m.ref_id").
			Where("m.account_id = ? AND m.ref_id <> ''", accountID).
			Where("m.created_at = (SELECT MAX(n.created_at) FROM mail_messages n WHERE n.account_id = m.account_id AND n.ref_id = m.ref_id)").
			Where(cond, args...)
	}
}
