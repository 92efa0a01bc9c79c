package roomadapter_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/invitegate/gateway/plugins/roomadapter"
)

// API version 2's fields cross the wire both ways; a Resource that sets
// no setting arrives without one, not as "off".
func TestVersion2Fields(t *testing.T) {
	on, off := true, false
	launch := roomadapter.Launch{Source: "lti", ContextID: "ctx", ContextLabel: "BIO-101", ContextTypes: []string{"http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"},
		UserGivenName: "Ada", UserFamilyName: "Lovelace", Extensions: map[string]string{"https://www.sakailms.org/spec/lti/claim/extension": `{"sakai_role":"maintain"}`}}
	members := []roomadapter.Person{{Email: "a@x.org", Name: "A"}, {Email: "b@x.org", Name: "B"}}
	var gotLaunch roomadapter.Launch
	var gotMembers []roomadapter.Person
	c := connect(t, &roomadapter.Mock{
		ResolveLaunchFunc: func(_ context.Context, l roomadapter.Launch) (roomadapter.Resolution, error) {
			gotLaunch = l
			r := roomadapter.Resource{ID: l.ContextID, Type: "room"}
			if l.ContextLabel != "" {
				r.ChatCollab, r.MediaPage = &off, &on
			}
			return roomadapter.Resolution{Resource: r}, nil
		},
		SearchRosterFunc: func(_ context.Context, q roomadapter.RosterQuery) ([]roomadapter.Person, error) {
			gotMembers = q.Members
			return q.Members[:1], nil
		},
	})
	ctx := context.Background()
	res, err := c.ResolveLaunch(ctx, launch)
	if err != nil || !reflect.DeepEqual(gotLaunch, launch) || res.Resource.ChatCollab == nil || *res.Resource.ChatCollab || res.Resource.MediaPage == nil || !*res.Resource.MediaPage {
		t.Fatalf("ResolveLaunch = %+v, %v (plugin saw %+v)", res, err, gotLaunch)
	}
	res, err = c.ResolveLaunch(ctx, roomadapter.Launch{Source: "lti", ContextID: "ctx"})
	if err != nil || res.Resource.ChatCollab != nil || res.Resource.MediaPage != nil {
		t.Fatalf("no settings: %+v, %v", res, err)
	}
	people, err := c.SearchRoster(ctx, roomadapter.RosterQuery{ResourceID: "r", Query: "a", Members: members})
	if err != nil || !reflect.DeepEqual(gotMembers, members) || len(people) != 1 || people[0].Email != "a@x.org" {
		t.Fatalf("SearchRoster = %+v, %v (plugin saw %+v)", people, err, gotMembers)
	}
}
