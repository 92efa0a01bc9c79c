package sso_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/sso"
	"github.com/invitegate/gateway/sso/ssotest"
)

// A metadata refresh stores what the provider publishes now; when the
// provider fails, the last good copy stays and the connection records the
// failure.
func TestRefreshKeepsLastGoodCopy(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		var down atomic.Bool
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
			w.Write([]byte("<EntityDescriptor v1/>"))
		}))
		defer idp.Close()
		c := f.connection(t, func(in *sso.Input) {
			in.Config = []byte(`{"issuer":"https://idp.test","metadata_url":"` + idp.URL + `"}`)
		})
		if n, err := f.svc.RefreshMetadata(ctx); err != nil || n != 1 {
			t.Fatalf("refresh: %d %v", n, err)
		}
		v, _ := f.svc.Get(ctx, f.account, c.ID)
		if v.Config.(ssotest.Public).Fetched != "<EntityDescriptor v1/>" {
			t.Fatalf("after a refresh: %+v", v.Config)
		}
		down.Store(true)
		if _, err := f.svc.RefreshMetadata(ctx); err == nil {
			t.Fatal("a failed refresh reported no error")
		}
		v, _ = f.svc.Get(ctx, f.account, c.ID)
		if v.Config.(ssotest.Public).Fetched != "<EntityDescriptor v1/>" || !contains(v.LastFailure, "metadata_refresh_failed") || v.LastFailureAt == nil {
			t.Fatalf("after a failed refresh: %+v, %q", v.Config, v.LastFailure)
		}
		if n := count(t, db, "audit_entries", "action = ? AND target_id = ?", "sso.metadata_refreshed", c.ID); n != 1 {
			t.Fatalf("%d refresh audit entries", n)
		}
	})
}
