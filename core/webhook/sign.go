package webhook

import (
	"fmt"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// signature is the webhook-signature header of one delivery: "v1,..." by
// the endpoint's secret, then, while a rotated-out secret still signs
// (before PreviousUntil), by that one, separated by a space as the
// specification allows; a receiver accepts the message when any verifies.
func signature(ep *Endpoint, msgID string, at time.Time, body []byte) (string, error) {
	secrets := []string{ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousUntil != nil && at.Before(*ep.PreviousUntil) {
		secrets = append(secrets, ep.PreviousSecret)
	}
	sigs := make([]string, 0, len(secrets))
	for _, sec := range secrets {
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			return "", fmt.Errorf("webhook: endpoint %s secret: %w", ep.ID, err)
		}
		sig, err := wh.Sign(msgID, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}
