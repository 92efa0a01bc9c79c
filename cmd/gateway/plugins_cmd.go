package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/api"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/schedule"
)

// newPluginsCommand is `gateway plugins`: list the configured plugins with
// their job records, and check a plugin binary before declaring it.
func newPluginsCommand(configPath *string) *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "Inspect plugins: list the configured ones, check a binary"}

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List configured plugins: binary checksum, version, schedule, last run, last error",
		Long: "List the plugins declared in the config with what the database knows of their scheduled jobs.\n" +
			"The live process state (running, restarts, pid) is shown by the serving gateway: GET /api/v1/plugins or /console/plugins.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(*configPath, cmd.Flags().Changed("config"))
			if err != nil {
				return fmt.Errorf("configuration:\n%w", err)
			}
			return listPlugins(cmd.Context(), cmd.OutOrStdout(), cfg, asJSON, time.Now())
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")

	var configFile string
	var timeout time.Duration
	check := &cobra.Command{
		Use:   "check PATH",
		Short: "Start a plugin binary, print its info and config schema, report handshake or version problems",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var config json.RawMessage
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return err
				}
				if !json.Valid(b) {
					return fmt.Errorf("%s is not JSON", configFile)
				}
				config = b
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			rep, err := host.Check(cmd.Context(), args[0], config, log, timeout)
			printCheck(cmd.OutOrStdout(), rep)
			if err != nil {
				return fmt.Errorf("plugin check failed: %w", err)
			}
			if len(rep.ConfigProblems) > 0 {
				return fmt.Errorf("the plugin rejected the config in %s", configFile)
			}
			return nil
		},
	}
	check.Flags().StringVar(&configFile, "config-json", "", "a JSON file with the plugin's configuration object, to check it too")
	check.Flags().DurationVar(&timeout, "timeout", 20*time.Second, "how long the plugin may take to start and answer")

	cmd.AddCommand(list, check)
	return cmd
}

func listPlugins(ctx context.Context, out io.Writer, cfg *Config, asJSON bool, now time.Time) error {
	type row struct {
		schedule.Overview
		Binary string `json:"binary"`
	}
	rows := make([]row, 0, len(cfg.Plugins))
	var overviews []schedule.Overview
	if len(cfg.Plugins) > 0 {
		db, err := store.Open(ctx, store.Config{DSN: cfg.Database.DSN})
		if err != nil {
			return err
		}
		defer db.Close()
		if db.R.Migrator().HasTable(&scheduled.Run{}) {
			overviews, err = schedule.Overviews(ctx, db.R, cfg.Plugins, nil, now)
			if err != nil {
				return err
			}
		} else {
			// Never migrated with plugin support: no runs yet.
			for _, c := range cfg.Plugins {
				overviews = append(overviews, schedule.Declared(c, now))
			}
		}
	}
	for i, o := range overviews {
		r := row{Overview: o, Binary: "ok"}
		sum, err := host.FileSHA256(cfg.Plugins[i].Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			r.Binary = "missing"
		case err != nil:
			r.Binary = "unreadable"
		case !strings.EqualFold(sum, cfg.Plugins[i].SHA256):
			r.Binary = "checksum mismatch"
		}
		rows = append(rows, r)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"plugins": rows})
	}
	if len(rows) == 0 {
		fmt.Fprintln(out, "No plugins are configured. Declare them under plugins: in the config file.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tBINARY\tVERSION\tSCHEDULE\tLAST RUN\tSTATUS\tNEXT RUN\tLAST ERROR")
	for _, r := range rows {
		last, status := "never", "-"
		if r.LastRun != nil {
			last, status = r.LastRun.StartedAt.Local().Format("2006-01-02 15:04:05"), r.LastRun.Status
		}
		next := "-"
		if !r.NextRun.IsZero() {
			next = r.NextRun.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, r.Binary, dash(r.Version), dash(r.Schedule),
			last, status, next, dash(oneLine(r.LastError, 100)))
	}
	return tw.Flush()
}

func printCheck(out io.Writer, rep *host.CheckReport) {
	if rep == nil {
		return
	}
	fmt.Fprintf(out, "path:          %s\nsha256:        %s\n", rep.Path, rep.SHA256)
	if rep.Info.Kind == "" {
		return
	}
	fmt.Fprintf(out, "kind:          %s\nplugin:        %s %s\n", rep.Info.Kind, rep.Info.Name, rep.Info.Version)
	if rep.Info.Description != "" {
		fmt.Fprintf(out, "description:   %s\n", rep.Info.Description)
	}
	fmt.Fprintf(out, "api versions:  plugin %v, gateway %v", rep.Info.APIVersions, host.APIVersions(rep.Info.Kind))
	if rep.APIVersion != 0 {
		fmt.Fprintf(out, ", using %d", rep.APIVersion)
	}
	fmt.Fprintf(out, "\nprotocol:      %d (handshake OK, mutual TLS)\n", plugins.ProtocolVersion)
	if rep.Health != "" {
		fmt.Fprintf(out, "health:        %s\n", rep.Health)
	}
	if rep.Configured {
		if len(rep.ConfigProblems) == 0 {
			fmt.Fprintln(out, "config:        accepted")
		} else {
			fmt.Fprintln(out, "config problems:")
			for _, p := range rep.ConfigProblems {
				fmt.Fprintf(out, "  - %s: %s\n", dash(p.Field), p.Message)
			}
		}
	}
	if len(rep.Info.ConfigSchema) > 0 {
		var v any
		schema := string(rep.Info.ConfigSchema)
		if json.Unmarshal(rep.Info.ConfigSchema, &v) == nil {
			if b, err := json.MarshalIndent(v, "", "  "); err == nil {
				schema = string(b)
			}
		}
		fmt.Fprintf(out, "config schema:\n%s\n", schema)
	}
	if rep.APIVersion != 0 {
		fmt.Fprintf(out, "\nTo use it, declare it in the config file:\n\nplugins:\n  - name: %s\n    kind: %s\n    path: %s\n    sha256: %s\n",
			rep.Info.Name, rep.Info.Kind, rep.Path, rep.SHA256)
		kind, _ := host.LookupKind(rep.Info.Kind) // known: an API version was agreed
		if kind.Job != "" {
			fmt.Fprintln(out, `    schedule: "@hourly"`)
		}
		if kind.Account != "" {
			fmt.Fprintln(out, "    account: ACCOUNT-ID")
		}
		fmt.Fprintln(out, "    config: {}")
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max-1] + "…"
	}
	return s
}

// pluginRuntime is the plugin host and its scheduler as `gateway serve`
// runs them.
type pluginRuntime struct {
	Host  *host.Host
	Sched *schedule.Scheduler
	// Platform is core's room side over the host's room adapters.
	Platform *host.Rooms
}

// startPlugins starts every configured plugin and the scheduled jobs. A
// plugin that fails its first start is logged and retried in the
// background: the gateway serves regardless. The database must have been
// migrated (schema.Models()).
func startPlugins(ctx context.Context, cfgs []host.Config, db *store.DB, log *slog.Logger, templates schedule.TemplateSink) (*pluginRuntime, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := host.New(cfgs, host.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	if err := h.Start(ctx); err != nil {
		log.Error("some plugins did not start; they are retried in the background", "error", err)
	}
	s, err := schedule.New(schedule.Options{DB: db, Host: h, Logger: log, Templates: templates})
	if err != nil {
		h.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		h.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return &pluginRuntime{Host: h, Sched: s, Platform: host.NewRooms(h)}, nil
}

// stop ends the scheduled jobs, then the plugin processes.
func (p *pluginRuntime) stop(ctx context.Context) error {
	return errors.Join(p.Sched.Stop(ctx), p.Host.Stop(ctx))
}

// PluginStatuses implements api.PluginStatus.
func (p *pluginRuntime) PluginStatuses(ctx context.Context) ([]api.PluginRow, error) {
	ov, err := p.Sched.Overview(ctx)
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
func (p *pluginRuntime) JoinURL(ctx context.Context, adapter, resourceID, externalID string, who api.Entrant) (string, error) {
	ra, err := host.ClientOf[roomadapter.RoomAdapter](p.Host, adapter)
	if err != nil {
		return "", problem.New(problem.Unavailable, "room_adapter_missing", "the room adapter "+adapter+" for this resource is not configured")
	}
	id := externalID
	if id == "" {
		id = resourceID
	}
	return ra.JoinURL(ctx, id, roomadapter.Person{ID: who.UserID, Email: who.Email, Name: who.Name}, who.Role)
}

// RoleUpgraded implements invite.RoleListener: a resource hosted by a room
// adapter hears that a person inside it now has a higher role. The built-in
// demo room reads the role from the database and needs no message.
func (p *pluginRuntime) RoleUpgraded(ctx context.Context, res *resource.Resource, u *user.User, from, to string) error {
	if res.Adapter == "" {
		return nil
	}
	ra, err := host.ClientOf[roomadapter.RoomAdapter](p.Host, res.Adapter)
	if err != nil {
		return err
	}
	id := res.ExternalID
	if id == "" {
		id = res.ID
	}
	return ra.RoleUpgraded(ctx, roomadapter.RoleUpgrade{ResourceID: id, User: roomadapter.Person{ID: u.ID, Email: u.Email, Name: u.Name()}, OldRole: from, NewRole: to})
}

var (
	_ api.PluginStatus    = (*pluginRuntime)(nil)
	_ api.JoinURLs        = (*pluginRuntime)(nil)
	_ invite.RoleListener = (*pluginRuntime)(nil)
)
