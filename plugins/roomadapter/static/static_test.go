package static_test

import (
	"context"
	"errors"
	"testing"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/static"
)

const cfg = `{"join_url": "https://v.example.org/{resource}?r={role}", "rooms": [
  {"id": "m1", "type": "media", "title": "Lecture video", "lti_contexts": ["link-9"]},
  {"id": "r1", "type": "room", "title": "Room", "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z",
   "roster": [{"email": "zoe@x.org", "name": "Zoe Park"}, {"email": "park@x.org", "name": "Al Park"}, {"email": "bo@x.org", "name": "Bo"}]}]}`

func TestAdapter(t *testing.T) {
	a := static.New(nil)
	ctx := context.Background()
	if err := a.Configure(ctx, 1, []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	res, err := a.ResolveLaunch(ctx, roomadapter.Launch{ResourceLinkID: "link-9", Roles: []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#TeachingAssistant"}})
	if err != nil || res.Resource.ID != "m1" || res.CollaboratorRole != roomadapter.RoleCoEditor {
		t.Fatalf("ResolveLaunch = %+v, %v", res, err)
	}
	res, err = a.ResolveLaunch(ctx, roomadapter.Launch{Source: "api", ResourceID: "r1"})
	if err != nil || res.CollaboratorRole != "" || res.Resource.EndsAt.Sub(res.Resource.StartsAt).Hours() != 1 {
		t.Fatalf("API launch = %+v, %v", res, err)
	}
	if _, err := a.JoinURL(ctx, "m1", roomadapter.Person{}, "moderator"); !errors.Is(err, plugins.ErrInvalid) {
		t.Fatalf("moderator of a media entry: %v", err)
	}
	if _, err := a.JoinURL(ctx, "nope", roomadapter.Person{}, "viewer"); !errors.Is(err, plugins.ErrNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	people, _ := a.SearchRoster(ctx, roomadapter.RosterQuery{ResourceID: "r1", Query: "PARK", Limit: 1})
	if len(people) != 1 || people[0].Email != "park@x.org" {
		t.Fatalf("roster = %+v", people)
	}
	var ce plugins.ConfigErrors
	err = a.Configure(ctx, 1, []byte(`{"join_url": "x", "rooms": [{"id": "a", "type": "room", "title": "A", "collaborators": {"e@x.org": "boss"}}, {"id": "a", "type": "room", "title": "B"}]}`))
	if !errors.As(err, &ce) || len(ce) != 3 {
		t.Fatalf("config problems = %v", err)
	}
}
