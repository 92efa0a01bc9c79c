//go:build bench

package event_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// benchQueries is what organizers do on the All users page of a large
// event: the first page in each sort, searches short and long by name,
// last name and email, role and status filters, and pages deep into the
// list. Each is asked of the gateway (event.List) and, in the same run, of
// the database directly with the same SQL written by hand.
var benchQueries = []event.Query{
	{},
	{Sort: event.SortName},
	{Sort: event.SortName, Desc: true, Page: 2},
	{Sort: event.SortCreatedAt, Desc: true},
	{Search: "ma", Sort: event.SortName},
	{Search: "m", Statuses: []event.Status{event.Registered}},
	{Search: "grace hop", Statuses: []event.Status{event.Attended}},
	{Search: "lovelace", Sort: event.SortCreatedAt, Desc: true, Page: 2},
	{Search: "ada.lovelace.1", Sort: event.SortName},
	{Roles: []string{event.RoleSpeaker}, Statuses: []event.Status{event.Invited}, Sort: event.SortName, Page: 3},
	{Roles: []string{event.RoleModerator}},
	{Roles: []string{event.RoleSpeaker, event.RoleModerator}, Search: "k", Sort: event.SortName},
	{Statuses: []event.Status{event.Registered, event.Attended}, Sort: event.SortName, Page: 20},
	{Statuses: []event.Status{event.Blocked}, Sort: event.SortCreatedAt, Desc: true},
	{Sort: event.SortName, Page: 200, PageSize: 100},
	{Sort: event.SortCreatedAt, Page: 1000, PageSize: 50},
}

// TestBench_attendees_query_sqlite: the All users query on an event with
// 100,000 attendees (and a second event of 20,000 in the same table), p99
// over the query mix, beside the hand-written SQL.
func TestBench_attendees_query_sqlite(t *testing.T) { benchAttendees(t, store.SQLite) }

// TestBench_attendees_query_pg: the same on PostgreSQL.
func TestBench_attendees_query_pg(t *testing.T) { benchAttendees(t, store.Postgres) }

func benchAttendees(t *testing.T, dialect string) {
	const n, rounds = 100_000, 15
	db := storetest.Open(t, dialect, schema.Models()...)
	f := setup(t, db)
	big := f.event(t, nil)
	other := f.event(t, nil)
	start := time.Now()
	bulk(t, f, big, n)
	bulk(t, f, other, n/5)
	if dialect == store.Postgres {
		// What autovacuum does after a bulk load: statistics, and the
		// visibility map that lets counts read indexes only.
		if err := db.W.Exec("VACUUM ANALYZE attendees").Error; err != nil {
			t.Fatal(err)
		}
	} else if err := db.W.Exec("ANALYZE").Error; err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d attendees loaded in %s", dialect, n+n/5, time.Since(start).Round(time.Millisecond))
	raw, err := db.R.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var gw, base []time.Duration
	for r := 0; r < rounds; r++ {
		for i, q := range benchQueries {
			// Alternate which side goes first, so a cache warmed by one
			// helps both alike.
			sides := []func() int64{
				func() int64 {
					t0 := time.Now()
					p, err := event.List(ctx, db, big.ID, q)
					if err != nil {
						t.Fatalf("query %d: %v", i, err)
					}
					gw = append(gw, time.Since(t0))
					return p.Total
				},
				func() int64 {
					t0 := time.Now()
					total := handWritten(t, raw, dialect, big.ID, q)
					base = append(base, time.Since(t0))
					return total
				},
			}
			if (r+i)%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			if a, b := sides[0](), sides[1](); a != b {
				t.Fatalf("query %d %+v: totals differ, %d and %d", i, q, a, b)
			}
		}
	}
	// Each query shape's slowest run, for the note.
	for qi, q := range benchQueries {
		var worst time.Duration
		for i := qi; i < len(gw); i += len(benchQueries) {
			worst = max(worst, gw[i])
		}
		t.Logf("%s: query %2d slowest %6.2f ms: %+v", dialect, qi, ms(worst), q)
	}
	name := "attendees_query_sqlite"
	if dialect == store.Postgres {
		name = "attendees_query_pg"
	}
	g99, b99 := pctl(gw, .99), pctl(base, .99)
	t.Logf("%s: p50 %.2f ms (baseline %.2f ms)", name, ms(pctl(gw, .5)), ms(pctl(base, .5)))
	fmt.Printf("bench %s: %.2f ms p99 (baseline %.2f ms p99, ratio %.2f)\n", name, ms(g99), ms(b99), ms(g99)/ms(b99))
}

// handWritten runs the query's count and page with plain SQL and scans the
// rows, returning the total.
func handWritten(t *testing.T, pool *sql.DB, dialect, eventID string, q event.Query) int64 {
	t.Helper()
	var db interface {
		QueryRow(string, ...any) *sql.Row
		Query(string, ...any) (*sql.Rows, error)
	} = pool
	if dialect == store.Postgres {
		tx, err := pool.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec("SET LOCAL random_page_cost = 1.1"); err != nil {
			t.Fatal(err)
		}
		db = tx
	}
	ph := func(i int) string {
		if dialect == store.Postgres {
			return fmt.Sprintf("$%d", i)
		}
		return "?"
	}
	where := "event_id = " + ph(1)
	args := []any{eventID}
	if s := strings.ToLower(strings.TrimSpace(q.Search)); s != "" {
		hi := s + "\U0010FFFF"
		n := len(args)
		where += fmt.Sprintf(" AND ((email >= %s AND email < %s) OR (name_key >= %s AND name_key < %s) OR (last_key >= %s AND last_key < %s))",
			ph(n+1), ph(n+2), ph(n+3), ph(n+4), ph(n+5), ph(n+6))
		args = append(args, s, hi, s, hi, s, hi)
	}
	if len(q.Roles) > 0 && !slices.Contains(q.Roles, event.RoleAttendee) {
		where += " AND (" + strings.Join(q.Roles, " OR ") + ")"
	}
	if len(q.Statuses) > 0 {
		col := "status"
		var ps []string
		for _, s := range q.Statuses {
			args = append(args, string(s))
			ps = append(ps, ph(len(args)))
		}
		where += " AND " + col + " IN (" + strings.Join(ps, ",") + ")"
	}
	var total int64
	if err := db.QueryRow("SELECT count(*) FROM attendees WHERE "+where, args...).Scan(&total); err != nil {
		t.Fatal(err)
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	order, from := "created_at "+dir+", id "+dir, "attendees INDEXED BY idx_attendees_list_created"
	if q.Sort == event.SortName {
		order, from = "name_key "+dir+", id "+dir, "attendees INDEXED BY idx_attendees_list_name"
	}
	if q.Search == "" || total <= 1000 || dialect != store.SQLite {
		from = "attendees"
	}
	page, size := max(q.Page, 1), q.PageSize
	if size == 0 {
		size = event.DefaultPageSize
	}
	rows, err := db.Query(fmt.Sprintf("SELECT id, account_id, event_id, user_id, email, first_name, last_name, speaker, moderator, organizer, "+
		"title, company, bio, image_ref, registration_type, status, detail, blocked_from_chat, chat_terms_accepted_at, created_at, updated_at "+
		"FROM attendees WHERE id IN (SELECT id FROM %s WHERE %s ORDER BY %s LIMIT %d OFFSET %d) ORDER BY %s", from, where, order, size, (page-1)*size, order), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a event.Attendee
		var email string
		if err := rows.Scan(&a.ID, &a.AccountID, &a.EventID, &a.UserID, &email, &a.FirstName, &a.LastName, &a.Speaker, &a.Moderator, &a.Organizer,
			&a.Title, &a.Company, &a.Bio, &a.ImageRef, &a.RegistrationType, &a.Status, &a.Detail, &a.BlockedFromChat, &a.ChatTermsAcceptedAt, &a.CreatedAt, &a.UpdatedAt); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

func pctl(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
