package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
)

// Rooms is core's resource.Platform over the host's room adapter plugins:
// a resource's Adapter is the name of the plugin that hosts it. It turns
// core's types into the room adapter's and back, and the plugins' errors
// into core's problems.
type Rooms struct{ h *Host }

// NewRooms is the platform of h's room adapters.
func NewRooms(h *Host) *Rooms { return &Rooms{h: h} }

// client is the named room adapter's client.
func (r *Rooms) client(adapter string) (roomadapter.RoomAdapter, error) {
	c, err := ClientOf[roomadapter.RoomAdapter](r.h, adapter)
	if err != nil {
		return nil, resource.NoAdapter(adapter, r.h.Names(roomadapter.Kind))
	}
	return c, nil
}

// Resolve implements resource.Platform.
func (r *Rooms) Resolve(ctx context.Context, adapter string, l resource.Launch) (resource.Resolution, error) {
	c, err := r.client(adapter)
	if err != nil {
		return resource.Resolution{}, err
	}
	res, err := c.ResolveLaunch(ctx, roomadapter.Launch{
		Source: l.Source, Issuer: l.Issuer, ClientID: l.ClientID, DeploymentID: l.DeploymentID,
		ContextID: l.ContextID, ContextTitle: l.ContextTitle, ResourceLinkID: l.ResourceLinkID, ResourceLinkTitle: l.ResourceLinkTitle,
		UserSubject: l.UserSubject, UserEmail: l.UserEmail, UserName: l.UserName, Roles: l.Roles, Custom: l.Custom, ResourceID: l.ResourceID,
		ContextLabel: l.ContextLabel, ContextTypes: l.ContextTypes, UserGivenName: l.UserGivenName, UserFamilyName: l.UserFamilyName,
		Extensions: l.Extensions,
	})
	if err != nil {
		return resource.Resolution{}, callProblem(adapter, err)
	}
	typ, ok := resourceType(res.Resource.Type)
	if !ok {
		return resource.Resolution{}, resource.PlatformDown(adapter, fmt.Errorf("the adapter answered resource type %q; room adapters answer room, live or media", res.Resource.Type))
	}
	return resource.Resolution{
		ExternalID: res.Resource.ID,
		Fields: resource.Fields{Type: typ, Title: res.Resource.Title, StartsAt: timeOrNil(res.Resource.StartsAt), EndsAt: timeOrNil(res.Resource.EndsAt),
			ChatCollab: res.Resource.ChatCollab, MediaPage: res.Resource.MediaPage},
		CollaboratorRole: collaboratorRole(res.CollaboratorRole),
	}, nil
}

// Status implements resource.Platform. An adapter that answers "not
// found" says the resource no longer exists.
func (r *Rooms) Status(ctx context.Context, adapter, externalID string) (resource.Status, error) {
	c, err := r.client(adapter)
	if err != nil {
		return resource.Status{}, err
	}
	st, err := c.ResourceStatus(ctx, externalID)
	switch {
	case errors.Is(err, plugins.ErrNotFound):
		return resource.Status{}, nil
	case err != nil:
		return resource.Status{}, callProblem(adapter, err)
	case !st.Exists:
		return resource.Status{}, nil
	}
	return resource.Status{Exists: true, StartsAt: timeOrNil(st.Resource.StartsAt), EndsAt: timeOrNil(st.Resource.EndsAt)}, nil
}

// Roster implements resource.Platform. The members go to an adapter at
// API version 2 and later; one at 1 does not read them.
func (r *Rooms) Roster(ctx context.Context, adapter, externalID, query string, limit int, members []resource.Person) ([]resource.Person, error) {
	c, err := r.client(adapter)
	if err != nil {
		return nil, err
	}
	q := roomadapter.RosterQuery{ResourceID: externalID, Query: query, Limit: limit}
	if st, ok := r.h.StatusOf(adapter); ok && st.APIVersion >= 2 {
		q.Members = make([]roomadapter.Person, len(members))
		for i, m := range members {
			q.Members[i] = roomadapter.Person{Email: m.Email, Name: m.Name}
		}
	}
	people, err := c.SearchRoster(ctx, q)
	if err != nil {
		return nil, callProblem(adapter, err)
	}
	out := make([]resource.Person, len(people))
	for i, p := range people {
		out[i] = resource.Person{Email: p.Email, Name: p.Name}
	}
	return out, nil
}

// callProblem is a failed call as core's problem: the platform knows no
// such resource, was asked wrongly, or cannot answer now.
func callProblem(adapter string, err error) error {
	var ce *CallError
	why := err.Error()
	if errors.As(err, &ce) && ce.Err != nil {
		why = ce.Err.Error()
	}
	switch {
	case errors.Is(err, plugins.ErrNotFound):
		return resource.NotOnPlatform(adapter, strings.TrimPrefix(why, plugins.ErrNotFound.Error()+": "))
	case errors.Is(err, plugins.ErrInvalid):
		why = strings.TrimPrefix(why, plugins.ErrInvalid.Error()+": ")
		return problem.New(problem.Invalid, "platform_invalid_request", fmt.Sprintf("the room adapter %q refused the request: %s", adapter, why))
	}
	return resource.PlatformDown(adapter, err)
}

// resourceType is core's type for a room adapter's: its room, live
// session and media entry are core's room, webcast and video. An adapter
// may also answer one of core's own types (simulive, audio...).
func resourceType(t string) (resource.Type, bool) {
	switch t {
	case roomadapter.TypeRoom:
		return resource.Room, true
	case roomadapter.TypeLive:
		return resource.Webcast, true
	case roomadapter.TypeMedia:
		return resource.Video, true
	}
	return resource.Type(t), resource.Type(t).Valid()
}

// collaboratorRole is core's name of a room adapter's collaborator role
// ("co-owner" is core's "co_owner"); a role core does not know is none.
func collaboratorRole(r string) string {
	switch r {
	case roomadapter.RoleOwner:
		return resource.Owner
	case roomadapter.RoleCoOwner:
		return resource.CoOwner
	case roomadapter.RoleCoEditor:
		return resource.CoEditor
	case roomadapter.RoleCoPublisher:
		return resource.CoPublisher
	}
	return ""
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

var _ resource.Platform = (*Rooms)(nil)
