package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/provision"
)

// newSCIMCommand is `gateway scim tokens ...`: the account's provisioning
// tokens, as the API and the console's SCIM page manage them. It acts as
// an admin of the account, as the sso commands do (ssoCLI.run).
func newSCIMCommand(configPath *string) *cobra.Command {
	c := &ssoCLI{configPath: configPath}
	root := &cobra.Command{Use: "scim", Short: "Administer SCIM provisioning (Entra ID, Okta)"}
	root.PersistentFlags().StringVar(&c.adminEmail, "admin", "", "the account is the one of the admin with this email (default: bootstrap.admin_email)")
	tokens := &cobra.Command{Use: "tokens", Short: "The account's provisioning tokens"}
	tokens.AddCommand(scimTokensList(c), scimTokensCreate(c), scimTokensRevoke(c))
	root.AddCommand(tokens)
	return root
}

func scimTokensList(c *ssoCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tokens (never their secrets) and the SCIM base URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, _ audit.Actor) error {
				ts, err := g.Provision.Tokens(cmd.Context(), accountID)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "SCIM base URL: %s\n", scimBaseURL(g))
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tSTARTS\tLINKS BY EMAIL\tLAST USED\tREVOKED")
				for _, t := range ts {
					used, revoked := "never", "no"
					if t.LastUsedAt != nil {
						used = t.LastUsedAt.UTC().Format("2006-01-02 15:04")
					}
					if t.RevokedAt != nil {
						revoked = t.RevokedAt.UTC().Format("2006-01-02 15:04")
					}
					fmt.Fprintf(w, "%s\t%s\t%s…\t%t\t%s\t%s\n", t.ID, t.Name, t.Prefix, t.LinkByEmail, used, revoked)
				}
				return w.Flush()
			})
		},
	}
}

func scimTokensCreate(c *ssoCLI) *cobra.Command {
	var in provision.NewToken
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token (--name); its secret is printed this once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
				plain, t, err := g.Provision.CreateToken(cmd.Context(), accountID, who, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %s (%s) created; give the identity provider:\n  SCIM base URL: %s\n  token:         %s\nThe token is shown only now.\n",
					t.ID, t.Name, scimBaseURL(g), plain)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&in.Name, "name", "", "which identity provider uses the token (required)")
	cmd.Flags().BoolVar(&in.LinkByEmail, "link-by-email", false, "people it provisions may become the account's existing person with the same email")
	return cmd
}

func scimTokensRevoke(c *ssoCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: the identity provider's next push is refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
				t, err := g.Provision.RevokeToken(cmd.Context(), accountID, who, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %s (%s) revoked\n", t.ID, t.Name)
				return nil
			})
		},
	}
}

// scimBaseURL is where identity providers provision the account.
func scimBaseURL(g *app.Gateway) string { return g.Handler.SCIMBaseURL() }
