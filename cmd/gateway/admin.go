package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/user"
)

// loginLinkFor issues a console sign-in link for a console user found by email.
func loginLinkFor(ctx context.Context, g *app.Gateway, email string) (string, error) {
	u, err := user.FirstConsoleUser(ctx, g.DB, email, false)
	if errors.Is(err, problem.ErrNotFound) {
		return "", fmt.Errorf("no console user with email %s", email)
	}
	if err != nil {
		return "", fmt.Errorf("find the console user %s: %w", email, err)
	}
	tok, err := g.Sessions.IssueLoginLink(ctx, u.AccountID, u.ID, audit.System)
	if err != nil {
		return "", err
	}
	return g.Config.BaseURL + "/l/" + tok, nil
}

// apiKeyFor creates an API key for the account of an admin found by email.
func apiKeyFor(ctx context.Context, g *app.Gateway, adminEmail, name string) (string, error) {
	email, err := user.NormalizeEmail(adminEmail)
	if err != nil {
		return "", err
	}
	u, err := user.FirstConsoleUser(ctx, g.DB, email, true)
	if errors.Is(err, problem.ErrNotFound) {
		return "", fmt.Errorf("no account admin with email %s", email)
	}
	if err != nil {
		return "", fmt.Errorf("find the account admin %s: %w", email, err)
	}
	key, _, err := account.CreateAPIKey(ctx, g.DB, u.AccountID, name, audit.System)
	return key, err
}
