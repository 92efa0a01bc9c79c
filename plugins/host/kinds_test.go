package host_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	pluginpb "github.com/invitegate/gateway/plugins/proto"
)

// Every kind of the table has what the host needs of it: a wire enum, a
// plugin-set entry that makes the same client as NewClient, API versions,
// and config rules that follow its Job and Account; and the host gives a
// declared plugin of the kind that client.
func TestKindTableDrivesTheHost(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	seen := map[plugins.Kind]bool{}
	for _, k := range host.Kinds() {
		t.Run(string(k.Kind), func(t *testing.T) {
			if k.Kind == "" || k.Plural == "" || k.Does == "" || seen[k.Kind] {
				t.Fatalf("entry incomplete or repeated: %+v", k)
			}
			seen[k.Kind] = true
			if w := k.Kind.Proto(); w == pluginpb.Kind_KIND_UNSPECIFIED || plugins.KindFromProto(w) != k.Kind {
				t.Fatalf("wire enum of %s = %v: plugin.proto needs a Kind value named after it", k.Kind, w)
			}
			if got, err := host.LookupKind(k.Kind); err != nil || got.Kind != k.Kind {
				t.Fatalf("LookupKind = %+v, %v", got, err)
			}

			gp, ok := k.Plugin.(goplugin.GRPCPlugin)
			if !ok {
				t.Fatalf("Plugin %T is not a go-plugin GRPCPlugin", k.Plugin)
			}
			fromSet, err := gp.GRPCClient(context.Background(), nil, nil)
			if err != nil || reflect.TypeOf(fromSet) != reflect.TypeOf(k.NewClient(nil)) {
				t.Fatalf("the plugin set's client is %T (%v), NewClient's %T", fromSet, err, k.NewClient(nil))
			}
			if len(k.APIVersions) == 0 {
				t.Fatal("no API versions")
			}

			checkConfigRules(t, k, sum)

			cfg := host.Config{Name: "p", Kind: string(k.Kind), Path: "/p", SHA256: sum}
			if k.Job != "" {
				cfg.Schedule = "@hourly"
			}
			if k.Account != "" {
				cfg.Account = "acct"
			}
			h, err := host.New([]host.Config{cfg}, host.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := h.Client("p")
			if err != nil || reflect.TypeOf(c) != reflect.TypeOf(k.NewClient(nil)) {
				t.Fatalf("Client = %T, %v; want the kind's client %T", c, err, k.NewClient(nil))
			}
			// Not started: the client answers through the host, at once.
			err = c.Health(context.Background())
			var ce *host.CallError
			if !errors.As(err, &ce) || !ce.NotRunning || ce.Op != "Health" || !errors.Is(err, plugins.ErrUnavailable) {
				t.Fatalf("Health before Start = %v, want a CallError saying the plugin is not running", err)
			}
		})
	}
}

// checkConfigRules declares a plugin of kind k with and without a schedule
// and an account: a schedule is required exactly when the kind has a job, an
// account exactly when the kind says what it is for.
func checkConfigRules(t *testing.T, k host.KindSpec, sum string) {
	t.Helper()
	for _, withSchedule := range []bool{false, true} {
		for _, withAccount := range []bool{false, true} {
			cfg := host.Config{Name: "p", Kind: string(k.Kind), Path: "/p", SHA256: sum}
			if withSchedule {
				cfg.Schedule = "@hourly"
			}
			if withAccount {
				cfg.Account = "acct"
			}
			want := map[string]string{}
			switch {
			case withSchedule && k.Job == "":
				want["schedule"] = k.Plural + " have no scheduled job"
			case !withSchedule && k.Job != "":
				want["schedule"] = "is required for a " + string(k.Kind)
			}
			switch {
			case withAccount && k.Account == "":
				want["account"] = "take an account"
			case !withAccount && k.Account != "":
				want["account"] = k.Account
			}
			got := map[string]string{}
			var pe *problem.Error
			if err := cfg.Validate(); errors.As(err, &pe) {
				for _, d := range pe.Details {
					got[d.Field] = d.Message
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("schedule %v, account %v: problems %v, want %v", withSchedule, withAccount, got, want)
			}
			for field, msg := range want {
				if !strings.Contains(got[field], msg) {
					t.Fatalf("schedule %v, account %v: %s = %q, want it to say %q", withSchedule, withAccount, field, got[field], msg)
				}
			}
		}
	}
}

// A kind that is not in the table is refused wherever it turns up, with a
// message that names the kinds there are.
func TestKindMissingFromTableIsRefused(t *testing.T) {
	const known = "roomadapter, groupsource or templateprovider"
	_, err := host.LookupKind("printer")
	if !errors.Is(err, host.ErrUnknownKind) || !strings.Contains(err.Error(), `"printer"`) || !strings.Contains(err.Error(), known) {
		t.Fatalf("LookupKind(printer) = %v", err)
	}

	sum := strings.Repeat("ab", 32)
	_, err = host.New([]host.Config{{Name: "p", Kind: "printer", Path: "/p", SHA256: sum, Schedule: "@hourly", Account: "a"}}, host.Options{})
	var pe *problem.Error
	if !errors.As(err, &pe) || len(pe.Details) != 1 || pe.Details[0].Field != "plugins[0].kind" ||
		!strings.Contains(pe.Details[0].Message, `must be one of [roomadapter groupsource templateprovider], not "printer"`) {
		t.Fatalf("New with kind printer = %v", err)
	}

	// A plugin whose Info reports a kind the table lacks.
	bin, sum := plugintest.Build(t, "./plugins/host/testdata/testplugin")
	t.Setenv("TESTPLUGIN_KIND", "printer")
	rep, err := host.Check(context.Background(), bin, nil, nil, 0)
	if !errors.Is(err, plugins.ErrIncompatible) || !errors.Is(err, host.ErrUnknownKind) || !strings.Contains(err.Error(), known) ||
		rep == nil || rep.SHA256 != sum || rep.APIVersion != 0 {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
	h := newHost(t, newLogs(), host.Config{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum})
	err = h.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reports a plugin kind this gateway does not know") {
		t.Fatalf("Start = %v", err)
	}
	if st, _ := h.StatusOf("rooms"); st.State != host.StateFailed {
		t.Fatalf("status = %+v, want failed", st)
	}
}
