package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/sso"
)

// newSSOCommand is `gateway sso connections ...`: the account's SSO
// connections, as the API and the console manage them. types replaces the
// gateway's connection types (nil: the gateway's own).
func newSSOCommand(configPath *string, types sso.Types) *cobra.Command {
	c := &ssoCLI{configPath: configPath, types: types}
	root := &cobra.Command{Use: "sso", Short: "Administer single sign-on"}
	root.PersistentFlags().StringVar(&c.adminEmail, "admin", "", "the account is the one of the admin with this email (default: bootstrap.admin_email)")
	conns := &cobra.Command{Use: "connections", Short: "The account's identity provider connections"}
	conns.AddCommand(c.list(), c.create(), c.update(), c.delete(), c.rotateKey())
	root.AddCommand(conns)
	return root
}

// ssoCLI is what the sso commands share: the config to build the gateway
// from and the admin they act as.
type ssoCLI struct {
	configPath *string
	types      sso.Types
	adminEmail string
}

// run runs fn on the built gateway as the admin.
func (c *ssoCLI) run(cmd *cobra.Command, fn func(g *app.Gateway, accountID string, who audit.Actor) error) error {
	cfg, err := loadConfig(*c.configPath, cmd)
	if err != nil {
		return err
	}
	g, err := app.Build(cmd.Context(), cfg, app.Options{SSOTypes: c.types})
	if err != nil {
		return err
	}
	defer g.Close()
	email := c.adminEmail
	if email == "" {
		email = cfg.Bootstrap.AdminEmail
	}
	if email, err = user.NormalizeEmail(email); err != nil {
		return fmt.Errorf("--admin: %w", err)
	}
	u, err := user.FirstConsoleUser(cmd.Context(), g.DB, email, true)
	if err != nil {
		return fmt.Errorf("no account admin with email %s (use --admin)", email)
	}
	return fn(g, u.AccountID, audit.Actor{Kind: audit.ActorUser, ID: u.ID})
}

func (c *ssoCLI) list() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the connections: type, domains, last successful and failed login",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, _ audit.Actor) error {
				vs, err := g.SSO.List(cmd.Context(), accountID)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tTYPE\tNAME\tDOMAINS\tLAST LOGIN\tLAST FAILURE")
				for _, v := range vs {
					last, failed := "never", "none"
					if v.LastLoginAt != nil {
						last = v.LastLoginAt.UTC().Format("2006-01-02 15:04")
					}
					if v.LastFailureAt != nil {
						failed = v.LastFailureAt.UTC().Format("2006-01-02 15:04") + " " + v.LastFailure
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Type, v.Name, strings.Join(v.Domains, ","), last, failed)
				}
				return w.Flush()
			})
		},
	}
}

func (c *ssoCLI) create() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a connection (--type, --name, --config FILE or - for standard input)",
		Args:  cobra.NoArgs,
	}
	f := connectionFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		in, err := f.input(cmd)
		if err != nil {
			return err
		}
		return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
			v, err := g.SSO.Create(cmd.Context(), accountID, who, in)
			return printView(cmd, v, err)
		})
	}
	return cmd
}

func (c *ssoCLI) update() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a connection: only the flags given change; a --config without a secret keeps the stored one",
		Args:  cobra.ExactArgs(1),
	}
	f := connectionFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, err := f.input(cmd)
		if err != nil {
			return err
		}
		return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
			v, err := g.SSO.Update(cmd.Context(), accountID, who, args[0], in)
			return printView(cmd, v, err)
		})
	}
	return cmd
}

func (c *ssoCLI) delete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a connection; the people it signed in stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
				if err := g.SSO.Delete(cmd.Context(), accountID, who, args[0]); err != nil {
					return describeErr(err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "deleted", args[0])
				return nil
			})
		},
	}
}

func (c *ssoCLI) rotateKey() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-key ID",
		Short: "Take one step of the connection's key rollover (SAML: add a new key, then retire the old one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
				v, err := g.SSO.RotateKey(cmd.Context(), accountID, who, args[0])
				return printView(cmd, v, err)
			})
		},
	}
}

// connFlags are the flags of create and update.
type connFlags struct {
	name, typ, config, preset string
	domains                   []string
	jit, linkByEmail          bool
}

func connectionFlags(cmd *cobra.Command) *connFlags {
	f := &connFlags{}
	cmd.Flags().StringVar(&f.name, "name", "", "the connection's name")
	cmd.Flags().StringVar(&f.typ, "type", "", "saml or oidc")
	cmd.Flags().StringSliceVar(&f.domains, "domain", nil, "an email domain it serves (repeat, or comma-separated)")
	cmd.Flags().StringVar(&f.preset, "preset", "", "attribute mapping preset: entra, okta, keycloak, google, generic")
	cmd.Flags().BoolVar(&f.jit, "jit", false, "provision people the account does not know yet")
	cmd.Flags().BoolVar(&f.linkByEmail, "link-by-email", false, "let a first login attach to an existing user with the same verified email")
	cmd.Flags().StringVar(&f.config, "config-json", "", "the type's settings as JSON: a file, or - for standard input")
	return f
}

// input is the Input the flags given say.
func (f *connFlags) input(cmd *cobra.Command) (sso.Input, error) {
	var in sso.Input
	fl := cmd.Flags()
	if fl.Changed("name") {
		in.Name = &f.name
	}
	if fl.Changed("type") {
		in.Type = &f.typ
	}
	if fl.Changed("domain") {
		in.Domains = &f.domains
	}
	if fl.Changed("preset") {
		in.Mapping = &sso.Mapping{Preset: f.preset}
	}
	if fl.Changed("jit") {
		in.JIT = &f.jit
	}
	if fl.Changed("link-by-email") {
		in.LinkByEmail = &f.linkByEmail
	}
	if f.config != "" {
		var b []byte
		var err error
		if f.config == "-" {
			b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
		} else {
			b, err = os.ReadFile(f.config)
		}
		if err != nil {
			return in, fmt.Errorf("--config-json: %w", err)
		}
		if !json.Valid(b) {
			return in, fmt.Errorf("--config-json: %s is not JSON", f.config)
		}
		in.Config = b
	}
	return in, nil
}

// printView prints the connection as the API shows it (no secrets).
func printView(cmd *cobra.Command, v *sso.View, err error) error {
	if err != nil {
		return describeErr(err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(b))
	if v.Message != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), v.Message)
	}
	return nil
}

// describeErr lists every field problem of a refusal, one a line.
func describeErr(err error) error {
	p, ok := problem.As(err)
	if !ok || len(p.Details) < 2 {
		return err
	}
	lines := make([]string, len(p.Details))
	for i, d := range p.Details {
		lines[i] = "  " + d.Field + ": " + d.Message
	}
	return fmt.Errorf("%d problems:\n%s", len(p.Details), strings.Join(lines, "\n"))
}
