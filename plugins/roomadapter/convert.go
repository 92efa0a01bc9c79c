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
	}
}

func launchFromProto(p *pluginpb.Launch) Launch {
	return Launch{
		Source: p.GetSource(), Issuer: p.GetIssuer(), ClientID: p.GetClientId(), DeploymentID: p.GetDeploymentId(),
		ContextID: p.GetContextId(), ContextTitle: p.GetContextTitle(),
		ResourceLinkID: p.GetResourceLinkId(), ResourceLinkTitle: p.GetResourceLinkTitle(),
		UserSubject: p.GetUserSubject(), UserEmail: p.GetUserEmail(), UserName: p.GetUserName(),
		Roles: p.GetRoles(), Custom: p.GetCustom(), ResourceID: p.GetResourceId(),
	}
}

func resourceToProto(r Resource) *pluginpb.Resource {
	return &pluginpb.Resource{
		Id: r.ID, Type: r.Type, Title: r.Title,
		StartsAtUnix: unixOrZero(r.StartsAt), EndsAtUnix: unixOrZero(r.EndsAt),
	}
}

func resourceFromProto(p *pluginpb.Resource) Resource {
	return Resource{
		ID: p.GetId(), Type: p.GetType(), Title: p.GetTitle(),
		StartsAt: timeOrZero(p.GetStartsAtUnix()), EndsAt: timeOrZero(p.GetEndsAtUnix()),
	}
}

func personToProto(p Person) *pluginpb.Person {
	return &pluginpb.Person{Id: p.ID, Email: p.Email, Name: p.Name}
}

func personFromProto(p *pluginpb.Person) Person {
	return Person{ID: p.GetId(), Email: p.GetEmail(), Name: p.GetName()}
}
