package lti_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/lti"
)

// A login that carried lti_storage_target is bound to the browser by what
// the platform's storage gives back, not by a cookie: the launch passes
// with the login's own state and nonce only, and a cookie login cannot be
// completed through the storage's step. On both databases.
func TestStorageLogin(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		login := func(target string) (state, nonce string, lg *lti.Login) {
			lg, err := f.svc.Login(ctx, lti.LoginRequest{Issuer: f.plat.Issuer, LoginHint: "h", LTIMessageHint: "m", TargetLinkURI: toolURL + "/lti/launch",
				ClientID: "client-1", StorageTarget: target})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(lg.Redirect)
			return lg.State, u.Query().Get("nonce"), lg
		}

		state, nonce, lg := login("lti_storage")
		if lg.Storage == nil || lg.Storage.Target != "lti_storage" || lg.Storage.State != state || lg.Storage.Nonce != nonce {
			t.Fatalf("the login's storage %+v", lg.Storage)
		}
		au, _ := url.Parse(f.plat.AuthURL())
		if lg.Storage.Origin != au.Scheme+"://"+au.Host {
			t.Errorf("storage origin %q, want the authorization URL's", lg.Storage.Origin)
		}
		w, _ := url.Parse(lg.Storage.Window)
		if q := w.Query(); w.Path != "/lti/login" || q.Get("iss") != f.plat.Issuer || q.Get("login_hint") != "h" || q.Get("lti_message_hint") != "m" || q.Has("lti_storage_target") {
			t.Errorf("the new window's login %q", lg.Storage.Window)
		}
		st, err := f.svc.LoginStorage(ctx, state)
		if err != nil || st == nil || st.Target != "lti_storage" || st.Origin != lg.Storage.Origin {
			t.Fatalf("LoginStorage: %+v, %v", st, err)
		}
		cookieState, cookieNonce, cookieLogin := login("")
		if cookieLogin.Storage != nil {
			t.Fatal("a cookie login has storage")
		}
		if st, err := f.svc.LoginStorage(ctx, cookieState); err != nil || st != nil {
			t.Fatalf("LoginStorage of a cookie login: %+v, %v", st, err)
		}

		for _, tc := range []struct {
			name   string
			stored func(state, nonce string) *lti.Stored
			code   string
		}{
			{"the login's state and nonce", func(s, n string) *lti.Stored { return &lti.Stored{State: s, Nonce: n} }, ""},
			{"another state", func(s, n string) *lti.Stored { return &lti.Stored{State: s + "x", Nonce: n} }, lti.ErrStateMismatch.Code},
			{"another nonce", func(s, n string) *lti.Stored { return &lti.Stored{State: s, Nonce: n + "x"} }, lti.ErrStateMismatch.Code},
			{"nothing stored", func(string, string) *lti.Stored { return &lti.Stored{} }, lti.ErrStateMismatch.Code},
			{"posted as a cookie launch", func(string, string) *lti.Stored { return nil }, lti.ErrStateMismatch.Code},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, n, _ := login("lti_storage")
				_, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.token(n), State: s, Stored: tc.stored(s, n)})
				if codeOf(err) != tc.code {
					t.Fatalf("got %v, want %q", err, tc.code)
				}
				if _, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.token(n), State: s, Stored: &lti.Stored{State: s, Nonce: n}}); codeOf(err) != lti.ErrStateUnknown.Code {
					t.Fatalf("the state was not consumed by the first launch: %v", err)
				}
			})
		}
		if _, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.token(nonce), State: state, Stored: &lti.Stored{State: state, Nonce: nonce}}); err != nil {
			t.Fatalf("the first storage login: %v", err)
		}
		if _, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.token(cookieNonce), State: cookieState, Stored: &lti.Stored{State: cookieState, Nonce: cookieNonce}}); codeOf(err) != lti.ErrStateMismatch.Code {
			t.Fatalf("a cookie login completed through the storage step: %v", err)
		}
	})
}
