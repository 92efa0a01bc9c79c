package host_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/plugins/host"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name   string
		cfgs   []host.Config
		fields []string
	}{
		{"valid", []host.Config{
			{Name: "rooms", Kind: "roomadapter", Path: "/p", SHA256: sum},
			{Name: "okta", Kind: "groupsource", Path: "/p", SHA256: sum, Schedule: "*/15 * * * *", Account: "a"},
			{Name: "mails", Kind: "templateprovider", Path: "/p", SHA256: sum, Schedule: "@every 1h"},
		}, nil},
		{"everything wrong", []host.Config{{Name: "Bad Name", Kind: "printer", SHA256: "xyz", Schedule: "often"}},
			[]string{"plugins[0].name", "plugins[0].kind", "plugins[0].path", "plugins[0].sha256", "plugins[0].schedule"}},
		{"kind rules", []host.Config{
			{Name: "rooms", Kind: "roomadapter", Path: "/p", SHA256: sum, Schedule: "@hourly"},
			{Name: "okta", Kind: "groupsource", Path: "/p", SHA256: sum},
			{Name: "mails", Kind: "templateprovider", Path: "/p", SHA256: sum, Schedule: "@hourly", Account: "a"},
		}, []string{"plugins[0].schedule", "plugins[1].schedule", "plugins[1].account", "plugins[2].account"}},
		{"mass-removal guard", []host.Config{
			{Name: "okta", Kind: "groupsource", Path: "/p", SHA256: sum, Schedule: "@hourly", Account: "a", MaxRemovalShare: share(0.3)},
			{Name: "ldap", Kind: "groupsource", Path: "/p", SHA256: sum, Schedule: "@hourly", Account: "a", MaxRemovalShare: share(20)},
			{Name: "mails", Kind: "templateprovider", Path: "/p", SHA256: sum, Schedule: "@hourly", MaxRemovalShare: share(0.2)},
		}, []string{"plugins[1].max_removal_share", "plugins[2].max_removal_share"}},
		{"duplicate names", []host.Config{
			{Name: "x", Kind: "roomadapter", Path: "/p", SHA256: sum},
			{Name: "x", Kind: "roomadapter", Path: "/p", SHA256: sum},
		}, []string{"plugins[1].name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := host.ValidateAll(tc.cfgs)
			if tc.fields == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *problem.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a problem listing fields", err)
			}
			var got []string
			for _, d := range pe.Details {
				got = append(got, d.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields = %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
	if err := (host.Config{Name: "ok", Kind: "roomadapter", Path: "/p", SHA256: sum}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func share(v float64) *float64 { return &v }
