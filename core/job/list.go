package job

import (
	"context"

	"github.com/invitegate/gateway/core/store"
)

// Filter narrows List.
type Filter struct {
	// Statuses keeps jobs in any of these statuses; empty keeps all.
	Statuses []string
	// Kind and SubjectID keep the jobs of one kind, about one subject (an
	// event's bulk invites); empty keeps all.
	Kind      string
	SubjectID string
	// Limit bounds the answer (default 20, at most 100).
	Limit int
}

// List returns jobs of the account, newest first: the console's banner asks
// for the ones still running, an event's page for its recent imports.
func List(ctx context.Context, db store.Reader, accountID string, f Filter) ([]Job, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	f.Limit = min(f.Limit, 100)
	q := db.Read(ctx).Where("account_id = ?", accountID)
	if len(f.Statuses) > 0 {
		q = q.Where("status IN ?", f.Statuses)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.SubjectID != "" {
		q = q.Where("subject_id = ?", f.SubjectID)
	}
	jobs := []Job{}
	err := q.Order("created_at DESC, id DESC").Limit(f.Limit).Find(&jobs).Error
	return jobs, err
}
