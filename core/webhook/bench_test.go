//go:build bench

package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/webhook"
)

// TestBench_webhook_delivery: deliveries per second to a loopback
// receiver through the outbox (claimed from SQLite in batches, signed,
// POSTed, the batch's outcomes recorded together) by 4 workers, beside a bare loop of 4 goroutines
// POSTing the same body to the same receiver. The two sides alternate in
// rounds, so a busy moment of the machine weighs on both alike.
func TestBench_webhook_delivery(t *testing.T) {
	const n, rounds, workers = 6000, 3, 4
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	db := storetest.Open(t, store.SQLite, schema.Models()...)
	s, err := webhook.New(db, webhook.Config{AllowPrivateTargets: true, Workers: workers, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acct := id.New()
	if _, err := s.Create(ctx, acct, admin, webhook.Input{URL: recv.URL + "/in", Types: []string{webhook.AttendeeStatusChanged}}); err != nil {
		t.Fatal(err)
	}
	payload := webhook.Payload{"attendee_id": id.New(), "event_id": id.New(), "user_id": id.New(), "email": "guest@bench.test",
		"first_name": "Guest", "last_name": "Person", "old_status": "invited", "new_status": "registered", "trigger": "register"}
	var baseTime, outTime time.Duration
	var body []byte
	for r := range rounds {
		per := n / rounds
		// Queued first, not timed: the delivery is measured.
		for i := 0; i < per; i += 500 {
			err := db.Tx(ctx, func(tx *store.Tx) error {
				for j := i; j < i+500 && j < per; j++ {
					if err := s.Emit(tx, acct, webhook.AttendeeStatusChanged, fmt.Sprintf("attendee:%d-%d", r, j), payload); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if body == nil {
			var ev webhook.Event
			db.R.Take(&ev)
			body = []byte(ev.Body)
		}
		baseTime += postBare(t, recv.URL+"/in", body, per, workers)
		got.Store(0)
		start := time.Now()
		s.Start()
		for got.Load() < int64(per) {
			time.Sleep(time.Millisecond)
		}
		outTime += time.Since(start)
		s.Stop(ctx)
	}
	var delivered int64
	db.R.Model(&webhook.Delivery{}).Where("status = ?", webhook.Delivered).Count(&delivered)
	if delivered != n {
		t.Fatalf("%d of %d deliveries recorded delivered", delivered, n)
	}
	baseRate, rate := float64(n)/baseTime.Seconds(), float64(n)/outTime.Seconds()
	fmt.Printf("bench webhook_delivery: %.0f deliveries/s (baseline %.0f posts/s, ratio %.2f)\n", rate, baseRate, rate/baseRate)
}

// postBare POSTs body n times from workers goroutines over kept-alive
// connections, as plain as a client gets.
func postBare(t *testing.T, url string, body []byte, n, workers int) time.Duration {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp, err := c.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
