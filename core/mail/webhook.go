package mail

import (
	"fmt"
	"html"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/user"
)

// WebhookDisabled queues, in tx (the transaction that disabled the
// endpoint), an email to each admin of the account saying that a webhook
// endpoint was disabled, why, and where to enable it again. Without SMTP
// configured nothing is queued: the console shows the reason.
func (s *Service) WebhookDisabled(tx *store.Tx, accountID, endpointID, url, why string) error {
	if !s.Enabled() {
		return nil
	}
	var admins []user.User
	if err := tx.Read(tx.Context()).Where("account_id = ? AND console_role = ?", accountID, user.RoleAdmin).Find(&admins).Error; err != nil {
		return err
	}
	page := s.BaseURL + "/console/webhooks/" + endpointID
	subject := "A webhook endpoint was disabled: " + clip(url, 200)
	text := fmt.Sprintf("The webhook endpoint %s stopped receiving events.\n\n%s\n\n"+
		"Events already queued for it are sent once you enable it again; changes made while it is disabled are not sent to it: %s\n", url, why, page)
	body := fmt.Sprintf("<p>The webhook endpoint <code>%s</code> stopped receiving events.</p><p>%s</p>"+
		"<p>Events already queued for it are sent once you <a href=\"%s\">enable it again</a>; changes made while it is disabled are not sent to it.</p>",
		html.EscapeString(url), html.EscapeString(why), html.EscapeString(page))
	for _, a := range admins {
		_, err := Enqueue(tx, s.domain(), NewMessage{AccountID: accountID, Template: "webhook_disabled", ToEmail: a.Email, ToName: a.Name(),
			Rendered: Rendered{Subject: subject, HTML: body, Text: text}, RefKind: "webhook_endpoint", RefID: endpointID}, s.now())
		if err != nil {
			return err
		}
	}
	s.Wake()
	return nil
}
