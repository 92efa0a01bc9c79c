package plugins

import (
	"testing"

	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// The wire enum and the kinds' names map both ways by the naming rule, for
// every value plugin.proto has, so a new value needs no code here.
func TestKindWireNames(t *testing.T) {
	want := map[pluginpb.Kind]Kind{
		pluginpb.Kind_KIND_ROOM_ADAPTER:      "roomadapter",
		pluginpb.Kind_KIND_GROUP_SOURCE:      "groupsource",
		pluginpb.Kind_KIND_TEMPLATE_PROVIDER: "templateprovider",
	}
	for v := range pluginpb.Kind_name {
		w := pluginpb.Kind(v)
		if w == pluginpb.Kind_KIND_UNSPECIFIED {
			continue
		}
		k := KindFromProto(w)
		if k == "" || k.Proto() != w {
			t.Errorf("%v -> %q -> %v", w, k, k.Proto())
		}
		if name, ok := want[w]; ok && k != name {
			t.Errorf("%v is %q, want %q", w, k, name)
		}
	}
	if KindFromProto(pluginpb.Kind_KIND_UNSPECIFIED) != "" || KindFromProto(99) != "" {
		t.Error("unspecified or unknown wire kinds must give no kind")
	}
	if Kind("printer").Proto() != pluginpb.Kind_KIND_UNSPECIFIED || Kind("").Proto() != pluginpb.Kind_KIND_UNSPECIFIED {
		t.Error("a kind plugin.proto lacks must be sent as KIND_UNSPECIFIED")
	}
}
