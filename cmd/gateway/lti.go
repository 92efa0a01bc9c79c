package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/lti"
)

// newLTICommand is `gateway lti`: the account's LMS registrations and the
// tool's signing keys, on the server against the configured database.
func newLTICommand(configPath *string) *cobra.Command {
	cmd := &cobra.Command{Use: "lti", Short: "Manage the LTI 1.3 tool: platform registrations and signing keys"}
	cmd.AddCommand(newLTIPlatformsCommand(configPath), newLTIKeysCommand(configPath))
	return cmd
}

func newLTIPlatformsCommand(configPath *string) *cobra.Command {
	cmd := &cobra.Command{Use: "platforms", Short: "List, register, change and remove the LMS platforms of an account"}
	var admin string
	cmd.PersistentFlags().StringVar(&admin, "admin", "", "email of an admin of the account (required)")
	cmd.MarkPersistentFlagRequired("admin")

	run := func(cmd *cobra.Command, fn func(ctx context.Context, g *app.Gateway, accountID string) error) error {
		return withApp(cmd, *configPath, func(g *app.Gateway) error {
			email, err := user.NormalizeEmail(admin)
			if err != nil {
				return fmt.Errorf("--admin: %w", err)
			}
			u, err := user.FirstConsoleUser(cmd.Context(), g.DB, email, true)
			if err != nil {
				return fmt.Errorf("no account admin with email %s", email)
			}
			return fieldsError(fn(cmd.Context(), g, u.AccountID))
		})
	}

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the account's platforms, and the tool's URLs to paste into an LMS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(ctx context.Context, g *app.Gateway, accountID string) error {
				ps, err := g.LTI.ListPlatforms(ctx, accountID)
				if err != nil {
					return err
				}
				printPlatforms(cmd.OutOrStdout(), g.LTI.URLs(), ps)
				return nil
			})
		},
	})

	var in platformFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a platform (every flag but --frame-origin and --link-by-email is required)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(ctx context.Context, g *app.Gateway, accountID string) error {
				p, err := g.LTI.CreatePlatform(ctx, accountID, audit.System, in.input(cmd, true))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "registered platform %s (%s)\n", p.ID, p.Name)
				return nil
			})
		},
	}
	in.add(create)
	cmd.AddCommand(create)

	var up platformFlags
	update := &cobra.Command{
		Use:   "update ID",
		Short: "Change a platform: only the flags given change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, func(ctx context.Context, g *app.Gateway, accountID string) error {
				p, err := g.LTI.UpdatePlatform(ctx, accountID, args[0], audit.System, up.input(cmd, false))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "changed platform %s (%s)\n", p.ID, p.Name)
				return nil
			})
		},
	}
	up.add(update)
	cmd.AddCommand(update)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete ID",
		Short: "Remove a platform: its launches are refused from then on; its rooms stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, func(ctx context.Context, g *app.Gateway, accountID string) error {
				if err := g.LTI.DeletePlatform(ctx, accountID, args[0], audit.System); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed platform %s\n", args[0])
				return nil
			})
		},
	})
	return cmd
}

// platformFlags are a registration's fields as flags.
type platformFlags struct {
	name, issuer, clientID, authLoginURL, tokenURL, jwksURL, adapter string
	deployments, frameOrigins                                        []string
	linkByEmail                                                      bool
	tokenAudience                                                    string
}

func (f *platformFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "what the console calls the platform")
	fl.StringVar(&f.issuer, "issuer", "", "the platform's issuer (iss)")
	fl.StringVar(&f.clientID, "client-id", "", "the client id the platform gave the tool")
	fl.StringSliceVar(&f.deployments, "deployment-id", nil, "a deployment id (repeat, or separate with commas)")
	fl.StringVar(&f.authLoginURL, "auth-login-url", "", "the platform's OIDC authentication request URL")
	fl.StringVar(&f.tokenURL, "token-url", "", "the platform's access token URL")
	fl.StringVar(&f.jwksURL, "jwks-url", "", "the platform's public keyset URL")
	fl.StringVar(&f.tokenAudience, "token-audience", "", "the aud of the tool's client assertions, when the platform wants another than its token URL")
	fl.StringVar(&f.adapter, "adapter", "", "the room adapter plugin that maps launches to rooms")
	fl.StringSliceVar(&f.frameOrigins, "frame-origin", nil, "an origin of LMS pages that frame the tool, when not the issuer's")
	fl.BoolVar(&f.linkByEmail, "link-by-email", false, "a first launch may attach to the account's person with the same email")
}

// input is the flags given (all of them when create, so a missing one is
// reported as required).
func (f *platformFlags) input(cmd *cobra.Command, create bool) lti.PlatformInput {
	var in lti.PlatformInput
	changed := func(name string) bool { return create || cmd.Flags().Changed(name) }
	for _, s := range []struct {
		flag string
		dst  **string
		v    *string
	}{{"name", &in.Name, &f.name}, {"issuer", &in.Issuer, &f.issuer}, {"client-id", &in.ClientID, &f.clientID},
		{"auth-login-url", &in.AuthLoginURL, &f.authLoginURL}, {"token-url", &in.TokenURL, &f.tokenURL},
		{"jwks-url", &in.JWKSURL, &f.jwksURL}, {"adapter", &in.Adapter, &f.adapter}} {
		if changed(s.flag) {
			*s.dst = s.v
		}
	}
	if cmd.Flags().Changed("token-audience") {
		in.TokenAudience = &f.tokenAudience
	}
	if changed("deployment-id") {
		in.DeploymentIDs = &f.deployments
	}
	if changed("frame-origin") {
		in.FrameOrigins = &f.frameOrigins
	}
	if changed("link-by-email") {
		in.LinkByEmail = &f.linkByEmail
	}
	return in
}

// fieldsError lists every wrong field of a refusal, named as the flags.
func fieldsError(err error) error {
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

func printPlatforms(w io.Writer, u lti.URLs, ps []lti.Platform) {
	fmt.Fprintf(w, "login URL:  %s\nlaunch URL: %s\nJWKS URL:   %s\ndeep linking URL: %s\n\n", u.Login, u.Launch, u.JWKS, u.DeepLinking)
	if len(ps) == 0 {
		fmt.Fprintln(w, "no platform is registered")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tISSUER\tCLIENT ID\tDEPLOYMENTS\tADAPTER")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.Issuer, p.ClientID, strings.Join(p.DeploymentIDs, ","), p.Adapter)
	}
	tw.Flush()
}

func newLTIKeysCommand(configPath *string) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage the tool's RS256 signing keys (separate from the join-token keys)"}
	keys.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key: published at /lti/jwks at once, signing after the lead time; the old key stays published until its tokens expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, *configPath, func(g *app.Gateway) error {
				r, err := g.LTI.Keys.Rotate(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "new LTI signing key %s is published at /lti/jwks now and signs from %s; the key before it signs until then and stays published %s longer\n",
					r.KID, r.SignsFrom.Format("2006-01-02 15:04:05 UTC"), lti.SignedTTL)
				return nil
			})
		},
	})
	return keys
}
