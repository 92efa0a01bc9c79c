package sso_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/connector"
)

// A login in flight is taken once: the first Take gets it with what was
// saved, a second fails, as does a key of another connection or one past
// its expiry; of two Takes at once exactly one wins.
func TestRequestIsTakenOnce(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		q := &sso.Requests{DB: db, Now: func() time.Time { return now }}
		conn := "0190a000-0000-7000-8000-000000000001"
		browser, _ := token.New()
		save := func(ttl time.Duration) string {
			key, _ := token.New()
			err := q.Save(ctx, &connector.Request{Key: key, AccountID: "a", ConnectionID: conn, Purpose: "event", EventID: "e",
				ReturnPath: "/e/x", Browser: browser, Nonce: "n", CodeVerifier: "v", AuthnRequestID: "r", ExpiresAt: now.Add(ttl)})
			if err != nil {
				t.Fatal(err)
			}
			return key
		}
		key := save(10 * time.Minute)
		if n := count(t, db, "sso_requests", "key_hash = ?", token.Hash(key)); n != 1 {
			t.Fatalf("the request is not stored by its key's hash: %d rows", n)
		}
		got, err := q.Take(ctx, conn, key, browser)
		if err != nil {
			t.Fatal(err)
		}
		if got.Purpose != "event" || got.EventID != "e" || got.ReturnPath != "/e/x" || got.Nonce != "n" || got.CodeVerifier != "v" || got.AuthnRequestID != "r" || got.AccountID != "a" {
			t.Fatalf("taken %+v", got)
		}
		if _, err := q.Take(ctx, conn, key, browser); !errors.Is(err, sso.ErrUnknownRequest) {
			t.Fatalf("second take: %v", err)
		}
		other := save(time.Minute)
		if _, err := q.Take(ctx, "0190a000-0000-7000-8000-000000000002", other, browser); !errors.Is(err, sso.ErrUnknownRequest) {
			t.Fatalf("another connection's key: %v", err)
		}
		old := save(time.Minute)
		now = now.Add(2 * time.Minute)
		if _, err := q.Take(ctx, conn, old, browser); !errors.Is(err, connector.ErrExpired) {
			t.Fatalf("expired key: %v", err)
		}
		if _, err := q.Take(ctx, conn, "not a key", browser); !errors.Is(err, sso.ErrUnknownRequest) {
			t.Fatalf("malformed key: %v", err)
		}
		// An answer arriving in another browser, or in one that kept no
		// login cookie, is refused, and uses the login up.
		stranger, _ := token.New()
		for _, b := range []string{stranger, "", "not a cookie"} {
			key := save(time.Minute)
			if _, err := q.Take(ctx, conn, key, b); !errors.Is(err, sso.ErrOtherBrowser) {
				t.Fatalf("taken with browser cookie %q: %v", b, err)
			}
			if _, err := q.Take(ctx, conn, key, browser); !errors.Is(err, sso.ErrUnknownRequest) {
				t.Fatalf("a login refused for another browser is still there: %v", err)
			}
		}

		for round := 0; round < 5; round++ {
			key := save(time.Minute)
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, lost := 0, 0
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := q.Take(ctx, conn, key, browser)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, sso.ErrUnknownRequest):
						lost++
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if won != 1 || lost != 1 {
				t.Fatalf("two takes of one key: %d won, %d lost", won, lost)
			}
		}
	})
}

// An assertion id is accepted once per connection until it expires; of
// two at once exactly one is accepted; an expired record may be replaced;
// the sweep deletes what expired and keeps the rest.
func TestReplayCacheOnce(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		q := &sso.Requests{DB: db, Now: func() time.Time { return now }}
		c1, c2 := "0190a000-0000-7000-8000-000000000001", "0190a000-0000-7000-8000-000000000002"
		if err := q.Once(ctx, c1, "a1", now.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := q.Once(ctx, c1, "a1", now.Add(5*time.Minute)); !errors.Is(err, connector.ErrReplayed) {
			t.Fatalf("second use: %v", err)
		}
		if err := q.Once(ctx, c2, "a1", now.Add(5*time.Minute)); err != nil {
			t.Fatalf("the same id at another connection: %v", err)
		}
		for round := 0; round < 5; round++ {
			id := "race-" + string(rune('a'+round))
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok, replayed := 0, 0
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := q.Once(ctx, c1, id, now.Add(time.Minute))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, connector.ErrReplayed):
						replayed++
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if ok != 1 || replayed != 1 {
				t.Fatalf("two uses of one id at once: %d accepted, %d replayed", ok, replayed)
			}
		}
		key, _ := token.New()
		if err := q.Save(ctx, &connector.Request{Key: key, AccountID: "a", ConnectionID: c1, Purpose: "console", ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(10 * time.Minute)
		if err := q.Once(ctx, c1, "a1", now.Add(5*time.Minute)); err != nil {
			t.Fatalf("an expired record was not replaced: %v", err)
		}
		if err := q.Once(ctx, c1, "keep", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		reqs, seen, err := q.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if reqs != 1 || seen < 6 {
			t.Fatalf("sweep deleted %d requests and %d assertions", reqs, seen)
		}
		if n := count(t, db, "sso_assertions", "assertion_id IN ?", []string{"a1", "keep"}); n != 2 {
			t.Fatalf("the sweep took live records: %d left of 2", n)
		}
	})
}
