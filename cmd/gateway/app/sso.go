package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/sso"
)

// newSSO is the SSO service and its schedule (metadata refresh, sweep of
// logins in flight), on the gateway's clock.
func newSSO(cfg *Config, types sso.Types, db *store.DB, now func() time.Time, log *slog.Logger,
	sessions *session.Service, events *event.Service) (*sso.Service, *sso.Schedule, error) {
	if types == nil {
		types = sso.DefaultTypes()
	}
	svc, err := sso.New(sso.Options{DB: db, Types: types, Sessions: sessions, Events: events, BaseURL: cfg.BaseURL, Now: now,
		ClockSkew: cfg.SSO.ClockSkew, RequestTTL: cfg.SSO.RequestLifetime,
		HTTPClient: &http.Client{Timeout: 15 * time.Second}, Logger: log.With("component", "sso")})
	if err != nil {
		return nil, nil, err
	}
	sched, err := svc.NewSchedule(cfg.SSO.MetadataRefresh)
	if err != nil {
		return nil, nil, err
	}
	return svc, sched, nil
}
