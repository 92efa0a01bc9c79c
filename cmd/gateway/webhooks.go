package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/webhook"
)

// newWebhooksCommand is `gateway webhooks ...`: the account's webhook
// endpoints, as the API and the console manage them. It acts as the admin
// --admin names, like the sso commands. A secret is printed once, when
// made (create, rotate-secret).
func newWebhooksCommand(configPath *string) *cobra.Command {
	c := &ssoCLI{configPath: configPath}
	root := &cobra.Command{Use: "webhooks", Short: "Administer the account's webhook endpoints"}
	root.PersistentFlags().StringVar(&c.adminEmail, "admin", "", "the account is the one of the admin with this email (default: bootstrap.admin_email)")
	root.AddCommand(webhooksList(c), webhooksCreate(c), webhooksDelete(c), webhooksRotate(c))
	return root
}

func webhooksList(c *ssoCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the endpoints: URL, event types, enabled or why disabled",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, _ audit.Actor) error {
				eps, err := g.Webhooks.List(cmd.Context(), accountID)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tURL\tTYPES\tSTATE")
				for _, ep := range eps {
					state := "enabled"
					if !ep.Enabled {
						state = "disabled " + ep.DisabledReason
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ep.ID, ep.URL, strings.Join(ep.Types(), ","), state)
				}
				return w.Flush()
			})
		},
	}
}

func webhooksCreate(c *ssoCLI) *cobra.Command {
	var in webhook.Input
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Add an endpoint; prints its signing secret, shown only now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
				ep, err := g.Webhooks.Create(cmd.Context(), accountID, who, in)
				if err != nil {
					return describeErr(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created %s\nsecret %s\n", ep.ID, ep.Secret)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&in.URL, "url", "", "where events are POSTed (https)")
	cmd.Flags().StringSliceVar(&in.Types, "type", nil, "an event type it wants (repeat, or comma-separated): "+strings.Join(webhook.Types(), ", "))
	cmd.Flags().StringVar(&in.Description, "description", "", "what the endpoint is for")
	return cmd
}

func webhooksDelete(c *ssoCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an endpoint and its deliveries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
				if err := g.Webhooks.Delete(cmd.Context(), accountID, who, args[0]); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "deleted", args[0])
				return nil
			})
		},
	}
}

func webhooksRotate(c *ssoCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Give an endpoint a new secret (printed only now); the old one signs beside it for 24 hours",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd, func(g *app.Gateway, accountID string, who audit.Actor) error {
				ep, err := g.Webhooks.RotateSecret(cmd.Context(), accountID, who, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rotated %s\nsecret %s\nprevious secret signs until %s\n", ep.ID, ep.Secret, ep.PreviousUntil.Format("2006-01-02 15:04 UTC"))
				return nil
			})
		},
	}
}
