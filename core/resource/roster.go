package resource

import (
	"context"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// rosterWait bounds how long the invite dialog's autocomplete waits for a
// platform's roster: a suggestion that comes later is no use to someone
// typing, and the account's own people are shown without it.
const rosterWait = 3 * time.Second

// Suggestion is someone the invite dialog offers for a resource: a person
// the account knows (User is set), or one on the resource's roster on its
// platform whom the account does not know yet (User is nil).
type Suggestion struct {
	User                       *user.User
	Email, FirstName, LastName string
}

// Suggestions answer the invite dialog's autocomplete.
type Suggestions struct {
	People []Suggestion
	// RosterErr is why the platform's roster is missing from People (its
	// adapter could not answer); the account's people are there anyway.
	RosterErr error
}

// Suggest finds, for the invite dialog of res, the people whose email or
// name starts with q: the account's users and, for a resource a platform
// hosts, the people on its roster there. Each person is there once, by
// email (a roster person the account knows is that user), in email order,
// at most limit (as user.Search bounds it). A resource the gateway hosts
// itself costs nothing more than the account's search.
func Suggest(ctx context.Context, db *store.DB, p Platform, res *Resource, q string, limit int) (*Suggestions, error) {
	limit = user.SearchLimit(limit)
	known, err := user.Search(ctx, db, res.AccountID, q, limit)
	if err != nil {
		return nil, err
	}
	out := &Suggestions{People: make([]Suggestion, 0, len(known))}
	seen := make(map[string]bool, len(known))
	for i := range known {
		out.People = append(out.People, knownPerson(&known[i]))
		seen[known[i].Email] = true
	}
	if res.Adapter == "" {
		return out, nil
	}
	members, err := Members(ctx, db, res)
	if err != nil {
		return nil, err
	}
	roster, err := rosterOf(ctx, p, res, q, limit, members)
	if err != nil {
		out.RosterErr = err
		return out, nil
	}
	byEmail := map[string]Person{}
	var emails []string
	for _, r := range roster {
		email, err := user.NormalizeEmail(r.Email)
		if err != nil || seen[email] {
			continue // no one can be invited at an address that is not one
		}
		if _, dup := byEmail[email]; !dup {
			emails = append(emails, email)
			byEmail[email] = r
		}
	}
	// Roster people the account knows beyond its first results are shown
	// as the users they are.
	users, err := user.ByEmails(ctx, db, res.AccountID, emails)
	if err != nil {
		return nil, err
	}
	for i := range users {
		out.People = append(out.People, knownPerson(&users[i]))
		delete(byEmail, users[i].Email)
	}
	for email, r := range byEmail {
		first, last := splitName(r.Name)
		out.People = append(out.People, Suggestion{Email: email, FirstName: first, LastName: last})
	}
	sort.Slice(out.People, func(i, j int) bool { return out.People[i].Email < out.People[j].Email })
	if len(out.People) > limit {
		out.People = out.People[:limit]
	}
	return out, nil
}

func rosterOf(ctx context.Context, p Platform, res *Resource, q string, limit int, members []Person) ([]Person, error) {
	if p == nil {
		return nil, NoAdapter(res.Adapter, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, rosterWait)
	defer cancel()
	return p.Roster(ctx, res.Adapter, res.PlatformID(), strings.TrimSpace(q), limit, members)
}

func knownPerson(u *user.User) Suggestion {
	return Suggestion{User: u, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName}
}

// splitName guesses a roster name's first and last names for the invite
// form, which asks for both: the first word, and the rest. The inviter
// sees both and may correct them.
func splitName(name string) (first, last string) {
	f := strings.Fields(name)
	if len(f) == 0 {
		return "", ""
	}
	return clip(f[0]), clip(strings.Join(f[1:], " "))
}

// clip cuts a name to the characters a user's name holds.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= user.MaxName {
		return s
	}
	return string([]rune(s)[:user.MaxName])
}
