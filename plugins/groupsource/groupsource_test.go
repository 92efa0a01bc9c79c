package groupsource_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/plugintest"
)

func connect(t *testing.T, impl groupsource.GroupSource) *groupsource.Client {
	t.Helper()
	client, server := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{
		string(groupsource.Kind): &groupsource.GRPCPlugin{Impl: impl},
	})
	t.Cleanup(func() { plugintest.CloseGRPC(client, server) })
	raw, err := client.Dispense(string(groupsource.Kind))
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*groupsource.Client)
}

func TestStreamsMembers(t *testing.T) {
	const n = 10_001 // not a multiple of the batch size
	var asked []string
	c := connect(t, &groupsource.Mock{
		ListGroupsFunc: func(context.Context) ([]groupsource.Group, error) {
			return []groupsource.Group{{ID: "g1", Name: "One"}, {ID: "g2", Name: "Two"}}, nil
		},
		ListMembersFunc: func(_ context.Context, ids []string, emit func(groupsource.Member) error) error {
			asked = ids
			for i := range n {
				if err := emit(groupsource.Member{GroupID: "g1", ID: fmt.Sprint(i), Email: fmt.Sprintf("u%d@x.org", i), Name: "N"}); err != nil {
					return err
				}
			}
			return nil
		},
	})
	ctx := context.Background()
	gs, err := c.ListGroups(ctx)
	if err != nil || len(gs) != 2 || gs[1] != (groupsource.Group{ID: "g2", Name: "Two"}) {
		t.Fatalf("ListGroups = %+v, %v", gs, err)
	}
	got := 0
	err = c.ListMembers(ctx, []string{"g1"}, func(m groupsource.Member) error {
		if m.ID != fmt.Sprint(got) || m.Email != fmt.Sprintf("u%d@x.org", got) || m.GroupID != "g1" {
			return fmt.Errorf("member %d = %+v", got, m)
		}
		got++
		return nil
	})
	if err != nil || got != n || len(asked) != 1 || asked[0] != "g1" {
		t.Fatalf("ListMembers: %v, got %d of %d, plugin asked for %v", err, got, n, asked)
	}
}

// A stream the plugin ends with an error is an error for the caller, after
// the members sent before it.
func TestStreamErrorAfterSomeMembers(t *testing.T) {
	c := connect(t, &groupsource.Mock{
		ListMembersFunc: func(_ context.Context, _ []string, emit func(groupsource.Member) error) error {
			for i := range 600 {
				if err := emit(groupsource.Member{GroupID: "g", ID: fmt.Sprint(i)}); err != nil {
					return err
				}
			}
			return fmt.Errorf("%w: directory went away", plugins.ErrUnavailable)
		},
	})
	got := 0
	err := c.ListMembers(context.Background(), nil, func(groupsource.Member) error { got++; return nil })
	if !errors.Is(err, plugins.ErrUnavailable) || got != 512 {
		t.Fatalf("err = %v after %d members; want ErrUnavailable after the first full batch (512)", err, got)
	}
}

// When the receiver stops, the plugin's emit fails and the stream ends.
func TestReceiverStops(t *testing.T) {
	stopped := make(chan error, 1)
	c := connect(t, &groupsource.Mock{
		ListMembersFunc: func(ctx context.Context, _ []string, emit func(groupsource.Member) error) error {
			for i := 0; ; i++ {
				if err := emit(groupsource.Member{GroupID: "g", ID: fmt.Sprint(i)}); err != nil {
					stopped <- err
					return err
				}
			}
		},
	})
	enough := errors.New("enough")
	err := c.ListMembers(context.Background(), nil, func(groupsource.Member) error { return enough })
	if !errors.Is(err, enough) {
		t.Fatalf("err = %v", err)
	}
	if err := <-stopped; err == nil {
		t.Fatal("plugin's emit did not fail")
	}
}
