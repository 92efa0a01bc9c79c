package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/workers"
	"github.com/invitegate/gateway/sso/connector"
)

// RefreshMetadata fetches again the provider details of every connection
// whose config is a connector.Refresher (SAML IdP metadata from a URL).
// A refresh that fails keeps the stored copy, the last good one, and is
// recorded as the connection's last failure; one that succeeds and
// changes something is stored (and audited). It says how many were
// refreshed and returns the failures joined.
func (s *Service) RefreshMetadata(ctx context.Context) (int, error) {
	var cs []Connection
	if err := s.db.Read(ctx).Order("id").Find(&cs).Error; err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for i := range cs {
		c := &cs[i]
		stored, err := s.config(c)
		if err != nil {
			continue // a type this gateway does not have: nothing to refresh
		}
		r, ok := stored.(connector.Refresher)
		if !ok {
			continue
		}
		fresh, err := r.Refresh(ctx, s.client)
		if err == nil {
			err = fresh.Validate()
		}
		if err == nil {
			var changed bool
			changed, err = s.storeRefreshed(ctx, c, fresh)
			if err == nil && changed {
				n++
			}
		}
		if err != nil {
			err = fmt.Errorf("connection %s (%s): metadata refresh: %w", c.ID, c.Name, err)
			s.log.WarnContext(ctx, "sso metadata refresh failed; the last good copy stays in use", "sso_connection", c.ID, "error", err.Error())
			s.recordFailure(ctx, c.ID, clip("metadata_refresh_failed: "+errors.Unwrap(err).Error(), 255))
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// storeRefreshed writes a refreshed config when it differs from the
// stored one.
func (s *Service) storeRefreshed(ctx context.Context, c *Connection, fresh connector.Config) (bool, error) {
	raw, err := json.Marshal(fresh)
	if err != nil {
		return false, err
	}
	if string(raw) == c.Config {
		return false, nil
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Model(&Connection{}).Where("id = ?", c.ID).Updates(map[string]any{"config": string(raw), "updated_at": tx.Now()}).Error; err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, audit.System, "sso.metadata_refreshed", "sso_connection", c.ID, nil)
	})
	if err == nil {
		s.forget(c.ID)
	}
	return err == nil, err
}

// Schedule runs the service's periodic work: the metadata refresh on its
// cron schedule, and the sweep of expired logins in flight and replay
// records every ten minutes. With several replicas on one PostgreSQL
// database, an advisory lock makes one replica run each.
type Schedule struct {
	svc  *Service
	cron *cron.Cron
	log  *slog.Logger
	wg   sync.WaitGroup
}

// DefaultRefreshSchedule refreshes IdP metadata hourly.
const DefaultRefreshSchedule = "@every 1h"

// NewSchedule prepares the periodic work; refresh is a cron expression or
// "@every <duration>" (default hourly).
func (s *Service) NewSchedule(refresh string) (*Schedule, error) {
	if refresh == "" {
		refresh = DefaultRefreshSchedule
	}
	spec, err := cron.ParseStandard(refresh)
	if err != nil {
		return nil, fmt.Errorf("sso metadata refresh schedule %q: %w", refresh, err)
	}
	sc := &Schedule{svc: s, cron: cron.New(cron.WithLocation(time.UTC)), log: s.log.With("component", "sso")}
	sc.cron.Schedule(spec, sc.job("sso-metadata-refresh", func(ctx context.Context) error {
		_, err := s.RefreshMetadata(ctx)
		return err
	}))
	sc.cron.Schedule(cron.Every(10*time.Minute), sc.job("sso-sweep", func(ctx context.Context) error {
		_, _, err := s.Requests.Sweep(ctx)
		return err
	}))
	return sc, nil
}

// job runs fn under the lock called name, never overlapping itself.
func (sc *Schedule) job(name string, fn func(ctx context.Context) error) cron.Job {
	return cron.NewChain(cron.SkipIfStillRunning(cron.DiscardLogger)).Then(cron.FuncJob(func() {
		sc.wg.Add(1)
		defer sc.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		release, ok, err := sc.svc.db.TryLock(ctx, name)
		if err != nil || !ok {
			return
		}
		defer release()
		if err := fn(ctx); err != nil {
			sc.log.Warn(name, "error", err.Error())
		}
	}))
}

// Start starts the clock.
func (sc *Schedule) Start() { sc.cron.Start() }

// Stop stops the clock and waits for a run in progress until ctx ends.
func (sc *Schedule) Stop(ctx context.Context) error {
	<-sc.cron.Stop().Done()
	return workers.Wait(ctx, &sc.wg, "the sso schedule")
}

// recordFailure sets the connection's last failure.
func (s *Service) recordFailure(ctx context.Context, connID, reason string) {
	if e := s.db.W.WithContext(context.WithoutCancel(ctx)).Model(&Connection{}).Where("id = ?", connID).
		UpdateColumns(map[string]any{"last_failure_at": s.Now(), "last_failure": reason}).Error; e != nil {
		s.log.ErrorContext(ctx, "sso: record a failure", "sso_connection", connID, "error", e.Error())
	}
}
