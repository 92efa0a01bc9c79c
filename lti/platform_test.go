package lti_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/lti/ltitest"
)

var systemActor = audit.System

func TestPlatformValidationNamesEveryField(t *testing.T) {
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	s := func(v string) *string { return &v }
	deps := []string{"ok", strings.Repeat("d", 300)}
	origins := []string{"https://school.instructure.com/courses"}
	_, err := f.svc.CreatePlatform(context.Background(), f.account, systemActor, lti.PlatformInput{
		Name: s(""), Issuer: s("ftp://lms.example.edu"), ClientID: s(strings.Repeat("c", 256)), DeploymentIDs: &deps,
		AuthLoginURL: s("http://lms.example.edu/auth"), TokenURL: s("not a url"), JWKSURL: s(""), Adapter: s("nope"), FrameOrigins: &origins})
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		t.Fatalf("got %v, want an invalid-input refusal", err)
	}
	named := map[string]bool{}
	for _, d := range p.Details {
		named[d.Field] = true
	}
	for _, want := range []string{"name", "issuer", "client_id", "deployment_ids[1]", "auth_login_url", "token_url", "jwks_url", "adapter", "frame_origins[0]"} {
		if !named[want] {
			t.Errorf("%s not named: %v", want, p.Details)
		}
	}
	if len(p.Details) != 9 {
		t.Errorf("%d problems, want 9: %v", len(p.Details), p.Details)
	}
}

// An issuer and client id identify one registration across every
// account: a launch arrives before anyone is known. On both databases.
func TestPlatformKeyIsUnique(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		other := ltitest.New(t, ltitest.Options{ClientID: "client-1", DeploymentID: "dep-2", ToolURL: toolURL})
		other.Issuer = f.plat.Issuer
		s := func(v string) *string { return &v }
		deps := []string{"dep-2"}
		_, err := f.svc.CreatePlatform(context.Background(), f.account, systemActor, lti.PlatformInput{
			Name: s("Again"), Issuer: s(other.Issuer), ClientID: s("client-1"), DeploymentIDs: &deps,
			AuthLoginURL: s(other.AuthURL()), TokenURL: s(other.TokenURL()), JWKSURL: s(other.JWKSURL()), Adapter: s("rooms")})
		if !errors.Is(err, lti.ErrPlatformExists) {
			t.Fatalf("a second registration of the same issuer and client id: %v", err)
		}
		// Updated, deleted: its launches are refused from then on.
		newName := "Renamed"
		got, err := f.svc.UpdatePlatform(context.Background(), f.account, f.reg.ID, systemActor, lti.PlatformInput{Name: &newName})
		if err != nil || got.Name != "Renamed" || got.ClientID != "client-1" {
			t.Fatalf("update: %+v %v", got, err)
		}
		if err := f.svc.DeletePlatform(context.Background(), f.account, f.reg.ID, systemActor); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Login(context.Background(), lti.LoginRequest{Issuer: f.plat.Issuer, LoginHint: "h", TargetLinkURI: toolURL + "/lti/launch"})
		if !errors.Is(err, lti.ErrPlatformUnknown) {
			t.Fatalf("a login of a deleted registration: %v", err)
		}
		var n int64
		db.R.Raw("SELECT COUNT(*) FROM audit_entries WHERE target_id = ? AND action IN ('lti_platform.created', 'lti_platform.updated', 'lti_platform.deleted')", f.reg.ID).Scan(&n)
		if n != 3 {
			t.Fatalf("%d audit entries for the registration, want created, updated and deleted", n)
		}
	})
}
