package scim_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/core/webhook"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/schedule"
)

// The real plugin binary under the host, synced into the database by the
// scheduler: a first sync, a change on the SCIM server, a second sync
// applying exactly that change, and a refused token recorded as the run's
// error with nothing removed.
func TestPluginBinary(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-scim-groups")
	ctx := context.Background()

	// Configure does not call the server, so a checked config needs none.
	raw, _ := json.Marshal(map[string]any{"url": "https://idp.example.org/scim/v2", "token": "t"})
	rep, err := host.Check(ctx, bin, raw, nil, 20*time.Second)
	if err != nil || rep.Info.Kind != groupsource.Kind || rep.Info.Name != "scim-groups" || len(rep.ConfigProblems) != 0 {
		t.Fatalf("check = %+v, %v", rep, err)
	}
	rep, err = host.Check(ctx, bin, []byte(`{"url": "https://idp.example.org/scim/v2"}`), nil, 20*time.Second)
	if err != nil || len(rep.ConfigProblems) != 1 || rep.ConfigProblems[0].Field != "token" {
		t.Fatalf("check without a token = %+v, %v; want the token problem", rep.ConfigProblems, err)
	}

	models := append(table.Models(append(append(group.Tables(), scheduled.Tables()...), webhook.Tables()...)), &audit.Entry{})
	storetest.Each(t, models, func(t *testing.T, db *store.DB) {
		srv := startSCIM(t) // a server of its own: this one is changed
		sd := seed(t, srv)
		sync := func(token string) (*scheduled.Run, error) {
			t.Helper()
			h, err := host.New([]host.Config{{Name: "idp", Kind: "groupsource", Path: bin, SHA256: sum,
				Schedule: "@hourly", Account: "acct-1", Config: map[string]any{"url": srv.URL, "token": token, "page_size": 100}}}, host.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Stop(ctx)
			if err := h.Start(ctx); err != nil {
				t.Fatal(err)
			}
			s, err := schedule.New(schedule.Options{DB: db, Host: h})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop(ctx)
			return s.RunNow(ctx, "idp")
		}
		memberCount := func() int64 {
			var n int64
			if err := db.R.Model(&group.Member{}).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Everyone 250, Even 125, Staff 10.
		r, err := sync(srv.Token)
		if err != nil || r.Summary != "groups +3 ~0 -0, members +385 ~0 -0" {
			t.Fatalf("first sync = %+v, %v", r, err)
		}
		// Staff -1 +1; user 2's new address in Everyone, Even and Staff;
		// Everyone renamed.
		change(t, srv, sd)
		r, err = sync(srv.Token)
		if err != nil || r.Summary != "groups +0 ~1 -0, members +1 ~3 -1" {
			t.Fatalf("second sync = %+v, %v", r, err)
		}
		var n int64
		if err := db.R.Model(&group.Member{}).Where("email = ?", "new002@example.org").Count(&n).Error; err != nil || n != 3 {
			t.Fatalf("rows with user 2's new address = %d, %v; want 3", n, err)
		}

		r, err = sync("wrong")
		if err == nil || r == nil || r.Status != scheduled.StatusFailed || !strings.Contains(r.Error, "refused the bearer token (HTTP 401)") {
			t.Fatalf("sync with a wrong token = %+v, %v; want a failed run naming the refused token", r, err)
		}
		if n := memberCount(); n != 385 {
			t.Fatalf("%d member rows after the failed sync, want the 385 of the last good one", n)
		}
	})
}
