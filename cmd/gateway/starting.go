package main

import (
	"net/http"
	"sync/atomic"
)

// starting is the handler of a gateway that listens before it is built:
// while the database is migrated (on PostgreSQL, perhaps waiting for
// another replica's migration), /readyz answers 503 with the reason, so a
// load balancer sends nothing here yet, and every other request is told to
// come back. Once serve hands it the built gateway, it passes every request
// on.
type starting struct {
	next atomic.Pointer[http.Handler]
}

// serve makes h answer every request from now on.
func (s *starting) serve(h http.Handler) { s.next.Store(&h) }

func (s *starting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.next.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/healthz":
		// The process is alive; it is not ready.
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"status":"starting"}`))
	case "/readyz":
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","reason":"starting: migrating the database"}`))
	default:
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"starting","message":"the gateway is starting (migrating its database); try again in a moment"}}`))
	}
}
