package roomadapter

import (
	"context"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// server serves a RoomAdapter implementation over gRPC.
type server struct {
	pluginpb.UnimplementedRoomAdapterServer
	impl RoomAdapter
}

func (s *server) ResolveLaunch(ctx context.Context, req *pluginpb.ResolveLaunchRequest) (*pluginpb.ResolveLaunchResponse, error) {
	res, err := s.impl.ResolveLaunch(ctx, launchFromProto(req.GetLaunch()))
	if err != nil {
		return nil, plugins.ToStatus(err)
	}
	return &pluginpb.ResolveLaunchResponse{Resource: resourceToProto(res.Resource), CollaboratorRole: res.CollaboratorRole}, nil
}

func (s *server) JoinURL(ctx context.Context, req *pluginpb.JoinURLRequest) (*pluginpb.JoinURLResponse, error) {
	u, err := s.impl.JoinURL(ctx, req.GetResourceId(), personFromProto(req.GetUser()), req.GetRole())
	if err != nil {
		return nil, plugins.ToStatus(err)
	}
	return &pluginpb.JoinURLResponse{Url: u}, nil
}

func (s *server) ResourceStatus(ctx context.Context, req *pluginpb.ResourceStatusRequest) (*pluginpb.ResourceStatusResponse, error) {
	st, err := s.impl.ResourceStatus(ctx, req.GetResourceId())
	if err != nil {
		return nil, plugins.ToStatus(err)
	}
	return &pluginpb.ResourceStatusResponse{Exists: st.Exists, Resource: resourceToProto(st.Resource)}, nil
}

func (s *server) SearchRoster(ctx context.Context, req *pluginpb.SearchRosterRequest) (*pluginpb.SearchRosterResponse, error) {
	people, err := s.impl.SearchRoster(ctx, RosterQuery{ResourceID: req.GetResourceId(), Query: req.GetQuery(), Limit: int(req.GetLimit()), Members: peopleFromProto(req.GetMembers())})
	if err != nil {
		return nil, plugins.ToStatus(err)
	}
	out := &pluginpb.SearchRosterResponse{People: make([]*pluginpb.Person, len(people))}
	for i, p := range people {
		out.People[i] = personToProto(p)
	}
	return out, nil
}

func (s *server) RoleUpgraded(ctx context.Context, req *pluginpb.RoleUpgradedRequest) (*pluginpb.RoleUpgradedResponse, error) {
	err := s.impl.RoleUpgraded(ctx, RoleUpgrade{
		ResourceID: req.GetResourceId(), User: personFromProto(req.GetUser()),
		OldRole: req.GetOldRole(), NewRole: req.GetNewRole(),
	})
	if err != nil {
		return nil, plugins.ToStatus(err)
	}
	return &pluginpb.RoleUpgradedResponse{}, nil
}

var _ pluginpb.RoomAdapterServer = (*server)(nil)
