package group

import (
	"context"
	"fmt"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// DefaultMaxRemovalShare is the share of a source's members a sync may
// remove before it is held: a directory that suddenly answers with a fifth
// fewer people is more often misconfigured (a wrong base DN, a filter
// changed, a token scoped too narrowly) than right.
const DefaultMaxRemovalShare = 0.2

// Sync is one scheduled sync of a source: Apply with the mass-removal
// guard, as the scheduler runs it.
type Sync struct {
	Account, Source string
	Groups          []SourceGroup
	Members         MemberStream
	// MaxRemovalShare (0 to 1) is the share of the source's current members
	// the sync may remove; more is held for an admin to confirm. 0 holds
	// every removal, 1 none but an empty answer.
	MaxRemovalShare float64
	// RunID names the run record a held sync points back to.
	RunID string
	// Progress, when set, hears as the stream goes how many members it sent
	// so far and how many the source had before the sync (the estimate of
	// the total: the listing carries none). It is called from the stream
	// every progressEvery members and once at the end, so it must return at
	// once: store the figures, write them elsewhere.
	Progress func(seen, before int)
}

// progressEvery is how often Progress hears of a sync: often enough for a
// bar that moves smoothly, rarely enough to cost nothing per member.
const progressEvery = 1000

// guard is the mass-removal guard of a Sync.
type guard struct {
	share float64
	runID string
}

// Run applies s. A sync that would remove more than MaxRemovalShare of the
// source's members, or whose directory sent no member while the source had
// some, is held (Result.Held): its additions and renames are applied, its
// removals are recorded as the source's HeldSync until an admin confirms
// or discards them. A stream that fails removes nothing (ErrIncomplete).
func (s Sync) Run(ctx context.Context, sdb *store.DB) (Result, error) {
	if s.MaxRemovalShare < 0 || s.MaxRemovalShare > 1 {
		return Result{}, problem.Field("max_removal_share", fmt.Sprintf("must be between 0 and 1, not %g", s.MaxRemovalShare))
	}
	return apply(ctx, sdb, s, &guard{share: s.MaxRemovalShare, runID: s.RunID})
}

// holds says whether removing gone of before members is held, and why.
func (g *guard) holds(seen, before, gone int) (bool, string) {
	switch {
	case g == nil || gone == 0:
		return false, ""
	case seen == 0:
		return true, HeldEmpty
	case float64(gone) > g.share*float64(before):
		return true, HeldShare
	}
	return false, ""
}

// SyncRequested records in the audit log that who asked for a sync of the
// source now (Run now), naming its run.
func SyncRequested(ctx context.Context, sdb *store.DB, accountID, source, runID string, who audit.Actor) error {
	return sdb.Tx(ctx, func(tx *store.Tx) error {
		return audit.Record(tx, accountID, who, "group.sync_requested", "group_source", source, map[string]any{"run_id": runID})
	})
}
