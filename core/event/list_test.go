package event_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

var (
	firstNames = []string{"Ada", "Alan", "Émile", "Grace", "Mara", "Max", "Maria", "Linus", "Zoë", "Ken", "Barbara", "Edsger", "Donald", "Margaret", "Tim", "Radia", "Niklaus", "Frances", "John", "Katherine"}
	lastNames  = []string{"Lovelace", "Turing", "Hopper", "Martin", "Maxwell", "Torvalds", "Thompson", "Liskov", "Dijkstra", "Knuth", "Hamilton", "Berners-Lee", "Perlman", "Wirth", "Allen", "Backus", "Johnson", "Kernighan", "Ritchie", "Mccarthy", "Müller", "O'Neil", "Zuse", "Babbage", "Shannon"}
)

// bulk inserts n attendees of ev with varied names, roles, statuses and
// creation times (with ties, so the id tie-break matters), in multi-row
// inserts, and returns them as the database holds them.
func bulk(t *testing.T, f *fixture, ev *event.Event, n int) []event.Attendee {
	t.Helper()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]event.Attendee, n)
	for i := range rows {
		first, last := firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)]
		email := fmt.Sprintf("%s.%s.%d@d%d.test", strings.ToLower(first), strings.ToLower(strings.ReplaceAll(last, "'", "")), i, i%7)
		d := details[1+i%(len(details)-1)]
		s := stateOf(d)
		rows[i] = event.Attendee{
			ID: id.New(), AccountID: ev.AccountID, EventID: ev.ID, UserID: id.New(), Email: event.SearchKey(email),
			FirstName: first, LastName: last,
			NameKey: event.SearchKey(strings.ToLower(first + " " + last)), LastKey: event.SearchKey(strings.ToLower(last)),
			Speaker: i%7 == 0, Moderator: i%11 == 0, Organizer: i%13 == 0,
			RegistrationType: event.RegInvited, Status: s.Status, Detail: s.Detail,
			CreatedAt: base.Add(time.Duration((i*7919)%(n/2)) * time.Second), UpdatedAt: base,
		}
	}
	if err := f.db.W.CreateInBatches(rows, 1000).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// expect computes a query's answer in Go.
func expect(all []event.Attendee, q event.Query) ([]string, int) {
	s := strings.ToLower(strings.TrimSpace(q.Search))
	var keep []event.Attendee
	for _, a := range all {
		if s != "" && !strings.HasPrefix(string(a.Email), s) && !strings.HasPrefix(string(a.NameKey), s) && !strings.HasPrefix(string(a.LastKey), s) {
			continue
		}
		if len(q.Roles) > 0 {
			ok := false
			for _, r := range q.Roles {
				ok = ok || slices.Contains(a.Roles(), r)
			}
			if !ok {
				continue
			}
		}
		if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, a.Status) {
			continue
		}
		keep = append(keep, a)
	}
	slices.SortFunc(keep, func(x, y event.Attendee) int {
		c := 0
		if q.Sort == event.SortName {
			c = strings.Compare(string(x.NameKey), string(y.NameKey))
		} else {
			c = x.CreatedAt.Compare(y.CreatedAt)
		}
		if c == 0 {
			c = strings.Compare(x.ID, y.ID)
		}
		if q.Desc {
			c = -c
		}
		return c
	})
	page, size := max(q.Page, 1), q.PageSize
	if size == 0 {
		size = event.DefaultPageSize
	}
	var ids []string
	for i := (page - 1) * size; i < len(keep) && i < page*size; i++ {
		ids = append(ids, keep[i].ID)
	}
	return ids, len(keep)
}

// Search, filter, sort and paging over 10,000 attendees return exactly the
// rows computed in Go, on SQLite and PostgreSQL.
func TestListTenThousand(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, nil)
		other := f.event(t, nil)
		started := time.Now()
		all := bulk(t, f, ev, 10000)
		bulk(t, f, other, 500)
		t.Logf("inserted 10,500 attendees in %v", time.Since(started))

		for _, tc := range []struct {
			name string
			q    event.Query
		}{
			{"everything, first page", event.Query{}},
			{"created desc, page 7", event.Query{Sort: event.SortCreatedAt, Desc: true, Page: 7, PageSize: 100}},
			{"name asc, page 2", event.Query{Sort: event.SortName, Page: 2, PageSize: 500}},
			{"search first-name prefix, name desc", event.Query{Search: "ma", Sort: event.SortName, Desc: true, Page: 3, PageSize: 25}},
			{"search full name", event.Query{Search: "Ada Lov", Sort: event.SortName}},
			{"search last name", event.Query{Search: " TURING ", Sort: event.SortCreatedAt, PageSize: 500}},
			{"search email", event.Query{Search: "grace.hopper.1", Sort: event.SortName}},
			{"search email domain part", event.Query{Search: "zoë.", PageSize: 10}},
			{"search accented", event.Query{Search: "émile m", Sort: event.SortName, PageSize: 500}},
			{"search apostrophe", event.Query{Search: "o'n", Sort: event.SortName, PageSize: 500}},
			{"search LIKE wildcard is literal", event.Query{Search: "a%"}},
			{"speakers", event.Query{Roles: []string{event.RoleSpeaker}, Sort: event.SortName, Page: 4, PageSize: 100}},
			{"speakers or moderators, attended or registered", event.Query{Roles: []string{event.RoleSpeaker, event.RoleModerator},
				Statuses: []event.Status{event.Attended, event.Registered}, Sort: event.SortName, Page: 2, PageSize: 100}},
			{"attendee role is everyone, blocked, last partial page", event.Query{Roles: []string{event.RoleAttendee},
				Statuses: []event.Status{event.Blocked}, Sort: event.SortCreatedAt, Desc: true, Page: 10, PageSize: 100}},
			{"organizers searched and filtered", event.Query{Search: "m", Roles: []string{event.RoleOrganizer},
				Statuses: []event.Status{event.Invited, event.SSOLogin}, Sort: event.SortName}},
			{"past the end", event.Query{Page: 1000, PageSize: 50}},
			{"no match", event.Query{Search: "nobody"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantIDs, wantTotal := expect(all, tc.q)
				got, err := event.List(ctx, db, ev.ID, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, a := range got.Rows {
					ids = append(ids, a.ID)
				}
				if got.Total != int64(wantTotal) || !slices.Equal(ids, wantIDs) {
					t.Fatalf("total %d (want %d), %d rows (want %d), equal=%v", got.Total, wantTotal, len(ids), len(wantIDs), slices.Equal(ids, wantIDs))
				}
				if tc.name != "no match" && tc.name != "past the end" && tc.name != "search LIKE wildcard is literal" && wantTotal == 0 {
					t.Fatalf("the case matches nothing; it tests nothing")
				}
			})
		}

		t.Run("invalid queries report every field", func(t *testing.T) {
			_, err := event.List(ctx, db, ev.ID, event.Query{Sort: "email", Page: -1, PageSize: 1000, Roles: []string{"vip"}, Statuses: []event.Status{"gone"}})
			if p, _ := problem.As(err); p == nil || len(p.Details) != 5 {
				t.Fatalf("want 5 field errors, got %v", err)
			}
		})

		t.Run("an invited person is found by name and email", func(t *testing.T) {
			a, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: "QUINN@Example.org", Profile: event.Profile{FirstName: "Quinn", LastName: "Quasar"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"quinn", "QUINN QUA", "quasar", "quinn@ex"} {
				got, err := f.svc.ListFor(ctx, f.caller, ev.ID, event.Query{Search: s})
				if err != nil || got.Total != 1 || got.Rows[0].ID != a.ID {
					t.Fatalf("search %q: %+v %v", s, got, err)
				}
			}
			if _, err := f.svc.ListFor(ctx, event.Caller{AccountID: "other"}, ev.ID, event.Query{}); code(err) != "not_found" {
				t.Fatalf("another account lists the event: %v", err)
			}
		})
	})
}
