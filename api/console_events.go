package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/problem"
)

// The console's event pages. The All users list is rendered on the server
// from the query string, so a filtered, sorted page is a link an organizer
// can share and the list works without JavaScript; events.js adds the
// dialogs, which call the same /api/v1 endpoints a program would, and asks
// the server for a fresh row (consoleEventRow) after each change so a row
// is rendered in one place only.

// consoleEventRoutes serves the console's event pages.
func (s *Server) consoleEventRoutes(con *gin.RouterGroup) {
	con.GET("/events", s.consoleEvents)
	con.GET("/events/:id", s.consoleEvent)
	con.GET("/events/:id/rows/:aid", s.consoleEventRow)
}

type consoleEventsPage struct {
	Events []consoleEventItem
	// TimeZones are suggestions for the time zone field; any IANA name works.
	TimeZones []string
}

type consoleEventItem struct {
	event.Event
	Schedule string
}

// consoleTimeZones are offered in the new event form's suggestions.
var consoleTimeZones = []string{"UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome",
	"Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens", "Europe/Istanbul", "Europe/Moscow",
	"Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore",
	"Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul", "Australia/Sydney", "Pacific/Auckland", "America/Sao_Paulo",
	"America/Argentina/Buenos_Aires", "America/Mexico_City", "America/New_York", "America/Chicago",
	"America/Denver", "America/Los_Angeles", "America/Toronto", "America/Vancouver"}

func (s *Server) consoleEvents(c *gin.Context) {
	p := who(c)
	evs, err := event.ListEvents(c.Request.Context(), s.cfg.DB, p.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleEventsPage{TimeZones: consoleTimeZones}
	for _, ev := range evs {
		d.Events = append(d.Events, consoleEventItem{Event: ev, Schedule: mail.Schedule(&ev.StartsAt, &ev.EndsAt, ev.TimeZone)})
	}
	s.render(c, http.StatusOK, "events", pageData{Title: "Events", Data: d})
}

// Tabs of an event's page: the All users list, and the same list kept to
// speakers or to moderators.
const (
	consoleTabAll        = "all"
	consoleTabSpeakers   = "speakers"
	consoleTabModerators = "moderators"
)

// consoleEventQuery is the All users query as the page's address carries
// it. It uses the parameter names of GET /api/v1/events/{id}/attendees.
type consoleEventQuery struct {
	Tab      string
	Search   string
	Roles    []string
	Statuses []string
	// Delivery is a delivery filter of the last email (mail.Filter...).
	Delivery string
	Sort     string
	Order    string
	Page     int
	PerPage  int
}

// parseConsoleEventQuery reads the query string, naming each wrong
// parameter. Without a sort the newest come first, so a person just invited
// is at the top of the first page.
func parseConsoleEventQuery(v url.Values) (consoleEventQuery, error) {
	var fs problem.Fields
	q := consoleEventQuery{Tab: v.Get("tab"), Search: strings.TrimSpace(v.Get("search")), Sort: v.Get("sort"),
		Order: v.Get("order"), Delivery: v.Get("delivery"), Page: 1, PerPage: event.DefaultPageSize}
	if msg := mail.FilterProblem(q.Delivery); msg != "" {
		fs.Add("delivery", msg)
	}
	switch q.Tab {
	case "":
		q.Tab = consoleTabAll
	case consoleTabAll, consoleTabSpeakers, consoleTabModerators:
	default:
		fs.Add("tab", fmt.Sprintf("unknown tab %q: use all, speakers or moderators", q.Tab))
	}
	for _, r := range v["role"] {
		switch r {
		case event.RoleAttendee, event.RoleSpeaker, event.RoleModerator, event.RoleOrganizer:
			q.Roles = append(q.Roles, r)
		case "":
		default:
			fs.Add("role", fmt.Sprintf("unknown role %q: use attendee, speaker, moderator or organizer", r))
		}
	}
	for _, st := range v["status"] {
		switch {
		case st == "":
		case event.Status(st).Valid():
			q.Statuses = append(q.Statuses, st)
		default:
			fs.Add("status", fmt.Sprintf("unknown status %q: use invited, registered, attended, sso_login, unregistered or blocked", st))
		}
	}
	switch q.Sort {
	case "":
		q.Sort = event.SortCreatedAt
		if q.Order == "" {
			q.Order = "desc"
		}
	case event.SortName, event.SortCreatedAt:
	default:
		fs.Add("sort", fmt.Sprintf("unknown sort %q: use name or created_at", q.Sort))
	}
	switch q.Order {
	case "":
		q.Order = "asc"
	case "asc", "desc":
	default:
		fs.Add("order", fmt.Sprintf("unknown order %q: use asc or desc", q.Order))
	}
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fs.Add("page", fmt.Sprintf("page %q must be a whole number from 1", s))
		}
		q.Page = n
	}
	if s := v.Get("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > event.MaxPageSize {
			fs.Add("per_page", fmt.Sprintf("per_page %q must be a whole number from 1 to %d", s, event.MaxPageSize))
		}
		q.PerPage = n
	}
	return q, fs.Err()
}

// core turns the page's query into the All users query of the account's
// event; the Speakers and Moderators tabs keep their role whatever else the
// address says.
func (q consoleEventQuery) core(accountID string) event.Query {
	eq := event.Query{Search: q.Search, Roles: q.Roles, Sort: q.Sort, Desc: q.Order == "desc", Page: q.Page, PageSize: q.PerPage}
	if q.Delivery != "" {
		eq.Within = mail.RefsWithDelivery(accountID, q.Delivery)
	}
	switch q.Tab {
	case consoleTabSpeakers:
		eq.Roles = []string{event.RoleSpeaker}
	case consoleTabModerators:
		eq.Roles = []string{event.RoleModerator}
	}
	for _, st := range q.Statuses {
		eq.Statuses = append(eq.Statuses, event.Status(st))
	}
	return eq
}

// values is the query as an address carries it, defaults left out.
func (q consoleEventQuery) values() url.Values {
	v := url.Values{}
	if q.Tab != consoleTabAll {
		v.Set("tab", q.Tab)
	}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	if q.Tab == consoleTabAll {
		for _, r := range q.Roles {
			v.Add("role", r)
		}
	}
	for _, st := range q.Statuses {
		v.Add("status", st)
	}
	if q.Delivery != "" {
		v.Set("delivery", q.Delivery)
	}
	if !(q.Sort == event.SortCreatedAt && q.Order == "desc") {
		v.Set("sort", q.Sort)
		v.Set("order", q.Order)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage != event.DefaultPageSize {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	return v
}

// filterQuery is the list's search and filters as the attendee API takes
// them (the tab as its role), for "Resend to these".
func (q consoleEventQuery) filterQuery() string {
	v := url.Values{}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	roles := q.Roles
	switch q.Tab {
	case consoleTabSpeakers:
		roles = []string{event.RoleSpeaker}
	case consoleTabModerators:
		roles = []string{event.RoleModerator}
	}
	for _, r := range roles {
		v.Add("role", r)
	}
	for _, st := range q.Statuses {
		v.Add("status", st)
	}
	if q.Delivery != "" {
		v.Set("delivery", q.Delivery)
	}
	return v.Encode()
}

func (q consoleEventQuery) url(eventID string) string {
	u := "/console/events/" + eventID
	if v := q.values(); len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

type consoleEventPage struct {
	Event    *event.Event
	Schedule string
	Query    consoleEventQuery
	Tabs     []consoleLink
	Rows     []consoleAttendeeRow
	Total    int64
	// From and To number the rows shown (1-based), Pages the pages overall.
	From, To, Pages int
	Prev, Next      string
	// SortName and SortCreated are the column headings' links: the other
	// direction when the list is sorted by that column already.
	SortName, SortCreated consoleLink
	RoleOptions           []consoleOption
	StatusOptions         []consoleOption
	DeliveryOptions       []consoleOption
	// ResendQuery is the filter of "Resend to these", as
	// POST /api/v1/events/{id}/attendees/resend takes it.
	ResendQuery    string
	PerPageOptions []int
	// Clear is the tab's address without search, filters or paging.
	Clear string
	// EmailUnavailable says why "Invite" cannot email, when it cannot.
	EmailUnavailable string
	MaxBio           int
	MaxImageBytes    int
	ImageHint        string
}

type consoleLink struct {
	Label, URL string
	Current    bool
	// Arrow shows the current sort direction of a column heading.
	Arrow string
}

type consoleOption struct {
	Value, Label string
	Checked      bool
}

// consoleAttendeeRow is one row of the All users list as the console shows it.
type consoleAttendeeRow struct {
	event.Attendee
	Tab         string
	FullName    string
	RolesText   string
	StatusLabel string
	DetailLabel string
	RegLabel    string
	ImageURL    string
	LastEmail   *mail.Delivery
	// EmailText says what became of the last email; the status cell's
	// tooltip shows it under the detailed status, and the Email column
	// names its state.
	EmailText string
	Actions   []consoleAction
}

type consoleAction struct {
	ID, Label string
}

func (s *Server) consoleEvent(c *gin.Context) {
	p := who(c)
	ctx := c.Request.Context()
	ev, err := event.GetEvent(ctx, s.cfg.DB, p.AccountID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	q, err := parseConsoleEventQuery(c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	pg, err := s.cfg.Events.ListFor(ctx, p.eventCaller(), ev.ID, q.core(p.AccountID))
	if err != nil {
		s.fail(c, err)
		return
	}
	rows, err := s.consoleRows(c, ev, q.Tab, pg.Rows)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := consoleEventPage{Event: ev, Schedule: mail.Schedule(&ev.StartsAt, &ev.EndsAt, ev.TimeZone), Query: q, Rows: rows,
		Total: pg.Total, PerPageOptions: []int{25, 50, 100, 250}, MaxBio: event.MaxBio,
		MaxImageBytes: event.MaxImageBytes, ImageHint: event.ImageHint}
	if !slices.Contains(d.PerPageOptions, q.PerPage) {
		// A page size from a shared link stays chosen when the filters change.
		d.PerPageOptions = append(d.PerPageOptions, q.PerPage)
		slices.Sort(d.PerPageOptions)
	}
	d.Pages = int((pg.Total + int64(q.PerPage) - 1) / int64(q.PerPage))
	if len(rows) > 0 {
		d.From = (q.Page-1)*q.PerPage + 1
		d.To = d.From + len(rows) - 1
	}
	if q.Page > 1 {
		prev := q
		prev.Page = min(q.Page-1, max(d.Pages, 1))
		d.Prev = prev.url(ev.ID)
	}
	if q.Page < d.Pages {
		next := q
		next.Page = q.Page + 1
		d.Next = next.url(ev.ID)
	}
	for _, tab := range []consoleLink{{Label: "All users", URL: consoleTabAll}, {Label: "Speakers", URL: consoleTabSpeakers}, {Label: "Moderators", URL: consoleTabModerators}} {
		t := consoleEventQuery{Tab: tab.URL, Sort: q.Sort, Order: q.Order, Page: 1, PerPage: q.PerPage}
		d.Tabs = append(d.Tabs, consoleLink{Label: tab.Label, URL: t.url(ev.ID), Current: tab.URL == q.Tab})
		if tab.URL == consoleTabAll && ev.Closed {
			// A closed event's second tab: the groups granted access.
			d.Tabs = append(d.Tabs, consoleLink{Label: "Event access", URL: "/console/events/" + ev.ID + "/access"})
		}
	}
	clear := consoleEventQuery{Tab: q.Tab, Sort: q.Sort, Order: q.Order, Page: 1, PerPage: q.PerPage}
	d.Clear = clear.url(ev.ID)
	d.SortName = q.sortLink(ev.ID, event.SortName, "Name")
	d.SortCreated = q.sortLink(ev.ID, event.SortCreatedAt, "Created")
	for _, r := range []string{event.RoleSpeaker, event.RoleModerator, event.RoleOrganizer} {
		d.RoleOptions = append(d.RoleOptions, consoleOption{Value: r, Label: consoleRoleLabel(r), Checked: slices.Contains(q.Roles, r)})
	}
	for _, st := range event.Statuses {
		d.StatusOptions = append(d.StatusOptions, consoleOption{Value: string(st), Label: st.Label(), Checked: slices.Contains(q.Statuses, string(st))})
	}
	for _, o := range consoleDeliveryOptions {
		o.Checked = o.Value == q.Delivery
		d.DeliveryOptions = append(d.DeliveryOptions, o)
	}
	d.ResendQuery = q.filterQuery()
	if err := s.cfg.Events.EmailReady(ctx, p.AccountID); err != nil {
		d.EmailUnavailable = describe(c, err).Message
	}
	s.render(c, http.StatusOK, "event", pageData{Title: ev.Name, Data: d})
}

// sortLink is a column heading: sorted by it already, the link reverses the
// direction; otherwise it sorts by it, names A to Z and newest first.
func (q consoleEventQuery) sortLink(eventID, by, label string) consoleLink {
	n := q
	n.Page = 1
	n.Sort = by
	l := consoleLink{Label: label}
	if q.Sort == by {
		l.Current = true
		l.Arrow = "↑"
		n.Order = "desc"
		if q.Order == "desc" {
			l.Arrow = "↓"
			n.Order = "asc"
		}
	} else {
		n.Order = "asc"
		if by == event.SortCreatedAt {
			n.Order = "desc"
		}
	}
	l.URL = n.url(eventID)
	return l
}

// consoleEventRow renders one row, for events.js to put in the table after
// an invitation or an action changed it.
func (s *Server) consoleEventRow(c *gin.Context) {
	p := who(c)
	a, ev, err := s.cfg.Events.GetAttendee(c.Request.Context(), p.eventCaller(), c.Param("id"), c.Param("aid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	tab := c.Query("tab")
	if tab != consoleTabSpeakers && tab != consoleTabModerators {
		tab = consoleTabAll
	}
	rows, err := s.consoleRows(c, ev, tab, []event.Attendee{*a})
	if err != nil {
		s.fail(c, err)
		return
	}
	var buf bytes.Buffer
	if err := s.pages["event"].ExecuteTemplate(&buf, "console_event_row", rows[0]); err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

// consoleRows adds to each attendee what the list shows: the labels, last
// email and allowed actions of the API's view, and the console's wording.
func (s *Server) consoleRows(c *gin.Context, ev *event.Event, tab string, as []event.Attendee) ([]consoleAttendeeRow, error) {
	views, err := s.viewAttendees(c, ev, as)
	if err != nil {
		return nil, err
	}
	rows := make([]consoleAttendeeRow, len(views))
	for i, v := range views {
		r := consoleAttendeeRow{Attendee: *v.Attendee, Tab: tab, FullName: v.Name, StatusLabel: v.StatusLabel,
			DetailLabel: v.DetailLabel, RegLabel: consoleRegLabel(v.RegistrationType), ImageURL: v.ImageURL,
			LastEmail: v.LastEmail, EmailText: consoleEmailText(v.LastEmail)}
		var roles []string
		for _, role := range v.Roles {
			roles = append(roles, consoleRoleLabel(role))
		}
		r.RolesText = strings.Join(roles, ", ")
		for _, act := range v.Actions {
			r.Actions = append(r.Actions, consoleAction{ID: string(act), Label: act.Label()})
		}
		rows[i] = r
	}
	return rows, nil
}

// consoleDeliveryOptions are the delivery filters as the console names them.
var consoleDeliveryOptions = []consoleOption{
	{Value: "", Label: "Any"}, {Value: mail.FilterFailed, Label: "Failed"}, {Value: mail.FilterNeverOpened, Label: "Never opened"},
	{Value: mail.FilterOpened, Label: "Opened"}, {Value: mail.FilterScannerOnly, Label: "Opened by a link scanner only"},
	{Value: mail.FilterQueued, Label: "Queued or retrying"}, {Value: mail.FilterSent, Label: "Sent, page not loaded"},
}

// consoleEmailText says what became of the attendee's last email.
func consoleEmailText(d *mail.Delivery) string {
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return " " + t.UTC().Format("2006-01-02 15:04 UTC")
	}
	queue := ""
	if d != nil && d.QueueID != "" {
		queue = " (queue id " + d.QueueID + ")"
	}
	switch {
	case d == nil:
		return "No email sent yet."
	case d.State == mail.StateOpened:
		return "Last email: sent" + at(d.SentAt) + queue + ", opened" + at(d.OpenedAt) + "."
	case d.State == mail.StateScanner:
		return "Last email: sent" + at(d.SentAt) + queue + "; its link was opened only by a link scanner" + at(d.ScannerViewAt) + ", not by a person."
	case d.State == mail.StateViewed:
		return "Last email: sent" + at(d.SentAt) + queue + "; its page was loaded" + at(d.ViewedAt) + " but not confirmed open."
	case d.State == mail.StateSent:
		return "Last email: sent" + at(d.SentAt) + queue + "."
	case d.State == mail.StateFailed:
		return "Last email: failed (" + d.FailKind + ")" + at(d.FailedAt) + ": " + d.Error + "."
	case d.State == mail.StateRetrying:
		return "Last email: retrying since" + at(&d.QueuedAt) + " after a temporary refusal: " + d.Error + "."
	}
	return "Last email: queued since" + at(&d.QueuedAt) + "."
}

func consoleRoleLabel(r string) string {
	switch r {
	case event.RoleAttendee:
		return "Attendee"
	case event.RoleSpeaker:
		return "Speaker"
	case event.RoleModerator:
		return "Moderator"
	case event.RoleOrganizer:
		return "Organizer"
	}
	return r
}

func consoleRegLabel(t string) string {
	switch t {
	case event.RegInvited:
		return "Invited by the team"
	case event.RegSite:
		return "Registered on the site"
	case event.RegSSO:
		return "Single sign-on"
	}
	return t
}
