package invite

import "github.com/invitegate/gateway/core/webhook"

// webhookPayload is an invitation as the webhook events about it tell it:
// never its token. Its email names the invitee, so erasing them deletes
// the events.
func webhookPayload(inv *Invitation, extra ...any) webhook.Payload {
	p := webhook.Payload{"invitation_id": inv.ID, "resource_id": inv.ResourceID, "email": inv.Email,
		"first_name": inv.FirstName, "last_name": inv.LastName, "role": inv.Role, "max_uses": inv.MaxUses, "expires_at": inv.ExpiresAt}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i].(string)] = extra[i+1]
	}
	return p
}

// webhookSubject orders an invitation's events.
func webhookSubject(inv *Invitation) string { return "invitation:" + inv.ID }
