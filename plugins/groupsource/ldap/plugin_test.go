package ldap_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// The real plugin binary, started by the host as `gateway serve` starts it,
// synced into the database by the scheduler: a first sync, a change in the
// directory, a second sync applying exactly that change, and a bind that
// fails recorded as the run's error with nothing removed.
func TestPluginBinary(t *testing.T) {
	d := startSlapd(t)
	d.add(t, directoryLDIF())
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-ldap-groups")
	ctx := context.Background()

	raw, _ := json.Marshal(readerConfig(d, nil))
	rep, err := host.Check(ctx, bin, raw, nil, 20*time.Second)
	if err != nil || rep.Info.Kind != groupsource.Kind || rep.Info.Name != "ldap-groups" || len(rep.ConfigProblems) != 0 {
		t.Fatalf("check = %+v, %v", rep, err)
	}
	rep, err = host.Check(ctx, bin, []byte(`{"url": "ldap://x", "base_dn": "dc=x", "start_tls": true, "ca_file": "/nonexistent"}`), nil, 20*time.Second)
	if err != nil || len(rep.ConfigProblems) != 1 || rep.ConfigProblems[0].Field != "ca_file" {
		t.Fatalf("check of a bad config = %+v, %v; want the ca_file problem", rep.ConfigProblems, err)
	}

	models := append(table.Models(append(append(group.Tables(), scheduled.Tables()...), webhook.Tables()...)), &audit.Entry{})
	storetest.Each(t, models, func(t *testing.T, db *store.DB) {
		d := startSlapd(t) // a directory of its own: this one is changed
		d.add(t, directoryLDIF())
		cfg := readerConfig(d, nil)
		sync := func(config map[string]any) (*scheduled.Run, error) {
			t.Helper()
			h, err := host.New([]host.Config{{Name: "directory", Kind: "groupsource", Path: bin, SHA256: sum,
				Schedule: "@hourly", Account: "acct-1", Config: config}}, host.Options{})
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
			return s.RunNow(ctx, "directory")
		}
		memberCount := func() int64 {
			var n int64
			if err := db.R.Model(&group.Member{}).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}

		// staff 3, editors 3, unix 2, all 1, big 1,200 (no nesting).
		r, err := sync(cfg)
		if err != nil || r.Summary != "groups +5 ~0 -0, members +1209 ~0 -0" {
			t.Fatalf("first sync = %+v, %v", r, err)
		}
		if n := memberCount(); n != 1209 {
			t.Fatalf("%d member rows after the first sync, want 1209", n)
		}

		// The same change as TestDirectory; u1's new address updates their
		// rows (their id is the same person).
		d.modify(t, fmt.Sprintf(`dn: cn=staff,ou=groups,%[1]s
changetype: modify
delete: member
member: %[2]s

dn: cn=unix,ou=groups,%[1]s
changetype: modify
add: memberUid
memberUid: u0010

dn: cn=big,ou=groups,%[1]s
changetype: modify
delete: member
member: %[3]s

dn: cn=editors,ou=groups,%[1]s
changetype: modrdn
newrdn: cn=writers
deleteoldrdn: 1

dn: %[4]s
changetype: modify
replace: mail
mail: ann@example.org
`, suffix, user(2), user(bigGroup), user(1)))
		r, err = sync(cfg)
		if err != nil || r.Summary != "groups +0 ~1 -0, members +1 ~2 -2" {
			t.Fatalf("second sync = %+v, %v", r, err)
		}
		var emails []string
		if err := db.R.Model(&group.Member{}).Where("email = ?", "ann@example.org").Pluck("email", &emails).Error; err != nil || len(emails) != 2 {
			t.Fatalf("rows with u1's new address = %v, %v; want 2 (staff, big)", emails, err)
		}

		// A wrong password: the run fails naming the refused bind, and the
		// groups keep every member.
		bad := readerConfig(d, map[string]any{"bind_password": "wrong"})
		r, err = sync(bad)
		if err == nil || r == nil || r.Status != scheduled.StatusFailed || !strings.Contains(r.Error, "refused the bind") {
			t.Fatalf("sync with a wrong password = %+v, %v; want a failed run naming the refused bind", r, err)
		}
		runs, err := scheduled.History(ctx, db.R, "directory", 1)
		if err != nil || len(runs) != 1 || !strings.Contains(runs[0].Error, "wrong DN or password") {
			t.Fatalf("last run recorded = %+v, %v", runs, err)
		}
		if n := memberCount(); n != 1208 {
			t.Fatalf("%d member rows after the failed sync, want the 1208 of the last good one", n)
		}
	})
}
