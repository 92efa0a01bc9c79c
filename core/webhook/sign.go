package webhook

import (
	"fmt"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// signature is the webhook-signature header of one delivery: "v1,..." by
// the endpoint's secret, then, while a rotated-out secret still signs
// (before PreviousUntil), by that one, separated by a space as the
// specification allows; a receiver accepts the message when any verifies.
func signature(ep *Endpoint, msgID string, at time.Time, body []byte) (string, error) {
	sig, err := sign(ep, ep.Secret, msgID, at, body)
	if err != nil || ep.PreviousSecret == "" || ep.PreviousUntil == nil || !at.Before(*ep.PreviousUntil) {
		return sig, err
	}
	prev, err := sign(ep, ep.PreviousSecret, msgID, at, body)
	if err != nil {
		return "", err
	}
	return sig + " " + prev, nil
}

func sign(ep *Endpoint, secret, msgID string, at time.Time, body []byte) (string, error) {
	wh, err := signers.get(secret)
	if err != nil {
		return "", fmt.Errorf("webhook: endpoint %s secret: %w", ep.ID, err)
	}
	return wh.Sign(msgID, at, body)
}

// signers keeps the decoded key of each secret in use, so a delivery does
// not decode it again; it forgets them all past maxSigners (secrets
// rotated away).
var signers = &signerCache{m: map[string]*standardwebhooks.Webhook{}}

const maxSigners = 1000

type signerCache struct {
	mu sync.Mutex
	m  map[string]*standardwebhooks.Webhook
}

func (c *signerCache) get(secret string) (*standardwebhooks.Webhook, error) {
	c.mu.Lock()
	wh := c.m[secret]
	c.mu.Unlock()
	if wh != nil {
		return wh, nil
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxSigners {
		clear(c.m)
	}
	c.m[secret] = wh
	c.mu.Unlock()
	return wh, nil
}
