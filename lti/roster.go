package lti

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// The course roster of the room page's invite dialog: a launch that
// offers NRPS leaves, with the session it opens, where its course's
// members are read; the dialog's suggestions are the account's people,
// the room adapter's roster and those members, ranked.

// launchContext is the course a session was opened from: the room page
// signed in with that session suggests that course's members (and no
// other course's, when several courses link one room). It lives as long
// as the session.
type launchContext struct {
	SessionID      string    `gorm:"primaryKey;size:36"`
	AccountID      string    `gorm:"size:36;not null"`
	UserID         string    `gorm:"size:36;not null;index"`
	PlatformID     string    `gorm:"size:36;not null"`
	ResourceID     string    `gorm:"size:36;not null"`
	ContextID      string    `gorm:"size:255;not null"`
	MembershipsURL string    `gorm:"size:2048;not null"`
	ExpiresAt      time.Time `gorm:"not null;index"`
}

// TableName names the table.
func (launchContext) TableName() string { return "lti_launch_contexts" }

// MaxSuggestions is the most people the room page's dialog is offered at
// once.
const MaxSuggestions = 20

// recordContext keeps, in tx, the course of a launch whose platform
// offers NRPS, for the session opened. Expired rows are swept at most
// once a minute.
func (s *Service) recordContext(tx *store.Tx, l *Launch, in *Entered) error {
	c := l.Claims
	if !c.NRPS.usable() || in.Session == nil {
		return nil
	}
	row := &launchContext{SessionID: in.Session.Session.ID, AccountID: l.Platform.AccountID, UserID: in.User.ID,
		PlatformID: l.Platform.ID, ResourceID: in.Resource.ID, MembershipsURL: c.NRPS.ContextMembershipsURL,
		ExpiresAt: in.Session.Session.ExpiresAt}
	if c.Context != nil {
		row.ContextID = clip(c.Context.ID, 255)
	}
	if err := tx.Create(row).Error; err != nil {
		return err
	}
	if s.rosters.sweepDue(s.now()) {
		return tx.Where("expires_at <= ?", s.now()).Delete(&launchContext{}).Error
	}
	return nil
}

// contextOf is the course the session was opened from on the room, nil
// when its launch offered no roster.
func (s *Service) contextOf(ctx context.Context, sessionID, resourceID string) (*launchContext, error) {
	var lc launchContext
	err := s.db.Read(ctx).Where("session_id = ? AND resource_id = ? AND expires_at > ?", sessionID, resourceID, s.now()).Take(&lc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &lc, nil
}

// rosters hold each course's members as last read, so the keystrokes of
// the invite dialog do not each call the platform.
type rosters struct {
	mu      sync.Mutex
	entries map[string]*rosterEntry
	sweptAt time.Time
}

// rosterEntry is one course's members; its mutex makes concurrent
// readers wait for one read.
type rosterEntry struct {
	mu      sync.Mutex
	members []Member
	err     error
	readAt  time.Time
}

// rosterRetry is how long a failed read answers before the platform is
// asked again.
const rosterRetry = 15 * time.Second

// maxRosters bounds the courses held; beyond it the stale ones go.
const maxRosters = 1000

func (r *rosters) entry(key string, now time.Time, ttl time.Duration) *rosterEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) >= maxRosters {
		for k, e := range r.entries {
			if e.mu.TryLock() {
				if now.Sub(e.readAt) > ttl {
					delete(r.entries, k)
				}
				e.mu.Unlock()
			}
		}
	}
	e, ok := r.entries[key]
	if !ok {
		e = &rosterEntry{}
		r.entries[key] = e
	}
	return e
}

func (r *rosters) sweepDue(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.sweptAt) < time.Minute {
		return false
	}
	r.sweptAt = now
	return true
}

// roster is the course's members, read at most every RosterTTL.
func (s *Service) roster(ctx context.Context, lc *launchContext) ([]Member, error) {
	now := s.now()
	e := s.rosters.entry(lc.PlatformID+"\x00"+lc.MembershipsURL, now, s.opts.RosterTTL)
	e.mu.Lock()
	defer e.mu.Unlock()
	fresh := e.readAt.Add(s.opts.RosterTTL)
	if e.err != nil {
		fresh = e.readAt.Add(rosterRetry)
	}
	if !e.readAt.IsZero() && now.Before(fresh) {
		return e.members, e.err
	}
	p, err := s.platformByID(ctx, lc.PlatformID)
	if err != nil {
		return nil, err
	}
	if p == nil || p.AccountID != lc.AccountID {
		return nil, ErrPlatformUnknown
	}
	e.members, e.err = s.Members(ctx, p, lc.MembershipsURL, MembersQuery{})
	e.readAt = s.now()
	return e.members, e.err
}

// Suggest answers the invite dialog of the room page signed in with the
// session: the people core/resource.Suggest finds (the account's users,
// the room adapter's roster) and the members of the course the session
// was launched from whose email or name starts with q. Each person is
// there once, by email (a member the account knows is that user), those
// whose email starts with q first, then those whose name does, each in
// email order; at most limit, and never more than MaxSuggestions. A
// roster that cannot be read leaves the others, and RosterErr says why.
func (s *Service) Suggest(ctx context.Context, sessionID string, res *resource.Resource, q string, limit int) (*resource.Suggestions, error) {
	if limit <= 0 || limit > MaxSuggestions {
		limit = MaxSuggestions
	}
	out, err := resource.Suggest(ctx, s.db, s.platform, res, q, limit)
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	lc, err := s.contextOf(ctx, sessionID, res.ID)
	if err != nil {
		return nil, err
	}
	if lc != nil {
		members, err := s.roster(ctx, lc)
		if err != nil && out.RosterErr == nil {
			out.RosterErr = err
		}
		if err == nil {
			if err := s.addMembers(ctx, out, res.AccountID, members, q); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(out.People, func(i, j int) bool {
		a, b := matchRank(&out.People[i], q), matchRank(&out.People[j], q)
		if a != b {
			return a < b
		}
		return out.People[i].Email < out.People[j].Email
	})
	if len(out.People) > limit {
		out.People = out.People[:limit]
	}
	return out, nil
}

// addMembers adds the active members matching q whom out lacks.
func (s *Service) addMembers(ctx context.Context, out *resource.Suggestions, accountID string, members []Member, q string) error {
	seen := make(map[string]bool, len(out.People))
	for _, p := range out.People {
		seen[p.Email] = true
	}
	byEmail := map[string]resource.Suggestion{}
	var emails []string
	for i := range members {
		m := &members[i]
		if !m.Active() || !memberMatches(m, q) {
			continue
		}
		email, err := user.NormalizeEmail(m.Email)
		if err != nil || seen[email] {
			continue // a member without a usable email cannot be invited
		}
		first, last := m.GivenName, m.FamilyName
		if first == "" && last == "" {
			f := strings.Fields(m.Name)
			if len(f) > 0 {
				first, last = f[0], strings.Join(f[1:], " ")
			}
		}
		seen[email] = true
		emails = append(emails, email)
		byEmail[email] = resource.Suggestion{Email: email, FirstName: clipName(first), LastName: clipName(last)}
	}
	users, err := user.ByEmails(ctx, s.db, accountID, emails)
	if err != nil {
		return err
	}
	for i := range users {
		u := &users[i]
		out.People = append(out.People, resource.Suggestion{User: u, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName})
		delete(byEmail, u.Email)
	}
	for _, email := range emails {
		if sg, ok := byEmail[email]; ok {
			out.People = append(out.People, sg)
		}
	}
	return nil
}

// memberMatches reports a member whose email, or a name or a word of it,
// starts with q (lower case).
func memberMatches(m *Member, q string) bool {
	if q == "" {
		return true
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(m.Email)), q) {
		return true
	}
	for _, n := range []string{m.GivenName, m.FamilyName, m.Name} {
		if nameMatches(n, q) {
			return true
		}
	}
	return false
}

func nameMatches(name, q string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	if strings.HasPrefix(name, q) {
		return true
	}
	for _, w := range strings.Fields(name) {
		if strings.HasPrefix(w, q) {
			return true
		}
	}
	return false
}

// matchRank orders suggestions: email prefix, then name prefix, then the
// rest (the room adapter's roster may match otherwise).
func matchRank(p *resource.Suggestion, q string) int {
	switch {
	case q == "" || strings.HasPrefix(p.Email, q):
		return 0
	case nameMatches(p.FirstName, q) || nameMatches(p.LastName, q) || nameMatches(p.FirstName+" "+p.LastName, q):
		return 1
	}
	return 2
}

// clipName cuts a name to what a user's name holds.
func clipName(s string) string {
	if utf8.RuneCountInString(s) <= user.MaxName {
		return s
	}
	return string([]rune(s)[:user.MaxName])
}
