package limit

import (
	"time"

	"github.com/invitegate/gateway/core/table"
)

// Count is one client's count in its current window, in one scope. Only
// replicas sharing a PostgreSQL database write it (see Counter); a row
// lives until a sweep after its window has ended, so the table holds the
// clients counted in about the last two windows.
type Count struct {
	Scope       string    `gorm:"primaryKey;size:32"`
	Client      string    `gorm:"primaryKey;size:64"`
	WindowStart time.Time `gorm:"not null;index"`
	Hits        int       `gorm:"not null"`
}

// TableName names the table.
func (Count) TableName() string { return "limit_counts" }

// Tables are the tables this package owns.
func Tables() []table.Table {
	return []table.Table{{Model: &Count{}, NoPersonalData: "counts of unknown links per client address, which name no one and are deleted within two windows (minutes)"}}
}

// sqlCount counts one refusal and returns the count and its window's start:
// one statement, so concurrent counts of one client on any number of
// replicas each add one, and none reads a count another is changing. The
// arguments are scope, client, now, and twice the cut (now less the
// window): a row whose window started at or before the cut has ended and
// starts again at one, from now.
const sqlCount = `INSERT INTO limit_counts (scope, client, window_start, hits) VALUES (?, ?, ?, 1)
ON CONFLICT (scope, client) DO UPDATE SET
  hits = CASE WHEN limit_counts.window_start > ? THEN limit_counts.hits + 1 ELSE 1 END,
  window_start = CASE WHEN limit_counts.window_start > ? THEN limit_counts.window_start ELSE excluded.window_start END
RETURNING hits, window_start`

// sqlRead reads a client's count.
const sqlRead = `SELECT hits, window_start FROM limit_counts WHERE scope = ? AND client = ?`

// sqlSweep drops the rows of the scope whose window has ended.
const sqlSweep = `DELETE FROM limit_counts WHERE scope = ? AND window_start <= ?`
