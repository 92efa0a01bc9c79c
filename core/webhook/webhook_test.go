package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/webhook"
)

var admin = audit.Actor{Kind: audit.ActorUser, ID: "admin"}

// received is one request a receiver got, as it got it.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an endpoint in the test. answer decides each request's
// answer by its number (from 1); nil answers 204.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	r := &receiver{t: t, answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: b})
		n := len(r.got)
		r.mu.Unlock()
		if r.answer != nil {
			r.answer(n, w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// verified is what the receiver got whose signature verifies with secret,
// per the Standard Webhooks library, decoded.
func (r *receiver) verified(secret string) []map[string]any {
	r.t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []map[string]any
	for _, g := range r.requests() {
		if err := wh.Verify(g.body, g.header); err != nil {
			r.t.Errorf("a request does not verify: %v (%s)", err, g.body)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(g.body, &m); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func newService(t *testing.T, db *store.DB, edit func(*webhook.Config)) *webhook.Service {
	t.Helper()
	cfg := webhook.Config{AllowPrivateTargets: true, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Poll: 10 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	s, err := webhook.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func emit(t *testing.T, db *store.DB, s *webhook.Service, accountID, typ, subject string, p webhook.Payload) {
	t.Helper()
	if err := db.Tx(context.Background(), func(tx *store.Tx) error { return s.Emit(tx, accountID, typ, subject, p) }); err != nil {
		t.Fatal(err)
	}
}

// drain runs delivery rounds until nothing is due and nothing waits, or
// fails after a few seconds.
func drain(t *testing.T, db *store.DB, s *webhook.Service) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		var waiting int64
		if err := db.W.Model(&webhook.Delivery{}).Where("status IN ?", []string{webhook.Pending, webhook.Sending}).Count(&waiting).Error; err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("deliveries still waiting after 10s")
}

func deliveries(t *testing.T, db *store.DB) []webhook.Delivery {
	t.Helper()
	var ds []webhook.Delivery
	if err := db.W.Order("seq").Find(&ds).Error; err != nil {
		t.Fatal(err)
	}
	return ds
}

// An event emitted in a committed change reaches each endpoint wanting
// its type once, signed so the Standard Webhooks library verifies it; an
// endpoint not wanting the type, another account's endpoint and a
// rolled-back change's event get nothing.
func TestEmittedEventArrivesOnceSignedAndRollbackSendsNothing(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, nil)
		acct, other := id.New(), id.New()
		wants, notWants, otherAcct := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
		ep, err := s.Create(ctx, acct, admin, webhook.Input{URL: wants.srv.URL + "/hook", Types: []string{webhook.InvitationCreated, webhook.AttendeeCreated}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Secret) < 40 {
			t.Fatalf("secret %q is not a whsec_ secret", ep.Secret)
		}
		if _, err := s.Create(ctx, acct, admin, webhook.Input{URL: notWants.srv.URL, Types: []string{webhook.UserErased}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, other, admin, webhook.Input{URL: otherAcct.srv.URL, Types: []string{webhook.InvitationCreated}}); err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.InvitationCreated, "invitation:1", webhook.Payload{"invitation_id": "1", "email": "ann@example.org"})
		rollback := errors.New("the change failed")
		err = db.Tx(ctx, func(tx *store.Tx) error {
			if err := s.Emit(tx, acct, webhook.InvitationCreated, "invitation:2", webhook.Payload{"invitation_id": "2"}); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		drain(t, db, s)
		got := wants.verified(ep.Secret)
		if len(got) != 1 {
			t.Fatalf("the receiver got %d events, want the committed one only: %v", len(got), got)
		}
		data := got[0]["data"].(map[string]any)
		if got[0]["type"] != webhook.InvitationCreated || data["invitation_id"] != "1" || got[0]["subject"] != "invitation:1" {
			t.Errorf("event = %v", got[0])
		}
		if n := len(notWants.requests()) + len(otherAcct.requests()); n != 0 {
			t.Errorf("endpoints that do not want the event got %d requests", n)
		}
		h := wants.requests()[0].header
		if h.Get("webhook-id") == "" || h.Get("webhook-timestamp") == "" || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
			t.Errorf("headers: %v", h)
		}
		ds := deliveries(t, db)
		if len(ds) != 1 || ds[0].Status != webhook.Delivered || ds[0].ResponseCode != 204 || ds[0].Attempts != 1 {
			t.Errorf("deliveries = %+v", ds)
		}
	})
}

// A receiver that fails three times gets the event on the fourth attempt,
// after back-off; meanwhile the subject's later event waits, so the two
// arrive in order; another subject's event is not held up.
func TestRetriesThenDeliversInOrderPerSubject(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, nil)
		acct := id.New()
		var mu sync.Mutex
		fails := 0
		var order []string
		r := newReceiver(t, nil)
		r.answer = func(n int, w http.ResponseWriter) {
			mu.Lock()
			defer mu.Unlock()
			g := r.requests()[n-1]
			var b struct {
				Subject string
				Data    map[string]any
			}
			json.Unmarshal(g.body, &b)
			if b.Data["n"] == "a1" && fails < 3 {
				fails++
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			order = append(order, b.Data["n"].(string))
			w.WriteHeader(http.StatusOK)
		}
		ep, err := s.Create(ctx, acct, admin, webhook.Input{URL: r.srv.URL, Types: []string{webhook.AttendeeStatusChanged}})
		if err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.AttendeeStatusChanged, "attendee:a", webhook.Payload{"n": "a1"})
		emit(t, db, s, acct, webhook.AttendeeStatusChanged, "attendee:b", webhook.Payload{"n": "b1"})
		emit(t, db, s, acct, webhook.AttendeeStatusChanged, "attendee:a", webhook.Payload{"n": "a2"})
		drain(t, db, s)
		if fails != 3 {
			t.Fatalf("the receiver failed %d times, want 3", fails)
		}
		if strings.Join(order, ",") != "b1,a1,a2" {
			t.Errorf("accepted in the order %v, want b1 (not held up), then a1 (on its 4th attempt), then a2", order)
		}
		ds := deliveries(t, db)
		if ds[0].Attempts != 4 || ds[0].Status != webhook.Delivered || ds[0].ResponseCode != 200 {
			t.Errorf("the retried delivery: %+v", ds[0])
		}
		list, err := s.Deliveries(ctx, acct, ep.ID, 10)
		if err != nil || len(list) != 3 || list[2].Type != webhook.AttendeeStatusChanged || list[2].Attempts != 4 {
			t.Errorf("deliveries as listed: %+v, %v", list, err)
		}
		if len(r.verified(ep.Secret)) != 6 {
			t.Errorf("every attempt is signed with the endpoint's secret")
		}
	})
}

// During a rotation's overlap every delivery carries two signatures, one
// verifying with the old secret, one with the new; after it, one.
func TestRotationSignsWithBothSecretsDuringOverlap(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Ahead of the database's clock, which stamps the events.
		now := time.Now().UTC().Add(time.Minute)
		clock := func() time.Time { return now }
		s := newService(t, db, func(c *webhook.Config) { c.Now = clock })
		acct := id.New()
		r := newReceiver(t, nil)
		ep, err := s.Create(ctx, acct, admin, webhook.Input{URL: r.srv.URL, Types: []string{webhook.AccessGranted}})
		if err != nil {
			t.Fatal(err)
		}
		rot, err := s.RotateSecret(ctx, acct, admin, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Secret == ep.Secret || rot.PreviousUntil == nil || !rot.PreviousUntil.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("rotation: %+v", rot)
		}
		emit(t, db, s, acct, webhook.AccessGranted, "event:1", webhook.Payload{"event_id": "1"})
		drain(t, db, s)
		h := r.requests()[0].header
		if sigs := strings.Fields(h.Get("webhook-signature")); len(sigs) != 2 {
			t.Fatalf("signature header %q: want two signatures during the overlap", h.Get("webhook-signature"))
		}
		if len(r.verified(ep.Secret)) != 1 || len(r.verified(rot.Secret)) != 1 {
			t.Error("the delivery must verify with the old secret and with the new one")
		}
		now = now.Add(25 * time.Hour)
		emit(t, db, s, acct, webhook.AccessGranted, "event:1", webhook.Payload{"event_id": "1"})
		drain(t, db, s)
		last := r.requests()[1]
		if sigs := strings.Fields(last.header.Get("webhook-signature")); len(sigs) != 1 {
			t.Errorf("after the overlap: %q, want one signature", last.header.Get("webhook-signature"))
		}
		wh, _ := standardwebhooks.NewWebhook(ep.Secret)
		if err := wh.VerifyIgnoringTimestamp(last.body, last.header); err == nil {
			t.Error("the old secret still verifies after the overlap")
		}
	})
}

// hosts resolves names as the test says.
type hosts map[string]string

func (h hosts) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := h[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, errors.New("no such host " + host)
}

// Without allow_private_targets, URLs on loopback, the metadata address,
// private ranges or names resolving to loopback are refused with a 4xx
// naming the url field, plain http too; and an address that a name
// resolves to at delivery time is checked again when dialled.
func TestPrivateTargetsRefused(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res := hosts{"hooks.example.org": "93.184.216.34", "evil.example.org": "127.0.0.1", "localhost": "127.0.0.1"}
		strict := newService(t, db, func(c *webhook.Config) { c.AllowPrivateTargets = false; c.Resolver = res })
		acct := id.New()
		for _, u := range []string{
			"https://127.0.0.1/hook", "https://[::1]/hook", "https://169.254.169.254/latest/meta-data", "https://[fd00:ec2::254]/",
			"https://10.1.2.3/", "https://192.168.0.10/", "https://evil.example.org/hook", "http://hooks.example.org/hook",
			"ftp://hooks.example.org/", "not a url",
		} {
			_, err := strict.Create(ctx, acct, admin, webhook.Input{URL: u, Types: []string{webhook.InvitationCreated}})
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.Invalid || !strings.Contains(p.Error(), "url") {
				t.Errorf("%s: %v, want a refusal naming url", u, err)
			}
		}
		if _, err := strict.Create(ctx, acct, admin, webhook.Input{URL: "https://hooks.example.org/hook", Types: []string{webhook.InvitationCreated}}); err != nil {
			t.Errorf("a public https URL: %v", err)
		}
		_, err := strict.Create(ctx, acct, admin, webhook.Input{URL: "https://hooks.example.org/hook", Types: []string{"invitation.exploded"}})
		if p, ok := problem.As(err); !ok || !strings.Contains(p.Error(), "types") {
			t.Errorf("an unknown type: %v, want a refusal naming types", err)
		}

		// The receiver is on loopback: saved where private targets are
		// allowed, delivered by a gateway where they are not.
		r := newReceiver(t, nil)
		port := r.srv.URL[strings.LastIndex(r.srv.URL, ":"):]
		lax := newService(t, db, func(c *webhook.Config) { c.Resolver = res })
		for _, u := range []string{r.srv.URL, "http://evil.example.org" + port, "http://localhost" + port} {
			if _, err := lax.Create(ctx, acct, admin, webhook.Input{URL: u, Types: []string{webhook.UserErased}}); err != nil {
				t.Fatal(err)
			}
		}
		emit(t, db, strict, acct, webhook.UserErased, "user:1", webhook.Payload{})
		if _, err := strict.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(r.requests()); n != 0 {
			t.Fatalf("the loopback receiver got %d requests from a gateway that refuses private targets", n)
		}
		ds := deliveries(t, db)
		if len(ds) != 3 {
			t.Fatalf("%d deliveries, want 3", len(ds))
		}
		for _, d := range ds {
			if d.Status != webhook.Pending || d.Attempts != 1 || !strings.Contains(d.LastError, "loopback") {
				t.Errorf("delivery to a loopback target: %+v", d)
			}
		}
	})
}

// A redirect is not followed (the attempt fails with its code), and of a
// large answer only the first 64 KB are read.
func TestRedirectsNotFollowedAndAnswersCut(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, nil)
		acct := id.New()
		target := newReceiver(t, nil)
		redirect := newReceiver(t, func(n int, w http.ResponseWriter) {
			w.Header().Set("Location", target.srv.URL)
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
		big := newReceiver(t, func(n int, w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			chunk := []byte(strings.Repeat("x", 32<<10))
			for range 64 { // 2 MB, more than is read
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		if _, err := s.Create(ctx, acct, admin, webhook.Input{URL: redirect.srv.URL, Types: []string{webhook.AccessRemoved}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, acct, admin, webhook.Input{URL: big.srv.URL, Types: []string{webhook.AccessRemoved}}); err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.AccessRemoved, "event:1", webhook.Payload{})
		if _, err := s.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if len(target.requests()) != 0 {
			t.Error("the redirect was followed")
		}
		ds := deliveries(t, db)
		if ds[0].Status != webhook.Pending || ds[0].ResponseCode != 307 || !strings.Contains(ds[0].LastError, "not followed") {
			t.Errorf("redirected delivery: %+v", ds[0])
		}
		if ds[1].Status != webhook.Delivered || ds[1].ResponseBytes != webhook.MaxResponseBody {
			t.Errorf("large answer: status %s, %d bytes read, want delivered and %d", ds[1].Status, ds[1].ResponseBytes, webhook.MaxResponseBody)
		}
	})
}

// notes records what a Notifier is told.
type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) WebhookDisabled(tx *store.Tx, accountID, endpointID, url, why string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, endpointID+" "+why)
	return nil
}

// An endpoint whose every attempt fails for DisableAfter is disabled, the
// admins are told (by then its delivery is a day old, and failed for
// good), changes made while it is disabled are not queued for it, and
// enabled again it gets the next change's event.
func TestFailingEndpointDisabledAndResumed(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Add(time.Minute)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		told := &notes{}
		s := newService(t, db, func(c *webhook.Config) {
			c.Now = clock
			c.Notify = told
			c.RetryBase, c.RetryMax = time.Second, time.Second
		})
		acct := id.New()
		down := true
		r := newReceiver(t, func(n int, w http.ResponseWriter) {
			if down {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		ep, err := s.Create(ctx, acct, admin, webhook.Input{URL: r.srv.URL, Types: []string{webhook.InvitationRevoked}})
		if err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.InvitationRevoked, "invitation:1", webhook.Payload{})
		for range 3 {
			if _, err := s.RunDue(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			now = now.Add(12*time.Hour + time.Second)
			mu.Unlock()
		}
		got, err := s.Get(ctx, acct, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Enabled || !strings.Contains(got.DisabledReason, "every attempt since") {
			t.Fatalf("after a day of failures: enabled %v, reason %q", got.Enabled, got.DisabledReason)
		}
		if len(told.got) != 1 || !strings.HasPrefix(told.got[0], ep.ID) {
			t.Errorf("the admins were told %v, want once", told.got)
		}
		n := len(r.requests())
		emit(t, db, s, acct, webhook.InvitationRevoked, "invitation:2", webhook.Payload{})
		s.RunDue(ctx)
		if len(r.requests()) != n {
			t.Error("a disabled endpoint got a request")
		}
		down = false
		on := true
		if _, err := s.Update(ctx, acct, admin, ep.ID, webhook.Patch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.InvitationRevoked, "invitation:3", webhook.Payload{})
		drain(t, db, s)
		ds := deliveries(t, db)
		if len(ds) != 2 || ds[1].Subject != "invitation:3" {
			t.Fatalf("deliveries %+v, want those of invitation 1 and 3, not of the change made while disabled", ds)
		}
		if ds[0].Status != webhook.Failed || !strings.Contains(ds[0].LastError, "gave up after 3 attempts") || ds[0].FailedAt == nil {
			t.Errorf("the delivery that failed for a day: %+v, want failed for good", ds[0])
		}
		if ds[1].Status != webhook.Delivered {
			t.Errorf("the delivery queued after enabling: %s, want delivered", ds[1].Status)
		}
	})
}

// Service.Emit of a type no endpoint of the account wants touches no
// table once it has read the account's wanted types: with the webhook
// tables gone it still succeeds, where the package's Emit fails; a change
// to an endpoint through the service is seen at once.
func TestCachedEmitAsksNothingWhenUnwanted(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, nil)
		acct := id.New()
		r := newReceiver(t, nil)
		ep, err := s.Create(ctx, acct, admin, webhook.Input{URL: r.srv.URL, Types: []string{webhook.UserErased}})
		if err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.InvitationRedeemed, "invitation:1", webhook.Payload{}) // reads the wanted types
		if n := len(deliveries(t, db)); n != 0 {
			t.Fatalf("%d deliveries of an unwanted type", n)
		}
		types := []string{webhook.UserErased, webhook.InvitationRedeemed}
		if _, err := s.Update(ctx, acct, admin, ep.ID, webhook.Patch{Types: &types}); err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.InvitationRedeemed, "invitation:1", webhook.Payload{})
		if n := len(deliveries(t, db)); n != 1 {
			t.Fatalf("%d deliveries after the endpoint asked for the type, want 1 at once", n)
		}
		types = []string{webhook.UserErased}
		if _, err := s.Update(ctx, acct, admin, ep.ID, webhook.Patch{Types: &types}); err != nil {
			t.Fatal(err)
		}
		emit(t, db, s, acct, webhook.InvitationRedeemed, "invitation:1", webhook.Payload{})
		for _, tbl := range []string{"webhook_endpoints", "webhook_deliveries", "webhook_events"} {
			if err := db.W.Exec("ALTER TABLE " + tbl + " RENAME TO gone_" + tbl).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Tx(ctx, func(tx *store.Tx) error {
			return s.Emit(tx, acct, webhook.InvitationRedeemed, "invitation:1", webhook.Payload{})
		}); err != nil {
			t.Errorf("the cached emit of an unwanted type touched a webhook table: %v", err)
		}
		if err := db.Tx(ctx, func(tx *store.Tx) error {
			return webhook.Emit(tx, acct, webhook.InvitationRedeemed, "invitation:1", webhook.Payload{})
		}); err == nil {
			t.Error("the package's Emit succeeded without its tables: the check above proves nothing")
		}
	})
}
