package job

import (
	"context"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// Yield gives back runner's lease on a running job it stopped working on
// (its process is shutting down): the job stays running, with its progress,
// and any runner may claim it at once instead of after the lease. False
// means runner did not hold it (it ended, or another runner took it).
func Yield(ctx context.Context, db *store.DB, jobID, runner string, now time.Time) (bool, error) {
	r := db.W.WithContext(ctx).Model(&Job{}).Where("id = ? AND runner = ? AND status = ?", jobID, runner, Running).
		Updates(map[string]any{"runner": "", "lease_until": nil, "updated_at": now})
	return r.RowsAffected == 1, r.Error
}
