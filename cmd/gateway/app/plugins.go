package app

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/invitegate/gateway/api"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/schedule"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// Plugins is the plugin host and its scheduler, and what the gateway's
// services ask of plugins: join URLs and role upgrades from room adapters
// (api.JoinURLs, invite.RoleListener), and the plugins' state for the
// admin surface (api.PluginStatus).
type Plugins struct {
	Host      *host.Host
	Scheduler *schedule.Scheduler
	// Platform is core's room side over the host's room adapters.
	Platform *host.Rooms

	db      *store.DB
	now     func() time.Time
	log     *slog.Logger
	running atomic.Bool
}

// newPlugins prepares the configured plugins and their scheduled jobs;
// nothing starts until start. Template provider refreshes are stored
// through the catalog.
func newPlugins(cfg *Config, db *store.DB, now func() time.Time, log *slog.Logger, cat *mail.Catalog) (*Plugins, error) {
	h, err := host.New(cfg.Plugins, host.Options{Logger: log, Now: now})
	if err != nil {
		return nil, err
	}
	s, err := schedule.New(schedule.Options{DB: db, Host: h, Logger: log, Templates: templateSink(cat), Now: now})
	if err != nil {
		return nil, err
	}
	return &Plugins{Host: h, Scheduler: s, Platform: host.NewRooms(h), db: db, now: now, log: log}, nil
}

// templateSink stores each template provider refresh through the catalog.
func templateSink(cat *mail.Catalog) schedule.TemplateSink {
	return func(ctx context.Context, provider string, ts []templateprovider.Template) error {
		out := make([]mail.Template, len(ts))
		for i, t := range ts {
			out[i] = mail.Template{Name: t.Name, Locale: t.Locale, Subject: t.Subject, HTML: t.HTML, Text: t.Text, Version: t.Version}
		}
		return cat.Refresh(ctx, provider, out)
	}
}

// start launches every plugin, then the scheduled jobs. A plugin that
// fails its first start is logged and retried in the background.
func (p *Plugins) start(ctx context.Context) error {
	if err := p.Host.Start(ctx); err != nil {
		p.log.Error("some plugins did not start; they are retried in the background", "error", err)
	}
	if err := p.Scheduler.Start(ctx); err != nil {
		p.Host.Stop(context.WithoutCancel(ctx))
		return err
	}
	p.running.Store(true)
	return nil
}

// stop ends the scheduled jobs, then the plugin processes.
func (p *Plugins) stop(ctx context.Context) error {
	p.running.Store(false)
	return errors.Join(p.Scheduler.Stop(ctx), p.Host.Stop(ctx))
}

// Overview reports every configured plugin with its job's record: with the
// process state when this gateway runs the plugins (it was started), from
// the declarations and the database alone otherwise (an admin command).
func (p *Plugins) Overview(ctx context.Context) ([]schedule.Overview, error) {
	if p.running.Load() {
		return p.Scheduler.Overview(ctx)
	}
	return schedule.Overviews(ctx, p.db.R, p.Host.Configs(), nil, p.now())
}

// PluginStatuses implements api.PluginStatus.
func (p *Plugins) PluginStatuses(ctx context.Context) ([]api.PluginRow, error) {
	ov, err := p.Overview(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]api.PluginRow, len(ov))
	for i, o := range ov {
		rows[i] = api.PluginRow{Name: o.Name, Kind: o.Kind, State: string(o.State), Version: o.Version, Restarts: o.Restarts, LastError: o.LastError}
		if o.LastRun != nil {
			t := o.LastRun.StartedAt
			rows[i].LastRun = &t
		}
	}
	return rows, nil
}

// JoinURL implements api.JoinURLs with the resource's room adapter.
func (p *Plugins) JoinURL(ctx context.Context, res *resource.Resource, who api.Entrant) (string, error) {
	ra, err := host.ClientOf[roomadapter.RoomAdapter](p.Host, res.Adapter)
	if err != nil {
		return "", problem.New(problem.Unavailable, "room_adapter_missing", "the room adapter "+res.Adapter+" for this resource is not configured")
	}
	return ra.JoinURL(ctx, res.PlatformID(), roomadapter.Person{ID: who.UserID, Email: who.Email, Name: who.Name}, who.Role)
}

// RoleUpgraded implements invite.RoleListener: a resource hosted by a room
// adapter hears that a person inside it now has a higher role. The built-in
// demo room reads the role from the database and needs no message.
func (p *Plugins) RoleUpgraded(ctx context.Context, res *resource.Resource, u *user.User, from, to string) error {
	if res.Adapter == "" {
		return nil
	}
	ra, err := host.ClientOf[roomadapter.RoomAdapter](p.Host, res.Adapter)
	if err != nil {
		return err
	}
	return ra.RoleUpgraded(ctx, roomadapter.RoleUpgrade{ResourceID: res.PlatformID(), User: roomadapter.Person{ID: u.ID, Email: u.Email, Name: u.Name()}, OldRole: from, NewRole: to})
}

var (
	_ api.PluginStatus    = (*Plugins)(nil)
	_ api.JoinURLs        = (*Plugins)(nil)
	_ invite.RoleListener = (*Plugins)(nil)
)
