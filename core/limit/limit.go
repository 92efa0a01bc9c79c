// Package limit counts, per client, the refusals that cost a client nothing
// to cause and that probing repeats (links that do not exist), in fixed
// windows, and tells when a client has had its share. It owns the
// limit_counts table, where the counts of replicas sharing a PostgreSQL
// database meet.
package limit

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/store"
)

// Rule is how many refusals a client may cause, and over how long.
type Rule struct {
	// Max is the number of refusals counted for one client within one
	// window before its further requests are refused until the window ends.
	Max int `yaml:"max"`
	// Window starts at the client's first counted refusal; once it has
	// passed, the next refusal starts a new one from zero.
	Window time.Duration `yaml:"window"`
}

// Config builds a Counter.
type Config struct {
	// Scope names what is counted (e.g. "unknown_link"); counters of
	// different scopes share the table, not their counts. At most 32 bytes.
	Scope string
	Rule
	// Now is the clock.
	Now func() time.Time
}

// maxClient bounds the stored client key (an IPv6 address is at most 45
// characters).
const maxClient = 64

// Counter counts refusals per client.
//
// Where the counts live depends on who else may count. A SQLite database
// belongs to one gateway process (store.DB.MultiProcess is false), so the
// counts are kept in that process's memory: they are the whole truth, and
// an attacker's refusals never queue on SQLite's single writer. With
// replicas on PostgreSQL each refusal is counted in the database by one
// statement that also returns the shared count, so the replicas enforce
// one limit together.
//
// Checking a client (Blocked) must cost nothing on the paths that serve
// valid links, which are the gateway's busiest. So each process remembers,
// in memory, the clients it counted in their current window and the
// shared count it last saw for them; a client it has not counted is let
// through without a database read. A client it counted is read back from
// the database (one primary-key read) only while its last known count is
// below the limit, to pick up what other replicas counted; a client known
// to be over the limit is refused from memory. The price, on PostgreSQL: a
// replica that has not yet counted a client in the current window answers
// it once more before it learns the shared count from its own count, so a
// client can cause up to Max plus one refusal per other replica in a
// window. On either database, requests already being answered when the
// limit is reached are still answered.
type Counter struct {
	scope string
	rule  Rule
	now   func() time.Time
	// db is nil when this process's counts are the whole truth.
	db *store.DB

	mu sync.RWMutex
	// seen holds, per client counted here, its count in its current
	// window: the shared count last returned by the database on
	// PostgreSQL.
	seen map[string]tally
	// swept is when entries of ended windows were last dropped.
	swept time.Time
}

type tally struct {
	hits  int
	start time.Time
}

// New builds a counter for cfg on db, in memory or in db as db.MultiProcess
// tells.
func New(db *store.DB, cfg Config) *Counter {
	c := &Counter{scope: cfg.Scope, rule: cfg.Rule, now: cfg.Now, seen: map[string]tally{}}
	if c.now == nil {
		c.now = time.Now
	}
	if db != nil && db.MultiProcess() {
		c.db = db
	}
	return c
}

// Blocked reports whether the client has had its share of refusals in its
// current window, and when that window ends.
func (c *Counter) Blocked(ctx context.Context, client string) (until time.Time, blocked bool, err error) {
	client = clip(client)
	c.mu.RLock()
	t, ok := c.seen[client]
	c.mu.RUnlock()
	if !ok {
		return time.Time{}, false, nil
	}
	now := c.now()
	if !c.live(t, now) {
		return time.Time{}, false, nil
	}
	if t.hits >= c.rule.Max {
		return t.start.Add(c.rule.Window), true, nil
	}
	if c.db == nil {
		return time.Time{}, false, nil
	}
	// Counted here in this window, below the limit: other replicas may
	// have counted the client further.
	err = c.db.R.WithContext(ctx).Raw(sqlRead, c.scope, client).Row().Scan(&t.hits, &t.start)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	c.learn(client, t)
	if c.live(t, now) && t.hits >= c.rule.Max {
		return t.start.Add(c.rule.Window), true, nil
	}
	return time.Time{}, false, nil
}

// Add counts one refusal for the client. The count outlives the request's
// context: a client that hangs up as soon as it has read its answer is
// counted all the same.
func (c *Counter) Add(ctx context.Context, client string) error {
	client = clip(client)
	now := c.now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	sweep := c.dueSweep(now)
	if c.db == nil {
		c.mu.Lock()
		t := c.seen[client]
		if !c.live(t, now) {
			t = tally{start: now}
		}
		t.hits++
		c.seen[client] = t
		c.mu.Unlock()
		return nil
	}
	cut := now.Add(-c.rule.Window)
	var t tally
	if err := c.db.W.WithContext(ctx).Raw(sqlCount, c.scope, client, now, cut, cut).Row().Scan(&t.hits, &t.start); err != nil {
		return err
	}
	c.learn(client, t)
	if sweep {
		// Rows of ended windows are dropped by whichever replica sweeps
		// first; a client counted again after that starts a new row.
		return c.db.W.WithContext(ctx).Exec(sqlSweep, c.scope, cut).Error
	}
	return nil
}

// live reports whether t's window is still running at now.
func (c *Counter) live(t tally, now time.Time) bool { return now.Before(t.start.Add(c.rule.Window)) }

// learn records a count read from the database, unless the process
// already knows a later one (answers of concurrent statements may arrive
// in any order).
func (c *Counter) learn(client string, t tally) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.seen[client]
	if !ok || t.start.After(old.start) || t.start.Equal(old.start) && t.hits > old.hits {
		c.seen[client] = t
	}
}

// dueSweep drops the entries of ended windows from memory, at most once a
// window, and reports whether it did (then the database's rows are due
// too). Entries are made only by Add, so sweeping there keeps them to the
// clients counted in about the last two windows.
func (c *Counter) dueSweep(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.swept) < c.rule.Window {
		return false
	}
	c.swept = now
	for k, t := range c.seen {
		if !c.live(t, now) {
			delete(c.seen, k)
		}
	}
	return true
}

func clip(client string) string {
	if len(client) > maxClient {
		return client[:maxClient]
	}
	return client
}
