package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/invitegate/gateway/sso/connector"
)

// Finish checks the provider's answer to req: the code is exchanged (with
// the PKCE verifier) at the token endpoint, and the id token it returns
// must be signed with a configured algorithm by the provider's key, name
// the exact issuer, this client as audience (and as authorized party when
// there are several, or whenever azp is present), carry req's nonce and
// not have expired. Every failure is a connector refusal wrapped with the
// detail for the log.
func (c *Connector) Finish(ctx context.Context, req *connector.Request, r *http.Request) (*connector.Assertion, error) {
	if code := param(r, "error"); code != "" {
		return nil, fmt.Errorf("%w: the provider answered error=%q error_description=%q",
			connector.ErrProvider, code, param(r, "error_description"))
	}
	if req == nil {
		return nil, fmt.Errorf("%w: an OIDC answer without a login in flight", connector.ErrUnsolicited)
	}
	if state := param(r, "state"); subtle.ConstantTimeCompare([]byte(state), []byte(req.Key)) != 1 {
		return nil, fmt.Errorf("%w: state does not match the login in flight", connector.ErrInvalidResponse)
	}
	if !req.ExpiresAt.IsZero() && !c.now().Before(req.ExpiresAt) {
		return nil, fmt.Errorf("%w: the login in flight expired at %s", connector.ErrExpired, req.ExpiresAt)
	}
	code := param(r, "code")
	if code == "" {
		return nil, fmt.Errorf("%w: the answer carries no code", connector.ErrInvalidResponse)
	}
	ctx = gooidc.ClientContext(ctx, c.client)
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(req.CodeVerifier))
	if err != nil {
		return nil, exchangeRefusal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response carries no id_token", connector.ErrInvalidResponse)
	}
	idt, claims, err := c.verify(ctx, raw, req.Nonce, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	if c.wantUserInfo(claims) {
		if err := c.addUserInfo(ctx, tok, idt.Subject, claims); err != nil {
			return nil, err
		}
	}
	return &connector.Assertion{
		Issuer:        c.issuer,
		Subject:       idt.Subject,
		Attributes:    attributes(claims),
		EmailVerified: emailVerified(claims["email_verified"]),
		Expires:       idt.Expiry,
	}, nil
}

// exchangeRefusal names a failed code exchange: a code the provider will
// not take (used already, expired, or not matching the verifier) is an
// answer that cannot be verified; anything else is the provider failing.
func exchangeRefusal(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return fmt.Errorf("%w: the token endpoint refused the code: %s %s", connector.ErrInvalidResponse, re.ErrorCode, re.ErrorDescription)
	}
	if errors.As(err, &re) && re.ErrorCode != "" {
		return fmt.Errorf("%w: token endpoint: %s %s", connector.ErrProvider, re.ErrorCode, re.ErrorDescription)
	}
	return fmt.Errorf("%w: token endpoint: %v", connector.ErrProvider, err)
}

// verify checks the id token and returns its claims. go-oidc checks the
// signature, algorithm, issuer, audience and expiry; the authorized party,
// the subject's presence, the nonce and at_hash are checked here, as
// go-oidc leaves them to its caller (and the algorithm once more, so the
// list is enforced here whatever the library's defaults).
func (c *Connector) verify(ctx context.Context, raw, nonce, accessToken string) (*gooidc.IDToken, map[string]any, error) {
	idt, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		var expired *gooidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, nil, fmt.Errorf("%w: id token expired at %s", connector.ErrExpired, expired.Expiry)
		}
		return nil, nil, fmt.Errorf("%w: id token: %v", connector.ErrInvalidResponse, err)
	}
	claims, err := decodeClaims(idt)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: id token claims: %v", connector.ErrInvalidResponse, err)
	}
	azp, _ := claims["azp"].(string)
	if _, present := claims["azp"]; (present || len(idt.Audience) > 1) && azp != c.oauth.ClientID {
		return nil, nil, fmt.Errorf("%w: id token for audience %q authorizes party %q, not this client", connector.ErrInvalidResponse, idt.Audience, azp)
	}
	if idt.Subject == "" {
		return nil, nil, fmt.Errorf("%w: id token has no sub", connector.ErrInvalidResponse)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, nil, fmt.Errorf("%w: id token nonce does not match the login in flight", connector.ErrInvalidResponse)
	}
	alg, err := headerAlg(raw)
	if err != nil || !slices.Contains(c.algs, alg) {
		return nil, nil, fmt.Errorf("%w: id token signed with %q, not one of %q", connector.ErrInvalidResponse, alg, c.algs)
	}
	if idt.AccessTokenHash != "" {
		if err := checkAtHash(alg, idt.AccessTokenHash, accessToken); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", connector.ErrInvalidResponse, err)
		}
	}
	return idt, claims, nil
}

// wantUserInfo says whether to ask the userinfo endpoint: always, never,
// or (auto) when the id token lacks a claim the mapping reads and the
// provider has the endpoint.
func (c *Connector) wantUserInfo(claims map[string]any) bool {
	switch c.cfg.userInfoMode() {
	case UserInfoAlways:
		return true
	case UserInfoNever:
		return false
	}
	if c.provider.UserInfoEndpoint() == "" {
		return false
	}
	return slices.ContainsFunc(c.claims, func(name string) bool {
		_, ok := claims[name]
		return !ok
	})
}

// addUserInfo adds to claims what the userinfo endpoint says and the id
// token does not: the signed id token wins where both speak. The
// userinfo's sub must be the id token's (OIDC Core 5.3.2), or its answer
// could be about someone else.
func (c *Connector) addUserInfo(ctx context.Context, tok *oauth2.Token, subject string, claims map[string]any) error {
	info, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: userinfo: %v", connector.ErrProvider, err)
	}
	if subtle.ConstantTimeCompare([]byte(info.Subject), []byte(subject)) != 1 {
		return fmt.Errorf("%w: userinfo is about sub %q, the id token about %q", connector.ErrInvalidResponse, info.Subject, subject)
	}
	var extra map[string]any
	if err := decodeJSONClaims(info.Claims, &extra); err != nil {
		return fmt.Errorf("%w: userinfo claims: %v", connector.ErrInvalidResponse, err)
	}
	for name, v := range extra {
		if _, ok := claims[name]; !ok && !protocolClaim(name) {
			claims[name] = v
		}
	}
	return nil
}
