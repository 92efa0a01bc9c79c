package templateprovider_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

func TestRoundTrip(t *testing.T) {
	want := []templateprovider.Template{
		{Name: "invitation", Locale: "en", Subject: "Hi {{.Name}}", HTML: "<p>Hi</p>", Text: "Hi", Version: "v1"},
		{Name: "invitation", Locale: "fr-CA", Subject: "Salut", Text: "Salut", Version: "v2"},
	}
	fail := false
	client, server := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{
		string(templateprovider.Kind): &templateprovider.GRPCPlugin{Impl: &templateprovider.Mock{
			ListTemplatesFunc: func(context.Context) ([]templateprovider.Template, error) {
				if fail {
					return nil, errors.New("disk on fire")
				}
				return want, nil
			},
		}},
	})
	defer plugintest.CloseGRPC(client, server)
	raw, err := client.Dispense(string(templateprovider.Kind))
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*templateprovider.Client)
	got, err := c.ListTemplates(context.Background())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ListTemplates = %+v, %v", got, err)
	}
	info, err := c.Info(context.Background())
	if err != nil || info.Kind != templateprovider.Kind || info.Name != "mock" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	fail = true
	if _, err := c.ListTemplates(context.Background()); err == nil || err.Error() != "plugin error (Unknown): disk on fire" {
		t.Fatalf("err = %v", err)
	}
}
