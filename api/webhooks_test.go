package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/store"
)

// hookReceiver is a webhook endpoint in the test: it keeps every request
// and answers 204.
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{header: req.Header.Clone(), body: b})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

// hookEvent is a received event whose signature verified.
type hookEvent struct {
	ID      string
	Type    string         `json:"type"`
	Subject string         `json:"subject"`
	Data    map[string]any `json:"data"`
}

// verified decodes what arrived, each request verified with secret by
// the Standard Webhooks library (a request that does not verify fails the
// test).
func (r *hookReceiver) verified(t *testing.T, secret string) []hookEvent {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	var out []hookEvent
	for _, g := range r.requests() {
		if err := wh.Verify(g.body, g.header); err != nil {
			t.Fatalf("a webhook does not verify: %v\n%s", err, g.body)
		}
		var ev hookEvent
		if err := json.Unmarshal(g.body, &ev); err != nil {
			t.Fatal(err)
		}
		ev.ID = g.header.Get("webhook-id")
		out = append(out, ev)
	}
	return out
}

// waitFor waits until the receiver holds n requests.
func (r *hookReceiver) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(r.requests()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %d requests, want %d", len(r.requests()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func webhookConfig(allowPrivate bool) func(*app.Config) {
	return func(c *app.Config) {
		c.Webhooks.AllowPrivateTargets = allowPrivate
		c.Webhooks.Poll = 20 * time.Millisecond
	}
}

// Every change that has an event type, made through the running gateway,
// reaches an endpoint wanting every type once, signed so the Standard
// Webhooks library verifies it, each subject's events in order; the
// endpoint's deliveries, a replay, a test event and a rotation's two
// signatures show through the API and the console.
func TestWebhooksForEveryChange(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { testWebhooksForEveryChange(t, d) })
	}
}

func testWebhooksForEveryChange(t *testing.T, dialect string) {
	e := newEventsEnv(t, apitest.Options{Dialect: dialect, Config: webhookConfig(true)}, false)
	r := newHookReceiver(t)
	types := []string{"invitation.created", "invitation.redeemed", "invitation.revoked", "attendee.created", "attendee.status_changed",
		"attendee.removed", "user.erased", "group_sync.completed", "access.granted", "access.removed"}
	ep := e.Must(e.Do("POST", "/api/v1/webhooks", e.APIKey, map[string]any{"url": r.srv.URL + "/in", "types": types, "description": "CRM"}), http.StatusCreated).Map(t)
	secret, _ := ep["secret"].(string)
	hook := "/api/v1/webhooks/" + ep["id"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("created endpoint: %v", ep)
	}
	got := e.Must(e.Do("GET", hook, e.APIKey, nil), http.StatusOK).Map(t)
	if _, shown := got["secret"]; shown || len(got["types"].([]any)) != len(types) {
		t.Fatalf("an endpoint read back shows its secret or lost its types: %v", got)
	}

	// Invitations: created, redeemed, revoked.
	room := e.Resource(map[string]any{"type": "room", "title": "Seminar"})
	inv, link := e.Invite(room, "ada@example.org", "viewer")
	if res := e.Form(e.Client(), link, url.Values{"email": {"ada@example.org"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("redeem: %d %.300s", res.Status, res.Body)
	}
	e.Must(e.Do("DELETE", "/api/v1/resources/"+room+"/invitations/"+inv, e.APIKey, nil), http.StatusNoContent)
	// Attendees: created, status changed (registering), removed.
	ev := e.event(map[string]any{"registration": "open", "closed": true})["id"].(string)
	att := e.invite(ev, "bea@example.org")["id"].(string)
	e.site(t, "register", func(ctx context.Context) (*event.Attendee, error) {
		return e.Events.Register(ctx, ev, event.Identity{Email: "bea@example.org", FirstName: "Bea", LastName: "B"})
	})
	e.Must(e.Do("DELETE", "/api/v1/events/"+ev+"/attendees/"+att, e.APIKey, nil), http.StatusNoContent)
	// A directory sync, and its group granted the event and taken back.
	staff := e.DirectoryGroup("Staff", "cy@example.org")
	e.Must(e.Do("PUT", "/api/v1/events/"+ev+"/access/groups/"+staff, e.APIKey, nil), http.StatusOK)
	e.Must(e.Do("DELETE", "/api/v1/events/"+ev+"/access/groups/"+staff, e.APIKey, nil), http.StatusNoContent)
	r.waitFor(t, 9)
	// Erasing a person.
	var found struct {
		Users []struct{ ID string } `json:"users"`
	}
	e.Must(e.Do("GET", "/api/v1/users?q=bea@example.org", e.APIKey, nil), http.StatusOK).JSON(t, &found)
	if len(found.Users) != 1 {
		t.Fatalf("users %v", found.Users)
	}
	req, _ := http.NewRequest("DELETE", e.URL+"/api/v1/users/"+found.Users[0].ID, nil)
	req.Header.Set("Authorization", "Bearer "+e.APIKey)
	if res := e.Send(http.DefaultClient, req); res.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", res.Status, res.Body)
	}
	r.waitFor(t, 10)
	time.Sleep(200 * time.Millisecond) // nothing more may come

	evs := r.verified(t, secret)
	count := map[string]int{}
	var invOrder []string
	for _, x := range evs {
		count[x.Type]++
		if x.Subject == "invitation:"+inv {
			invOrder = append(invOrder, x.Type)
		}
	}
	for _, ty := range types {
		if count[ty] != 1 {
			t.Errorf("%s arrived %d times, want once: %v", ty, count[ty], count)
		}
	}
	if len(evs) != len(types) {
		t.Errorf("%d events arrived, want %d", len(evs), len(types))
	}
	if strings.Join(invOrder, ",") != "invitation.created,invitation.redeemed,invitation.revoked" {
		t.Errorf("the invitation's events arrived as %v", invOrder)
	}
	for _, x := range evs {
		switch x.Type {
		case "attendee.status_changed":
			if x.Data["old_status"] != "invited" || x.Data["new_status"] != "registered" || x.Data["attendee_id"] != att {
				t.Errorf("status change: %v", x.Data)
			}
		case "invitation.redeemed":
			if x.Data["invitation_id"] != inv || x.Data["email"] != "ada@example.org" || x.Data["entered_role"] != "viewer" {
				t.Errorf("redeemed: %v", x.Data)
			}
		case "access.granted":
			if x.Data["group_id"] != staff || x.Data["event_id"] != ev {
				t.Errorf("granted: %v", x.Data)
			}
		}
	}

	// Recent deliveries, a replay (same webhook-id), a test event.
	var ds struct {
		Deliveries []struct {
			ID           int64  `json:"id"`
			Type         string `json:"type"`
			Status       string `json:"status"`
			ResponseCode int    `json:"response_code"`
			EventID      string `json:"event_id"`
		} `json:"deliveries"`
	}
	e.Must(e.Do("GET", hook+"/deliveries", e.APIKey, nil), http.StatusOK).JSON(t, &ds)
	// Erasing Bea took the events that name her (her attendee's three).
	if len(ds.Deliveries) != len(types)-3 || ds.Deliveries[0].Type != "user.erased" || ds.Deliveries[0].Status != "delivered" || ds.Deliveries[0].ResponseCode != 204 {
		t.Fatalf("deliveries: %+v", ds.Deliveries)
	}
	for _, d := range ds.Deliveries {
		if strings.HasPrefix(d.Type, "attendee.") {
			t.Errorf("erasing the attendee's person left the event %s naming her", d.Type)
		}
	}
	first := ds.Deliveries[len(ds.Deliveries)-1]
	e.Must(e.Do("POST", hook+"/deliveries/"+jsonNumber(first.ID)+"/replay", e.APIKey, nil), http.StatusAccepted)
	r.waitFor(t, 11)
	if last := r.verified(t, secret)[10]; last.ID != first.EventID || last.Type != first.Type {
		t.Errorf("replay arrived as %+v, want event %s again", last, first.EventID)
	}
	e.Must(e.Do("POST", hook+"/test", e.APIKey, nil), http.StatusAccepted)
	r.waitFor(t, 12)
	if last := r.verified(t, secret)[11]; last.Type != "webhook.test" {
		t.Errorf("test event arrived as %+v", last)
	}

	// Rotation: the next delivery verifies with the new secret and the old.
	rot := e.Must(e.Do("POST", hook+"/rotate-secret", e.APIKey, nil), http.StatusOK).Map(t)
	newSecret, _ := rot["secret"].(string)
	if newSecret == secret || !strings.HasPrefix(newSecret, "whsec_") || rot["previous_secret_until"] == nil {
		t.Fatalf("rotation: %v", rot)
	}
	e.Must(e.Do("POST", hook+"/test", e.APIKey, nil), http.StatusAccepted)
	r.waitFor(t, 13)
	last := r.requests()[12]
	if n := len(strings.Fields(last.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during the rotation's overlap, want 2", n)
	}
	for _, sec := range []string{secret, newSecret} {
		wh, _ := standardwebhooks.NewWebhook(sec)
		if err := wh.Verify(last.body, last.header); err != nil {
			t.Errorf("a delivery during the overlap does not verify with one of the secrets: %v", err)
		}
	}

	// The console page shows the deliveries; members may not see webhooks.
	page := e.Get(e.SignIn(e.Admin), "/console/webhooks/"+ep["id"].(string))
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "user.erased") || !strings.Contains(string(page.Body), "Replay") || !strings.Contains(string(page.Body), "ms</td>") {
		t.Errorf("console endpoint page: %d %.500s", page.Status, page.Body)
	}
	list := e.Get(e.SignIn(e.Admin), "/console/webhooks")
	if list.Status != http.StatusOK || !strings.Contains(string(list.Body), r.srv.URL+"/in") || strings.Contains(string(list.Body), newSecret) {
		t.Errorf("console list: %d %.500s", list.Status, list.Body)
	}
	_, member := e.ConsoleUser("member@org.test", "member")
	if res := e.Call(member, "GET", "/api/v1/webhooks", "", nil); res.Status != http.StatusForbidden {
		t.Errorf("a member listing webhooks: %d", res.Status)
	}
	e.Must(e.Do("DELETE", hook, e.APIKey, nil), http.StatusNoContent)
	e.Must(e.Do("GET", hook, e.APIKey, nil), http.StatusNotFound)
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Bad input names its field: a URL that is not http(s), an unknown event
// type, and, where private targets are not allowed, plain http and
// loopback, private and cloud metadata addresses, also behind a name.
func TestWebhookBadInput(t *testing.T) {
	e := apitest.New(t, apitest.Options{Config: webhookConfig(false)})
	for _, tc := range []struct {
		name, field string
		body        map[string]any
	}{
		{"not http", "url", map[string]any{"url": "ftp://hooks.example.org/", "types": []string{"user.erased"}}},
		{"plain http", "url", map[string]any{"url": "http://hooks.example.org/", "types": []string{"user.erased"}}},
		{"loopback", "url", map[string]any{"url": "https://127.0.0.1:8443/", "types": []string{"user.erased"}}},
		{"localhost", "url", map[string]any{"url": "https://localhost/", "types": []string{"user.erased"}}},
		{"private", "url", map[string]any{"url": "https://10.0.0.7/", "types": []string{"user.erased"}}},
		{"metadata", "url", map[string]any{"url": "https://169.254.169.254/latest/meta-data/", "types": []string{"user.erased"}}},
		{"unknown type", "types", map[string]any{"url": "https://hooks.example.org/", "types": []string{"user.exploded"}}},
		{"no types", "types", map[string]any{"url": "https://hooks.example.org/", "types": []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.Do("POST", "/api/v1/webhooks", e.APIKey, tc.body)
			if res.Status != http.StatusBadRequest || res.ErrorField() != tc.field {
				t.Errorf("%d %s, want 400 naming %s", res.Status, res.Body, tc.field)
			}
		})
	}
	var l struct {
		Webhooks []any `json:"webhooks"`
	}
	e.Must(e.Do("GET", "/api/v1/webhooks", e.APIKey, nil), http.StatusOK).JSON(t, &l)
	if len(l.Webhooks) != 0 {
		t.Errorf("refused endpoints were saved: %v", l.Webhooks)
	}
}

// A bulk import tells of every attendee it adds, as inviting them one by
// one would: one attendee.created each, to the endpoints wanting it and
// to no other; the rows it updates or refuses tell nothing.
func TestWebhooksForBulkImport(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { testWebhooksForBulkImport(t, d) })
	}
}

func testWebhooksForBulkImport(t *testing.T, dialect string) {
	e := newEventsEnv(t, apitest.Options{Dialect: dialect, HoldJobs: true, Config: webhookConfig(true)}, false)
	wants, other := newHookReceiver(t), newHookReceiver(t)
	ep := e.Must(e.Do("POST", "/api/v1/webhooks", e.APIKey, map[string]any{"url": wants.srv.URL, "types": []string{"attendee.created", "attendee.removed"}}), http.StatusCreated).Map(t)
	e.Must(e.Do("POST", "/api/v1/webhooks", e.APIKey, map[string]any{"url": other.srv.URL, "types": []string{"attendee.removed"}}), http.StatusCreated)
	ev := e.event(map[string]any{"registration": "invite_only"})["id"].(string)
	old := e.invite(ev, "old@example.org")["id"].(string)
	wants.waitFor(t, 1)

	file := bulkHeader +
		"new.one@example.org,New,One,,,,\r\n" +
		"old@example.org,Renamed,Person,Chair,Example Org,Yes,No\r\n" +
		"not-an-email,Bad,Row,,,,\r\n" +
		"new.two@example.org,New,Two,Keynote,Acme,No,Yes\r\n" +
		"new.three@example.org,New,Three,,,,\r\n"
	r, a := bulkUpload(e, e.APIKey, ev, "people.csv", file)
	e.Must(r, http.StatusCreated)
	e.Must(e.Do("POST", "/api/v1/events/"+ev+"/bulk-invites/"+a.Job.ID+"/confirm", e.APIKey, map[string]any{"send_email": false}), http.StatusAccepted)
	if n := e.RunJobs(); n != 1 {
		t.Fatalf("ran %d jobs, want 1", n)
	}
	if j := getJob(e, a.Job.ID); j.Status != "done" || j.Counts.Added != 3 {
		t.Fatalf("job = %+v", j)
	}
	wants.waitFor(t, 4)
	time.Sleep(200 * time.Millisecond) // nothing more may come

	list := e.Must(e.Do("GET", "/api/v1/events/"+ev+"/attendees?per_page=100", e.APIKey, nil), http.StatusOK).Map(t)
	byEmail := map[string]string{}
	for _, it := range list["items"].([]any) {
		m := it.(map[string]any)
		byEmail[m["email"].(string)] = m["id"].(string)
	}
	got := wants.verified(t, ep["secret"].(string))
	if len(got) != 4 {
		t.Fatalf("%d events arrived, want 4 (the invitation and the three added): %+v", len(got), got)
	}
	seen := map[string]bool{}
	for i, x := range got {
		email, _ := x.Data["email"].(string)
		if x.Type != "attendee.created" || byEmail[email] == "" || x.Data["attendee_id"] != byEmail[email] ||
			x.Subject != "attendee:"+byEmail[email] || x.Data["event_id"] != ev || seen[email] {
			t.Errorf("event %d: %+v (attendees %v)", i, x, byEmail)
		}
		seen[email] = true
	}
	if got[0].Data["attendee_id"] != old {
		t.Errorf("the first event is %+v, want the invitation of %s", got[0], old)
	}
	for _, email := range []string{"new.one@example.org", "new.two@example.org", "new.three@example.org"} {
		if !seen[email] {
			t.Errorf("no attendee.created for %s", email)
		}
	}
	if n := len(other.requests()); n != 0 {
		t.Errorf("an endpoint not wanting attendee.created got %d requests", n)
	}
}
