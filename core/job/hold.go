package job

import (
	"context"
	"time"

	"github.com/invitegate/gateway/core/store"
	"gorm.io/gorm"
)

// A job that is being prepared before any runner can claim it (a bulk
// invite's upload while its file is checked) is held by the process doing
// the work, under a lease like a running job's: Runner names the holder,
// LeaseUntil is when the hold ends unless renewed. The holder renews it
// while it works (Renew) and hands the job on with Release. A holder that
// dies (kill -9, a crashed replica) stops renewing; once the lease has run
// out any process, this one restarted or another replica, may end the job
// (Abandoned, Abandon). Every step is a conditional UPDATE, so of a holder
// renewing and a process ending the job at the same moment exactly one
// wins, and the loser learns it.

// UnheldAfter is how long a held status may go without a change before a
// job that has no lease at all counts as abandoned: jobs held before holds
// had leases have none. No upload takes this long (the API bounds one to
// 30 minutes).
const UnheldAfter = time.Hour

// Renew extends owner's hold on a job in status until until; false means
// the job left status or is no longer owner's (it was discarded, or ended
// as abandoned), and the owner must stop.
func Renew(ctx context.Context, db *store.DB, jobID, status, owner string, now, until time.Time) (bool, error) {
	r := held(db.W.WithContext(ctx), jobID, status, owner).
		Updates(map[string]any{"lease_until": until, "updated_at": now})
	return r.RowsAffected == 1, r.Error
}

// Release ends owner's hold in tx, moving the job from status to next with
// its total; false means the hold was lost (see Renew).
func Release(tx *store.Tx, jobID, status, owner, next string, total int, now time.Time) (bool, error) {
	r := held(tx.DB, jobID, status, owner).
		Updates(map[string]any{"status": next, "total": total, "runner": "", "lease_until": nil, "updated_at": now})
	return r.RowsAffected == 1, r.Error
}

// Fail ends owner's hold in tx as Failed, saying why; false means the hold
// was lost already (the job says what ended it).
func Fail(tx *store.Tx, jobID, status, owner, why string, now time.Time) (bool, error) {
	r := held(tx.DB, jobID, status, owner).Updates(failed(why, now))
	return r.RowsAffected == 1, r.Error
}

// held keeps the job if owner holds it in status.
func held(q *gorm.DB, jobID, status, owner string) *gorm.DB {
	return q.Model(&Job{}).Where("id = ? AND status = ? AND runner = ?", jobID, status, owner)
}

// abandoned keeps the jobs in status whose holder is gone at now.
func abandoned(q *gorm.DB, status string, now time.Time) *gorm.DB {
	return q.Where("status = ? AND (lease_until < ? OR (lease_until IS NULL AND updated_at < ?))", status, now, now.Add(-UnheldAfter))
}

// Abandoned lists up to limit jobs of kind in status whose holder is gone:
// the lease ran out without being renewed. Each has its ID, AccountID and
// Subject.
func Abandoned(ctx context.Context, db store.Reader, kind, status string, now time.Time, limit int) ([]Job, error) {
	var jobs []Job
	err := abandoned(db.Read(ctx).Model(&Job{}).Where("kind = ?", kind), status, now).
		Select("id", "account_id", "subject_kind", "subject_id").Order("created_at").Limit(limit).Find(&jobs).Error
	return jobs, err
}

// Abandon ends in tx a job whose holder is gone as Failed, saying why;
// false means it is not abandoned any more (its holder renewed the hold in
// the meantime, or someone else ended it first).
func Abandon(tx *store.Tx, jobID, status, why string, now time.Time) (bool, error) {
	r := abandoned(tx.Model(&Job{}).Where("id = ?", jobID), status, now).Updates(failed(why, now))
	return r.RowsAffected == 1, r.Error
}
