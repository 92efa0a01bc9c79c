package api_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/mail"
)

// consoleEventFixture is an event with one attendee in each status, made
// through core the way the API and the event site make them, a minute apart.
type consoleEventFixture struct {
	env *apitest.Env
	ev  *event.Event
	// ids by first name.
	ids map[string]string
}

func newConsoleEventFixture(t *testing.T) *consoleEventFixture {
	t.Helper()
	env := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	svc := env.Events
	org := event.Caller{AccountID: env.AccountID, Actor: audit.Actor{Kind: audit.ActorUser, ID: env.Admin.ID}}
	start := env.Clock.Now().Add(7 * 24 * time.Hour).Truncate(time.Minute)
	ev, err := svc.CreateEvent(ctx, org, event.EventInput{Name: "Spring Summit", Slug: "spring-summit", StartsAt: start,
		EndsAt: start.Add(3 * time.Hour), TimeZone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	f := &consoleEventFixture{env: env, ev: ev, ids: map[string]string{}}
	must := func(a *event.Attendee, err error) *event.Attendee {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	invite := func(email, first, last string, p event.Profile) *event.Attendee {
		t.Helper()
		env.Clock.Advance(time.Minute)
		p.FirstName, p.LastName = first, last
		a := must(svc.Invite(ctx, org, ev.ID, event.InviteInput{Email: email, Profile: p}))
		f.ids[first] = a.ID
		return a
	}
	// Created in this order: Ada, Grace, Alan, Barbara, Edsger, Katherine.
	invite("ada@example.org", "Ada", "Lovelace", event.Profile{Speaker: true, Title: "Countess", Company: "Analytical Engines", Bio: "Wrote the first program."})
	invite("grace@example.org", "Grace", "Hopper", event.Profile{Moderator: true, Bio: "Found the first bug."})
	alan := invite("alan@example.org", "Alan", "Turing", event.Profile{})
	must(svc.Register(ctx, ev.ID, event.Identity{Email: "alan@example.org", FirstName: "Alan", LastName: "Turing"}))
	must(svc.ConfirmEmail(ctx, ev.ID, alan.ID))
	if _, err := svc.RecordVisit(ctx, ev.ID, alan.ID); err != nil {
		t.Fatal(err)
	}
	must(svc.AcceptChatTerms(ctx, ev.ID, alan.ID))
	env.Clock.Advance(time.Minute)
	f.ids["Barbara"] = must(svc.Register(ctx, ev.ID, event.Identity{Email: "barbara@example.org", FirstName: "Barbara", LastName: "Liskov"})).ID
	edsger := invite("edsger@example.org", "Edsger", "Dijkstra", event.Profile{})
	must(svc.Unregister(ctx, ev.ID, edsger.ID))
	kate := invite("katherine@example.org", "Katherine", "Johnson", event.Profile{})
	must(svc.Block(ctx, org, ev.ID, kate.ID))

	// Grace's last email failed; Ada's was sent.
	now := env.Clock.Now()
	for _, m := range []mail.Message{
		{ID: id.New(), AccountID: env.AccountID, ToEmail: "grace@example.org", MessageID: id.New() + "@gateway.test", RefKind: "attendee",
			RefID: f.ids["Grace"], Status: "failed", NextAttemptAt: now, LastError: "550 5.1.1 no such user", CreatedAt: now, UpdatedAt: now, FailedAt: &now},
		{ID: id.New(), AccountID: env.AccountID, ToEmail: "ada@example.org", MessageID: id.New() + "@gateway.test", RefKind: "attendee",
			RefID: f.ids["Ada"], Status: "sent", NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, SentAt: &now},
	} {
		if err := env.DB.W.Create(&m).Error; err != nil {
			t.Fatal(err)
		}
	}
	return f
}

var (
	consoleRowRE    = regexp.MustCompile(`(?s)<tr data-attendee="([^"]+)"[^>]*data-name="([^"]*)">(.*?)</tr>`)
	consoleActionRE = regexp.MustCompile(`data-ev-action="([a-z_]+)"`)
	consoleTagRE    = regexp.MustCompile(`<[^>]+>`)
)

// consoleRow is a row of the All users table as the page shows it.
type consoleRow struct {
	ID, Name, HTML string
	Actions        []string
}

// text is the row's visible text, tags removed and spaces collapsed.
func (r consoleRow) text() string {
	return strings.Join(strings.Fields(html.UnescapeString(consoleTagRE.ReplaceAllString(r.HTML, " "))), " ")
}

func consoleRows(body []byte) []consoleRow {
	var out []consoleRow
	for _, m := range consoleRowRE.FindAllStringSubmatch(string(body), -1) {
		r := consoleRow{ID: m[1], Name: html.UnescapeString(m[2]), HTML: m[3]}
		for _, a := range consoleActionRE.FindAllStringSubmatch(m[3], -1) {
			r.Actions = append(r.Actions, a[1])
		}
		out = append(out, r)
	}
	return out
}

func consoleNames(rows []consoleRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Fields(r.Name)[0])
	}
	return out
}

// page fetches the event's page with a query, checking the status.
func (f *consoleEventFixture) page(t *testing.T, c *http.Client, query string, status int) *apitest.Response {
	t.Helper()
	path := "/console/events/" + f.ev.ID
	if query != "" {
		path += "?" + query
	}
	r := f.env.Get(c, path)
	if r.Status != status {
		t.Fatalf("GET %s: %d, want %d: %s", path, r.Status, status, r.Body)
	}
	return r
}

func TestConsoleEventsListAndNav(t *testing.T) {
	f := newConsoleEventFixture(t)
	_, member := f.env.ConsoleUser("member@org.test", "member")
	otherAccount, _ := f.env.SecondAccount()
	svc := f.env.Events
	start := f.env.Clock.Now().Add(time.Hour)
	if _, err := svc.CreateEvent(context.Background(), event.Caller{AccountID: otherAccount, Actor: audit.System},
		event.EventInput{Name: "Secret Offsite", Slug: "secret-offsite", StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}

	for name, c := range map[string]*http.Client{"admin": f.env.SignIn(f.env.Admin), "member": member} {
		r := f.env.Must(f.env.Get(c, "/console/events"), http.StatusOK)
		b := string(r.Body)
		for _, want := range []string{`href="/console/events/` + f.ev.ID + `">Spring Summit</a>`, `href="/e/spring-summit"`,
			`id="new-event"`, `href="/console/events">Events</a>`, "Europe/Paris"} {
			if !strings.Contains(b, want) {
				t.Errorf("%s: events page lacks %q", name, want)
			}
		}
		if strings.Contains(b, "Secret Offsite") {
			t.Errorf("%s: events page lists another account's event", name)
		}
	}
	// Signed out: the sign-in page, not the list.
	r := f.env.Get(f.env.Client(), "/console/events")
	if r.Status != http.StatusUnauthorized || strings.Contains(string(r.Body), "Spring Summit") {
		t.Fatalf("signed out: %d %s", r.Status, r.Body)
	}
}

func TestConsoleEventAllUsers(t *testing.T) {
	f := newConsoleEventFixture(t)
	c := f.env.SignIn(f.env.Admin)

	// The first page: newest first, with every column.
	r := f.page(t, c, "", http.StatusOK)
	rows := consoleRows(r.Body)
	if got, want := consoleNames(rows), []string{"Katherine", "Edsger", "Barbara", "Alan", "Grace", "Ada"}; !slices.Equal(got, want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	if !strings.Contains(string(r.Body), `Showing 1–6 of <span id="total">6</span>`) {
		t.Errorf("page lacks the count of 6")
	}
	byName := map[string]consoleRow{}
	for _, row := range rows {
		byName[strings.Fields(row.Name)[0]] = row
	}
	for name, want := range map[string][]string{
		"Ada":       {"Ada Lovelace", "ada@example.org", "Attendee, Speaker", "Invited by the team", "Invited", "Invited to register", "Last email: sent"},
		"Grace":     {"grace@example.org", "Attendee, Moderator", "Invited to register", "Last email: failed", "550 5.1.1 no such user"},
		"Alan":      {"Attendee", "Attended", "Pre-event visit", "No email sent yet."},
		"Barbara":   {"Registered on the site", "Registered"},
		"Edsger":    {"Unregistered", "No actions"},
		"Katherine": {"Blocked"},
	} {
		text := byName[name].text()
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s's row lacks %q: %s", name, w, text)
			}
		}
	}
	if !strings.Contains(byName["Grace"].HTML, `class="email-text failed"`) || strings.Contains(byName["Ada"].HTML, `email-text failed`) {
		t.Errorf("only a failed last email is marked as failed")
	}
	if strings.Contains(byName["Alan"].text(), "Speaker") {
		t.Errorf("Alan's row shows a role he does not have: %s", byName["Alan"].text())
	}

	// The actions menu offers exactly what the status allows.
	for name, want := range map[string][]string{
		"Ada":       {"edit", "resend_invitation", "remove", "generate_login_link"},
		"Grace":     {"edit", "resend_invitation", "remove", "generate_login_link"},
		"Alan":      {"edit", "view_analytics", "remove", "block_from_chat"},
		"Barbara":   {"edit", "resend_registration_confirmation", "view_analytics", "remove", "generate_login_link"},
		"Edsger":    nil,
		"Katherine": {"edit", "view_analytics"},
	} {
		if got := byName[name].Actions; !slices.Equal(got, want) {
			t.Errorf("%s's actions = %v, want %v", name, got, want)
		}
	}
	if !strings.Contains(byName["Barbara"].HTML, ">Re-send registration confirmation</button>") {
		t.Errorf("actions are not labelled as the console names them: %s", byName["Barbara"].HTML)
	}

	cases := []struct {
		query string
		want  []string
	}{
		{"sort=name&order=asc", []string{"Ada", "Alan", "Barbara", "Edsger", "Grace", "Katherine"}},
		{"sort=name&order=desc", []string{"Katherine", "Grace", "Edsger", "Barbara", "Alan", "Ada"}},
		{"sort=created_at&order=asc", []string{"Ada", "Grace", "Alan", "Barbara", "Edsger", "Katherine"}},
		{"sort=created_at&order=desc", []string{"Katherine", "Edsger", "Barbara", "Alan", "Grace", "Ada"}},
		{"search=gr", []string{"Grace"}},
		{"search=LOVELACE", []string{"Ada"}},
		{"search=alan%40", []string{"Alan"}},
		{"search=nobody", nil},
		{"role=speaker", []string{"Ada"}},
		{"role=speaker&role=moderator", []string{"Grace", "Ada"}},
		{"status=attended", []string{"Alan"}},
		{"status=invited&status=registered&sort=name&order=asc", []string{"Ada", "Barbara", "Grace"}},
		{"search=a&status=invited", []string{"Ada"}},
		{"tab=speakers", []string{"Ada"}},
		{"tab=moderators", []string{"Grace"}},
		// A tab keeps its role whatever the address adds.
		{"tab=speakers&role=moderator", []string{"Ada"}},
		{"sort=name&order=asc&per_page=2&page=2", []string{"Barbara", "Edsger"}},
		{"sort=name&order=asc&per_page=2&page=3", []string{"Grace", "Katherine"}},
		{"per_page=4&page=9", nil},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			got := consoleNames(consoleRows(f.page(t, c, tc.query, http.StatusOK).Body))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("rows = %v, want %v", got, tc.want)
			}
		})
	}

	// Paging: the count, and links that keep the query.
	b := string(f.page(t, c, "sort=name&order=asc&per_page=2&page=2&status=invited&status=registered&status=attended&status=unregistered&status=blocked", http.StatusOK).Body)
	if !strings.Contains(b, `Showing 3–4 of <span id="total">6</span>`) || !strings.Contains(b, "page 2 of 3") {
		t.Errorf("page 2 lacks its count")
	}
	for _, link := range []string{"prev-page", "next-page"} {
		m := regexp.MustCompile(`href="([^"]*)" id="` + link + `"`).FindStringSubmatch(b)
		if m == nil {
			t.Fatalf("page 2 has no %s link", link)
		}
		u := html.UnescapeString(m[1])
		for _, want := range []string{"sort=name", "order=asc", "per_page=2", "status=blocked", "status=invited"} {
			if !strings.Contains(u, want) {
				t.Errorf("%s link %q lost %q", link, u, want)
			}
		}
		if page3 := strings.Contains(u, "page=3"); page3 != (link == "next-page") {
			t.Errorf("%s link %q goes to the wrong page", link, u)
		}
	}
	if !strings.Contains(b, `<option value="2" selected>2</option>`) {
		t.Errorf("the page size of the address is not the one chosen in the form")
	}
	// Column headings reverse the current sort.
	b = string(f.page(t, c, "sort=name&order=asc", http.StatusOK).Body)
	if m := regexp.MustCompile(`href="([^"]*)" id="sort-name"`).FindStringSubmatch(b); m == nil || !strings.Contains(html.UnescapeString(m[1]), "order=desc") {
		t.Errorf("the Name heading of a list sorted A to Z does not sort Z to A: %v", m)
	}
	// The filter form shows what the address asked for.
	b = string(f.page(t, c, "search=gr&status=invited&role=moderator", http.StatusOK).Body)
	for _, want := range []string{`value="gr"`, `name="status" value="invited" checked`, `name="role" value="moderator" checked`} {
		if !strings.Contains(b, want) {
			t.Errorf("filter form lacks %s", want)
		}
	}
	if strings.Contains(b, `name="status" value="attended" checked`) {
		t.Errorf("filter form checks a status the address did not ask for")
	}

	// The Speakers tab shows bio and details instead of roles.
	sp := consoleRows(f.page(t, c, "tab=speakers", http.StatusOK).Body)
	if txt := sp[0].text(); !strings.Contains(txt, "Wrote the first program.") || !strings.Contains(txt, "Countess, Analytical Engines") || !strings.Contains(txt, "Invited") {
		t.Errorf("speaker row = %s", txt)
	}

	// One row, as events.js fetches it after a change.
	rr := f.env.Must(f.env.Get(c, "/console/events/"+f.ev.ID+"/rows/"+f.ids["Ada"]+"?tab=speakers"), http.StatusOK)
	one := consoleRows(rr.Body)
	if len(one) != 1 || one[0].ID != f.ids["Ada"] || !strings.Contains(one[0].text(), "Wrote the first program.") {
		t.Fatalf("row fragment = %s", rr.Body)
	}
}

func TestConsoleEventRefusals(t *testing.T) {
	f := newConsoleEventFixture(t)
	c := f.env.SignIn(f.env.Admin)

	for query, field := range map[string]string{
		"sort=email":      "sort",
		"order=sideways":  "order",
		"page=0":          "page",
		"page=two":        "page",
		"per_page=100000": "per_page",
		"status=gone":     "status",
		"role=keynote":    "role",
		"tab=organizers":  "tab",
	} {
		r := f.page(t, c, query, http.StatusBadRequest)
		if !strings.Contains(string(r.Body), field+":") && !strings.Contains(string(r.Body), field+" ") {
			t.Errorf("%s: the error page does not name %s: %s", query, field, r.Body)
		}
	}

	// Another account's organizer finds nothing, not even the row.
	otherAccount, _ := f.env.SecondAccount()
	svc := f.env.Events
	start := f.env.Clock.Now().Add(time.Hour)
	other, err := svc.CreateEvent(context.Background(), event.Caller{AccountID: otherAccount, Actor: audit.System},
		event.EventInput{Name: "Secret Offsite", Slug: "secret-offsite", StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/console/events/" + other.ID, "/console/events/" + other.ID + "/rows/" + f.ids["Ada"],
		"/console/events/" + f.ev.ID + "/rows/" + id.New(), "/console/events/not-an-id"} {
		r := f.env.Get(c, path)
		if r.Status != http.StatusNotFound || pageCode(r) != "not_found" || strings.Contains(string(r.Body), "Secret Offsite") {
			t.Errorf("GET %s: %d %q, want 404 not_found", path, r.Status, pageCode(r))
		}
	}
}
