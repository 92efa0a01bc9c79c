package roomadapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/roomadapter"
)

// connect serves impl and returns a client, over a real gRPC connection in
// this process.
func connect(t *testing.T, impl roomadapter.RoomAdapter) *roomadapter.Client {
	t.Helper()
	client, server := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{
		string(roomadapter.Kind): &roomadapter.GRPCPlugin{Impl: impl},
	})
	t.Cleanup(func() { plugintest.CloseGRPC(client, server) })
	raw, err := client.Dispense(string(roomadapter.Kind))
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*roomadapter.Client)
}

func TestRoundTrip(t *testing.T) {
	starts := time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC)
	launch := roomadapter.Launch{
		Source: "lti", Issuer: "https://lms.example.org", ClientID: "c", DeploymentID: "d",
		ContextID: "ctx", ContextTitle: "Bio", ResourceLinkID: "rl", ResourceLinkTitle: "Lecture",
		UserSubject: "sub", UserEmail: "a@x.org", UserName: "A", Roles: []string{"r1", "r2"},
		Custom: map[string]string{"k": "v"}, ResourceID: "res",
	}
	var gotLaunch roomadapter.Launch
	var gotUpgrade roomadapter.RoleUpgrade
	var gotConfig json.RawMessage
	var gotAPI uint32
	mock := &roomadapter.Mock{
		BaseMock: plugins.BaseMock{
			InfoFunc: func(context.Context) (plugins.Info, error) {
				return plugins.Info{Name: "m", Version: "2.0.0", ConfigSchema: json.RawMessage(`{"type":"object"}`)}, nil
			},
			ConfigureFunc: func(_ context.Context, api uint32, c json.RawMessage) error {
				gotAPI, gotConfig = api, c
				return nil
			},
		},
		ResolveLaunchFunc: func(_ context.Context, l roomadapter.Launch) (roomadapter.Resolution, error) {
			gotLaunch = l
			return roomadapter.Resolution{Resource: roomadapter.Resource{ID: "res", Type: "live", Title: "T", StartsAt: starts}, CollaboratorRole: "owner"}, nil
		},
		JoinURLFunc: func(_ context.Context, id string, p roomadapter.Person, role string) (string, error) {
			return fmt.Sprintf("https://x/%s/%s/%s/%s", id, p.ID, p.Email, role), nil
		},
		ResourceStatusFunc: func(_ context.Context, id string) (roomadapter.ResourceStatus, error) {
			if id == "gone" {
				return roomadapter.ResourceStatus{}, nil
			}
			return roomadapter.ResourceStatus{Exists: true, Resource: roomadapter.Resource{ID: id}}, nil
		},
		SearchRosterFunc: func(_ context.Context, q roomadapter.RosterQuery) ([]roomadapter.Person, error) {
			return []roomadapter.Person{{ID: "1", Email: q.Query + "@x.org", Name: fmt.Sprint(q.Limit)}}, nil
		},
		RoleUpgradedFunc: func(_ context.Context, u roomadapter.RoleUpgrade) error { gotUpgrade = u; return nil },
	}
	c := connect(t, mock)
	ctx := context.Background()

	info, err := c.Info(ctx)
	if err != nil || info.Kind != roomadapter.Kind || info.Name != "m" || !reflect.DeepEqual(info.APIVersions, roomadapter.APIVersions()) || string(info.ConfigSchema) != `{"type":"object"}` {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := c.Configure(ctx, 1, json.RawMessage(`{"a":1}`)); err != nil || gotAPI != 1 || string(gotConfig) != `{"a":1}` {
		t.Fatalf("Configure: %v, api %d, config %s", err, gotAPI, gotConfig)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := c.ResolveLaunch(ctx, launch)
	if err != nil || !reflect.DeepEqual(gotLaunch, launch) || res.CollaboratorRole != "owner" || !res.Resource.StartsAt.Equal(starts) || !res.Resource.EndsAt.IsZero() {
		t.Fatalf("ResolveLaunch = %+v, %v (plugin saw %+v)", res, err, gotLaunch)
	}
	u, err := c.JoinURL(ctx, "r", roomadapter.Person{ID: "p", Email: "e"}, "speaker")
	if err != nil || u != "https://x/r/p/e/speaker" {
		t.Fatalf("JoinURL = %q, %v", u, err)
	}
	st, err := c.ResourceStatus(ctx, "gone")
	if err != nil || st.Exists {
		t.Fatalf("ResourceStatus = %+v, %v", st, err)
	}
	people, err := c.SearchRoster(ctx, roomadapter.RosterQuery{ResourceID: "r", Query: "an", Limit: 5})
	if err != nil || len(people) != 1 || people[0].Email != "an@x.org" || people[0].Name != "5" {
		t.Fatalf("SearchRoster = %+v, %v", people, err)
	}
	up := roomadapter.RoleUpgrade{ResourceID: "r", User: roomadapter.Person{ID: "p"}, OldRole: "viewer", NewRole: "speaker"}
	if err := c.RoleUpgraded(ctx, up); err != nil || gotUpgrade != up {
		t.Fatalf("RoleUpgraded: %v, plugin saw %+v", err, gotUpgrade)
	}
}

func TestErrorsCrossTheWire(t *testing.T) {
	mock := &roomadapter.Mock{
		BaseMock: plugins.BaseMock{
			ConfigureFunc: func(context.Context, uint32, json.RawMessage) error {
				var p plugins.ConfigErrors
				p.Add("join_url", "is required")
				p.Add("rooms[0].type", "must be room, live or media")
				return p.Err()
			},
			HealthFunc: func(context.Context) error { return fmt.Errorf("%w: platform API down", plugins.ErrUnavailable) },
		},
		ResolveLaunchFunc: func(context.Context, roomadapter.Launch) (roomadapter.Resolution, error) {
			return roomadapter.Resolution{}, fmt.Errorf("%w: no room for context", plugins.ErrNotFound)
		},
		JoinURLFunc: func(context.Context, string, roomadapter.Person, string) (string, error) {
			return "", fmt.Errorf("%w: bad role", plugins.ErrInvalid)
		},
		SearchRosterFunc: func(ctx context.Context, _ roomadapter.RosterQuery) ([]roomadapter.Person, error) {
			if _, ok := ctx.Deadline(); !ok {
				return nil, errors.New("no deadline reached the plugin")
			}
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
	c := connect(t, mock)
	ctx := context.Background()
	var ce plugins.ConfigErrors
	if err := c.Configure(ctx, 1, nil); !errors.As(err, &ce) || len(ce) != 2 || ce[1].Field != "rooms[0].type" {
		t.Fatalf("Configure = %v, want both problems", err)
	}
	if err := c.Health(ctx); !errors.Is(err, plugins.ErrUnavailable) || err.Error() != "plugin unavailable: platform API down" {
		t.Fatalf("Health = %v", err)
	}
	if _, err := c.ResolveLaunch(ctx, roomadapter.Launch{}); !errors.Is(err, plugins.ErrNotFound) {
		t.Fatalf("ResolveLaunch = %v", err)
	}
	if _, err := c.JoinURL(ctx, "", roomadapter.Person{}, ""); !errors.Is(err, plugins.ErrInvalid) {
		t.Fatalf("JoinURL = %v", err)
	}
	if _, err := c.ResourceStatus(ctx, ""); !errors.Is(err, plugins.ErrUnimplemented) {
		t.Fatalf("unset mock func = %v, want ErrUnimplemented", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.SearchRoster(dctx, roomadapter.RosterQuery{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SearchRoster with deadline = %v, want DeadlineExceeded", err)
	}
}
