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

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/host"
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
			cfg, err := loadConfig(*configPath, cmd)
			if err != nil {
				return err
			}
			return listPlugins(cmd.Context(), cmd.OutOrStdout(), cfg, asJSON)
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

// listPlugins prints the declared plugins with what the database knows of
// their jobs. Without plugins it needs no database.
func listPlugins(ctx context.Context, out io.Writer, cfg *app.Config, asJSON bool) error {
	type row struct {
		schedule.Overview
		Binary string `json:"binary"`
	}
	rows := make([]row, 0, len(cfg.Plugins))
	var overviews []schedule.Overview
	if len(cfg.Plugins) > 0 {
		g, err := app.Build(ctx, cfg, app.Options{})
		if err != nil {
			return err
		}
		defer g.Close()
		if overviews, err = g.Plugins.Overview(ctx); err != nil {
			return err
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
	// A kind this gateway does not run has the zero spec: no API versions,
	// and no declaration is suggested (no API version was agreed).
	kind, _ := host.LookupKind(rep.Info.Kind)
	fmt.Fprintf(out, "kind:          %s\nplugin:        %s %s\n", rep.Info.Kind, rep.Info.Name, rep.Info.Version)
	if rep.Info.Description != "" {
		fmt.Fprintf(out, "description:   %s\n", rep.Info.Description)
	}
	fmt.Fprintf(out, "api versions:  plugin %v, gateway %v", rep.Info.APIVersions, kind.APIVersions)
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
