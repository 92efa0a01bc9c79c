package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/user"
)

func newRootCommand() *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:           "gateway",
		Short:         "Invitation and access gateway for rooms, media and events",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&configPath, "config", "gateway.yaml", "config file (YAML); environment variables GATEWAY_* override it")
	root.AddCommand(newServeCommand(&configPath), newMigrateCommand(&configPath), newKeysCommand(&configPath),
		newAdminCommand(&configPath), newPluginsCommand(&configPath), newEventsCommand(&configPath), newSSOCommand(&configPath, nil),
		newLTICommand(&configPath), newWebhooksCommand(&configPath))
	root.AddCommand(newSCIMCommand(&configPath))
	return root
}

// withApp runs an admin command on the gateway built (not started) from
// the configuration.
func withApp(cmd *cobra.Command, configPath string, fn func(g *app.Gateway) error) error {
	g, err := buildFor(cmd.Context(), configPath, cmd)
	if err != nil {
		return err
	}
	defer g.Close()
	return fn(g)
}

func newServeCommand(configPath *string) *cobra.Command {
	var printLogin bool
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the gateway (migrates the database first)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(*configPath, cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveGateway(ctx, cfg, serveOptions{printLoginLink: printLogin, out: cmd.OutOrStdout()})
		},
	}
	serve.Flags().BoolVar(&printLogin, "print-admin-login-link", false, "print a one-time console sign-in link for the first admin at start")
	return serve
}

func newMigrateCommand(configPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema, then exit",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, *configPath, func(g *app.Gateway) error {
				fmt.Fprintln(cmd.OutOrStdout(), "database schema is up to date")
				return nil
			})
		},
	}
}

func newKeysCommand(configPath *string) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage join-token signing keys"}
	keys.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key; the old one stays published until its tokens expire",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, *configPath, func(g *app.Gateway) error {
				kid, err := g.Signer.Rotate(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "new signing key %s is active; replicas pick it up within 30s; retired keys stay in /.well-known/jwks.json for %s\n", kid, jointoken.TTL)
				return nil
			})
		},
	})
	return keys
}

func newAdminCommand(configPath *string) *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Administer accounts and console users"}
	admin.AddCommand(&cobra.Command{
		Use:   "login-link EMAIL",
		Short: "Print a one-time console sign-in link for a console user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, *configPath, func(g *app.Gateway) error {
				email, err := user.NormalizeEmail(args[0])
				if err != nil {
					return err
				}
				link, err := loginLinkFor(cmd.Context(), g, email)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), link)
				return nil
			})
		},
	})
	admin.AddCommand(&cobra.Command{
		Use:   "api-key EMAIL NAME",
		Short: "Create an API key for the account of the admin with this email (printed once)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, *configPath, func(g *app.Gateway) error {
				key, err := apiKeyFor(cmd.Context(), g, args[0], args[1])
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), key)
				return nil
			})
		},
	})
	return admin
}

// loadConfig reads the configuration a command was given: --config must
// exist when it is set, the default file only when present.
func loadConfig(path string, cmd *cobra.Command) (*app.Config, error) {
	cfg, err := app.Load(path, cmd.Flags().Changed("config"))
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, nil
}

// buildFor builds the gateway of an admin command: configured, migrated,
// with nothing started in the background.
func buildFor(ctx context.Context, path string, cmd *cobra.Command) (*app.Gateway, error) {
	cfg, err := loadConfig(path, cmd)
	if err != nil {
		return nil, err
	}
	return app.Build(ctx, cfg, app.Options{})
}
