package lms

import (
	"sort"
	"strings"

	"github.com/invitegate/gateway/plugins/roomadapter"
)

// MaxResults bounds a roster search's answer: the invite dialog shows a
// short list under the email field.
const MaxResults = 20

// Rank is the people whose email, name or a word of their name starts
// with query (case folded), best first: an email that starts with it,
// then a name, then a word of a name; in each, by email. At most limit
// (MaxResults when 0 or more). An empty query matches no one: the dialog
// asks once something is typed.
func Rank(people []roomadapter.Person, query string, limit int) []roomadapter.Person {
	if limit <= 0 || limit > MaxResults {
		limit = MaxResults
	}
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return nil
	}
	type hit struct {
		score int
		email string
		p     roomadapter.Person
	}
	var hits []hit
	for _, p := range people {
		email := strings.ToLower(p.Email)
		if s, ok := score(email, strings.ToLower(p.Name), q); ok {
			hits = append(hits, hit{s, email, p})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score < hits[j].score
		}
		return hits[i].email < hits[j].email
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]roomadapter.Person, len(hits))
	for i, h := range hits {
		out[i] = h.p
	}
	return out
}

func score(email, name, q string) (int, bool) {
	switch {
	case strings.HasPrefix(email, q):
		return 0, true
	case strings.HasPrefix(name, q):
		return 1, true
	}
	for _, w := range strings.Fields(name) {
		if strings.HasPrefix(w, q) {
			return 2, true
		}
	}
	return 0, false
}
