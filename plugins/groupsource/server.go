package groupsource

import (
	"context"

	"github.com/invitegate/gateway/plugins"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// batchSize is how many members travel in one stream message: large enough
// that per-message cost vanishes, small enough (well under gRPC's 4 MiB
// message limit even with long names) that memory stays flat.
const batchSize = 512

// server serves a GroupSource implementation over gRPC.
type server struct {
	pluginpb.UnimplementedGroupSourceServer
	impl GroupSource
}

func (s *server) ListGroups(ctx context.Context, _ *pluginpb.ListGroupsRequest) (*pluginpb.ListGroupsResponse, error) {
	groups, err := s.impl.ListGroups(ctx)
	if err != nil {
		return nil, plugins.ToStatus(err)
	}
	out := &pluginpb.ListGroupsResponse{Groups: make([]*pluginpb.Group, len(groups))}
	for i, g := range groups {
		out.Groups[i] = &pluginpb.Group{Id: g.ID, Name: g.Name}
	}
	return out, nil
}

func (s *server) ListMembers(req *pluginpb.ListMembersRequest, stream pluginpb.GroupSource_ListMembersServer) error {
	batch := &pluginpb.MemberBatch{Members: make([]*pluginpb.Member, 0, batchSize)}
	flush := func() error {
		if len(batch.Members) == 0 {
			return nil
		}
		if err := stream.Send(batch); err != nil {
			return err
		}
		batch.Members = batch.Members[:0]
		return nil
	}
	err := s.impl.ListMembers(stream.Context(), req.GetGroupIds(), func(m Member) error {
		batch.Members = append(batch.Members, &pluginpb.Member{GroupId: m.GroupID, Id: m.ID, Email: m.Email, Name: m.Name})
		if len(batch.Members) >= batchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return plugins.ToStatus(err)
}

var _ pluginpb.GroupSourceServer = (*server)(nil)
