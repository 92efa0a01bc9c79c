package sso_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/ssotest"
)

// A bad connection is refused with every mistake named at once, the
// type's own config fields included; a type this gateway has no connector
// for is refused as unknown.
func TestCreateReportsEveryMistake(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		_, err := f.svc.Create(ctx, f.account, f.admin, sso.Input{Name: ptr(" "), Type: ptr("oidc"), Domains: &[]string{"ok.test", "not a domain"},
			Mapping: &sso.Mapping{Preset: "azure"}, Config: []byte(`{"secret":"x"}`)})
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Invalid {
			t.Fatalf("create: %v", err)
		}
		fields := map[string]bool{}
		for _, d := range p.Details {
			fields[d.Field] = true
		}
		for _, want := range []string{"name", "domains[1]", "mapping.preset", "config.issuer"} {
			if !fields[want] {
				t.Errorf("no problem reported for %s: %+v", want, p.Details)
			}
		}
		_, err = f.svc.Create(ctx, f.account, f.admin, sso.Input{Name: ptr("X"), Type: ptr("ldap"), Config: []byte(`{}`)})
		if p, ok := problem.As(err); !ok || p.Field != "type" || !contains(p.Message, `unknown type "ldap"`) {
			t.Fatalf("unknown type: %v", err)
		}
		_, err = f.svc.Create(ctx, f.account, f.admin, sso.Input{Name: ptr("X"), Type: ptr("oidc"), Config: []byte(`{"issuer":"i","color":"red"}`)})
		if p, ok := problem.As(err); !ok || p.Field != "config" || !contains(p.Message, "color") {
			t.Fatalf("unknown config field: %v", err)
		}
		if n := count(t, db, "sso_connections", "1 = 1"); n != 0 {
			t.Fatalf("refused creations left %d connections", n)
		}
	})
}

// A created connection holds the keys its config made (Preparer), shows
// its config without the secret and the URLs to paste into the provider;
// an update without the secret keeps it; a domain is one connection's;
// rotation steps through the config's keys; every change is audited; a
// deleted connection is gone with its domains.
func TestConnectionLifecycle(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		v := f.connection(t, nil, "Acme.test", "@staff.acme.test")
		pub := v.Config.(ssotest.Public)
		if !pub.SecretSet || len(pub.Keys) != 1 || v.URLs["redirect_uri"] != "https://gw.test/sso/oidc/"+v.ID+"/callback" {
			t.Fatalf("created %+v", v)
		}
		if got := v.Domains; len(got) != 2 || got[0] != "acme.test" || got[1] != "staff.acme.test" {
			t.Fatalf("domains %v", got)
		}
		b, _ := json.Marshal(v)
		if contains(string(b), "s3cret") {
			t.Fatalf("the secret is shown: %s", b)
		}
		var stored string
		db.R.Raw("SELECT config FROM sso_connections WHERE id = ?", v.ID).Scan(&stored)
		if !contains(stored, "s3cret") || !contains(stored, "key-") {
			t.Fatalf("stored config lacks the secret or the prepared key: %s", stored)
		}

		u, err := f.svc.Update(ctx, f.account, f.admin, v.ID, sso.Input{Name: ptr("Renamed"), Config: []byte(`{"issuer":"https://idp2.test"}`)})
		if err != nil {
			t.Fatal(err)
		}
		db.R.Raw("SELECT config FROM sso_connections WHERE id = ?", v.ID).Scan(&stored)
		if u.Name != "Renamed" || !contains(stored, "s3cret") || !contains(stored, "idp2.test") {
			t.Fatalf("update: %+v, stored %s", u, stored)
		}
		if _, err := f.svc.Update(ctx, f.account, f.admin, v.ID, sso.Input{Type: ptr("saml")}); code(err) != "invalid" {
			t.Fatalf("type change: %v", err)
		}

		_, err = f.svc.Create(ctx, f.account, f.admin, sso.Input{Name: ptr("Other"), Type: ptr("saml"), Domains: &[]string{"acme.test"}, Config: []byte(`{"issuer":"x"}`)})
		if code(err) != "sso_domain_taken" {
			t.Fatalf("a domain of another connection: %v", err)
		}

		r1, err := f.svc.RotateKey(ctx, f.account, f.admin, v.ID)
		if err != nil || len(r1.Config.(ssotest.Public).Keys) != 2 || r1.Message != "added a new key" {
			t.Fatalf("first rotation: %+v %v", r1, err)
		}
		r2, err := f.svc.RotateKey(ctx, f.account, f.admin, v.ID)
		if err != nil || len(r2.Config.(ssotest.Public).Keys) != 1 || r2.Config.(ssotest.Public).Keys[0] != r1.Config.(ssotest.Public).Keys[1] {
			t.Fatalf("second rotation: %+v %v", r2, err)
		}

		list, err := f.svc.List(ctx, f.account)
		if err != nil || len(list) != 1 || list[0].Name != "Renamed" {
			t.Fatalf("list %+v %v", list, err)
		}
		if _, err := f.svc.Get(ctx, "0190a000-0000-7000-8000-000000000009", v.ID); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("another account's connection: %v", err)
		}
		if err := f.svc.Delete(ctx, f.account, f.admin, v.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(ctx, f.account, v.ID); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("deleted: %v", err)
		}
		if n := count(t, db, "sso_domains", "connection_id = ?", v.ID); n != 0 {
			t.Fatalf("%d domains left", n)
		}
		for _, action := range []string{"sso.connection_created", "sso.connection_updated", "sso.key_rotated", "sso.connection_deleted"} {
			if n := count(t, db, "audit_entries", "action = ? AND target_id = ?", action, v.ID); n == 0 {
				t.Errorf("no audit entry %s", action)
			}
		}
	})
}
