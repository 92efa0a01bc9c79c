package roomadapter

import (
	"time"

	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func launchToProto(l Launch) *pluginpb.Launch {
	return &pluginpb.Launch{
		Source: l.Source, Issuer: l.Issuer, ClientId: l.ClientID, DeploymentId: l.DeploymentID,
		ContextId: l.ContextID, ContextTitle: l.ContextTitle,
		ResourceLinkId: l.ResourceLinkID, ResourceLinkTitle: l.ResourceLinkTitle,
		UserSubject: l.UserSubject, UserEmail: l.UserEmail, UserName: l.UserName,
		Roles: l.Roles, Custom: l.Custom, ResourceId: l.ResourceID,
		ContextLabel: l.ContextLabel, ContextTypes: l.ContextTypes,
		UserGivenName: l.UserGivenName, UserFamilyName: l.UserFamilyName, Extensions: l.Extensions,
	}
}

func launchFromProto(p *pluginpb.Launch) Launch {
	return Launch{
		Source: p.GetSource(), Issuer: p.GetIssuer(), ClientID: p.GetClientId(), DeploymentID: p.GetDeploymentId(),
		ContextID: p.GetContextId(), ContextTitle: p.GetContextTitle(),
		ResourceLinkID: p.GetResourceLinkId(), ResourceLinkTitle: p.GetResourceLinkTitle(),
		UserSubject: p.GetUserSubject(), UserEmail: p.GetUserEmail(), UserName: p.GetUserName(),
		Roles: p.GetRoles(), Custom: p.GetCustom(), ResourceID: p.GetResourceId(),
		ContextLabel: p.GetContextLabel(), ContextTypes: p.GetContextTypes(),
		UserGivenName: p.GetUserGivenName(), UserFamilyName: p.GetUserFamilyName(), Extensions: p.GetExtensions(),
	}
}

func resourceToProto(r Resource) *pluginpb.Resource {
	return &pluginpb.Resource{
		Id: r.ID, Type: r.Type, Title: r.Title,
		StartsAtUnix: unixOrZero(r.StartsAt), EndsAtUnix: unixOrZero(r.EndsAt),
		ChatCollaboration: r.ChatCollab, MediaPage: r.MediaPage,
	}
}

func resourceFromProto(p *pluginpb.Resource) Resource {
	return Resource{
		ID: p.GetId(), Type: p.GetType(), Title: p.GetTitle(),
		StartsAt: timeOrZero(p.GetStartsAtUnix()), EndsAt: timeOrZero(p.GetEndsAtUnix()),
		ChatCollab: optBool(p, p.ChatCollaboration), MediaPage: optBool(p, p.MediaPage),
	}
}

func personToProto(p Person) *pluginpb.Person {
	return &pluginpb.Person{Id: p.ID, Email: p.Email, Name: p.Name}
}

func personFromProto(p *pluginpb.Person) Person {
	return Person{ID: p.GetId(), Email: p.GetEmail(), Name: p.GetName()}
}

// optBool copies an optional field of a message that may be nil.
func optBool(msg *pluginpb.Resource, v *bool) *bool {
	if msg == nil || v == nil {
		return nil
	}
	b := *v
	return &b
}

func peopleToProto(ps []Person) []*pluginpb.Person {
	if len(ps) == 0 {
		return nil
	}
	out := make([]*pluginpb.Person, len(ps))
	for i, p := range ps {
		out[i] = personToProto(p)
	}
	return out
}

func peopleFromProto(ps []*pluginpb.Person) []Person {
	if len(ps) == 0 {
		return nil
	}
	out := make([]Person, len(ps))
	for i, p := range ps {
		out[i] = personFromProto(p)
	}
	return out
}
