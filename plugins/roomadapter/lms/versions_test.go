package lms_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/sakai"
)

const sakaiClaim = "https://www.sakailms.org/spec/lti/claim/extension"

// The host runs the Sakai adapter at API version 2 and the static one at
// 1, side by side: a launch's extension claim reaches the first, the
// roster's members go to the first only, and the second still answers
// from its own config.
func TestHostNegotiatesEachAdaptersVersion(t *testing.T) {
	sakaiBin, sakaiSum := plugintest.Build(t, "./cmd/gateway-plugin-sakai")
	staticBin, staticSum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	h, err := host.New([]host.Config{
		{Name: "sakai", Kind: "roomadapter", Path: sakaiBin, SHA256: sakaiSum, Config: map[string]any{"join_url": "https://video.example.org/{context}"}},
		{Name: "static", Kind: "roomadapter", Path: staticBin, SHA256: staticSum, Config: map[string]any{
			"join_url": "https://video.example.org/{resource}",
			"rooms": []any{map[string]any{"id": "r1", "type": "room", "title": "R", "lti_contexts": []any{"site-1"},
				"roster": []any{map[string]any{"email": "own@x.test", "name": "Own Roster"}}}},
		}},
	}, host.Options{Logger: slog.New(slog.DiscardHandler), StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Stop(context.Background()) })
	for name, want := range map[string]uint32{"sakai": 2, "static": 1} {
		if st, _ := h.StatusOf(name); st.APIVersion != want {
			t.Errorf("%s runs at API %d, want %d", name, st.APIVersion, want)
		}
	}
	rooms := host.NewRooms(h)
	launch := resource.Launch{Source: resource.SourceLTI, Issuer: "https://sakai.example.edu", ContextID: "site-1", ContextTitle: "Bio",
		UserEmail: "a@x.test", Roles: []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"},
		Extensions: map[string]string{sakaiClaim: `{"sakai_role":"maintain"}`}}
	res, err := rooms.Resolve(ctx, "sakai", launch)
	if err != nil || res.CollaboratorRole != resource.Owner || res.Fields.Title != "Bio" || !strings.HasPrefix(res.ExternalID, "c:") {
		t.Fatalf("sakai: %+v %v", res, err)
	}
	if res, err := rooms.Resolve(ctx, "static", launch); err != nil || res.ExternalID != "r1" {
		t.Fatalf("static: %+v %v", res, err)
	}
	members := []resource.Person{{Email: "zoe@x.test", Name: "Ann Zoe"}, {Email: "ann@x.test", Name: "Ann B"}, {Email: "bob@x.test", Name: "Bob"}}
	got, err := rooms.Roster(ctx, "sakai", res.ExternalID, "ann", 10, members)
	if err != nil || len(got) != 2 || got[0].Email != "ann@x.test" || got[1].Email != "zoe@x.test" {
		t.Fatalf("sakai roster: %+v %v", got, err)
	}
	got, err = rooms.Roster(ctx, "static", "r1", "o", 10, members)
	if err != nil || len(got) != 1 || got[0].Email != "own@x.test" {
		t.Fatalf("static roster: %+v %v", got, err)
	}
}

// A gateway that speaks only API version 1 still runs the adapter: they
// agree on 1, and a launch of version 1's fields maps by its LTI roles.
func TestAnOlderGatewayAtVersion1(t *testing.T) {
	client, server := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{
		string(roomadapter.Kind): &roomadapter.GRPCPlugin{Impl: sakai.New(nil)},
	})
	t.Cleanup(func() { plugintest.CloseGRPC(client, server) })
	raw, err := client.Dispense(string(roomadapter.Kind))
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*roomadapter.Client)
	ctx := context.Background()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	api, err := plugins.Negotiate([]uint32{1}, info.APIVersions)
	if err != nil || api != 1 {
		t.Fatalf("negotiated %d, %v from %v", api, err, info.APIVersions)
	}
	if err := c.Configure(ctx, api, json.RawMessage(`{"join_url":"https://video.example.org/{context}"}`)); err != nil {
		t.Fatal(err)
	}
	res, err := c.ResolveLaunch(ctx, roomadapter.Launch{Source: "lti", Issuer: "https://sakai.example.edu", ContextID: "site-1", ContextTitle: "Bio",
		Roles: []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"}, Custom: map[string]string{"sakai_ext_role": "Teaching Assistant"}})
	if err != nil || res.CollaboratorRole != roomadapter.RoleCoEditor || res.Resource.Title != "Bio" || res.Resource.ChatCollab != nil {
		t.Fatalf("resolution %+v %v", res, err)
	}
}

// A configuration with every problem named at once.
func TestConfigProblems(t *testing.T) {
	a := sakai.New(nil)
	err := a.Configure(context.Background(), 2, json.RawMessage(`{"join_url":"ftp://x","room_per":"course","type":"podcast","roles":{"sakai:maintain":"boss"},"custom":{"role":" "}}`))
	for _, want := range []string{"join_url", "room_per", "type", "roles.sakai:maintain", "custom.role"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %s: %v", want, err)
		}
	}
	if err := a.Configure(context.Background(), 2, json.RawMessage(`{"join_url":"https://v.example.org/{resource}","colour":"red"}`)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("an unknown option: %v", err)
	}
}
