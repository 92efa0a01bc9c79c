package event

import (
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/webhook"
)

// attendeePayload is an attendee as the webhook events about them tell
// it. Its user id and email name the person, so erasing them deletes the
// events.
func attendeePayload(a *Attendee, extra ...any) webhook.Payload {
	p := webhook.Payload{"attendee_id": a.ID, "event_id": a.EventID, "user_id": a.UserID, "email": string(a.Email),
		"first_name": a.FirstName, "last_name": a.LastName, "status": a.Status, "detail": a.Detail, "roles": a.Roles()}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i].(string)] = extra[i+1]
	}
	return p
}

// attendeeSubject orders an attendee's events.
func attendeeSubject(a *Attendee) string { return "attendee:" + a.ID }

// grantPayload is a group's access to an event, granted or removed.
func grantPayload(ev *Event, groupID, groupName string) webhook.Payload {
	return webhook.Payload{"event_id": ev.ID, "group_id": groupID, "group": groupName}
}

// AttendeesAdded tells, with tx, of attendees added to ev a batch at a
// time (a bulk import): one attendee.created each, as inviting them one by
// one would.
func (s *Service) AttendeesAdded(tx *store.Tx, ev *Event, as []*Attendee) error {
	return s.Webhooks.EmitMany(tx, ev.AccountID, webhook.AttendeeCreated, len(as), func(i int) webhook.Item {
		return webhook.Item{Subject: attendeeSubject(as[i]), Payload: attendeePayload(as[i])}
	})
}
