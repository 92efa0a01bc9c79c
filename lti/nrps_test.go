package lti_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/lti/ltitest"
)

// serveToolKeys publishes the tool's key set over HTTP, as /lti/jwks does,
// for the platform to verify the tool's assertions with.
func (f *fixture) serveToolKeys(t *testing.T) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := f.svc.Keys.JWKS(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	f.plat.ToolJWKSURL = srv.URL
}

func (f *fixture) addMembers() {
	for _, m := range []ltitest.Member{
		{UserID: "u1", Email: "sam@uni.test", GivenName: "Sam", FamilyName: "Ortiz", Roles: []string{ltitest.RoleLearner}, Links: []string{"rl-1"}},
		{UserID: "u2", Email: "ada@uni.test", GivenName: "Ada", FamilyName: "Lovelace", Roles: []string{ltitest.RoleInstructor}, Links: []string{"rl-1"}},
		{UserID: "u3", Email: "alex@uni.test", GivenName: "Sasha", FamilyName: "Reed", Roles: []string{ltitest.RoleLearner}},
		{UserID: "u4", Email: "sara@uni.test", Name: "Sara Vance", Roles: []string{ltitest.RoleLearner}, Status: "Inactive"},
		{UserID: "u5", Email: "bo@uni.test", GivenName: "Bo", FamilyName: "Salas", Roles: []string{ltitest.RoleLearner}},
	} {
		f.plat.AddMember("ctx", m)
	}
}

func emails(ms []lti.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Email)
	}
	return strings.Join(out, ",")
}

// The roster is read page after page (Link rel="next"), with one access
// token for every read while it lasts; an expired token is replaced; rlid
// narrows the read to a resource link's members.
func TestNRPSPagingAndTokens(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.serveToolKeys(t)
		f.addMembers()
		f.plat.PageSize, f.plat.TokenTTL = 2, 10*time.Minute
		ctx := context.Background()
		url := f.plat.MembershipsURL("ctx")

		ms, err := f.svc.Members(ctx, f.reg, url, lti.MembersQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := emails(ms); got != "sam@uni.test,ada@uni.test,alex@uni.test,sara@uni.test,bo@uni.test" {
			t.Fatalf("members %s", got)
		}
		if ms[3].Active() || !ms[0].Active() || ms[1].GivenName != "Ada" || ms[1].Roles[0] != ltitest.RoleInstructor {
			t.Fatalf("member fields: %+v", ms)
		}
		if n := f.plat.NRPSRequests(); n != 3 {
			t.Fatalf("%d page reads for 5 members 2 a page, want 3", n)
		}
		for i := 0; i < 3; i++ {
			if _, err := f.svc.Members(ctx, f.reg, url, lti.MembersQuery{}); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.plat.TokenRequests(); n != 1 {
			t.Fatalf("%d token requests for four reads within the token's life, want 1", n)
		}

		rl, err := f.svc.Members(ctx, f.reg, url, lti.MembersQuery{RLID: "rl-1"})
		if err != nil || emails(rl) != "sam@uni.test,ada@uni.test" {
			t.Fatalf("rlid rl-1: %s, %v", emails(rl), err)
		}

		f.clock.Advance(10 * time.Minute)
		if _, err := f.svc.Members(ctx, f.reg, url, lti.MembersQuery{}); err != nil {
			t.Fatalf("after the token expired: %v", err)
		}
		if n := f.plat.TokenRequests(); n != 2 {
			t.Fatalf("%d token requests after the first token expired, want 2", n)
		}
	})
}

// A platform that refuses the tool's assertion (here: made for another
// audience than its token endpoint) gives an error that says to check the
// registration, with the platform's answer behind it for the log.
func TestNRPSAssertionRefused(t *testing.T) {
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	f.serveToolKeys(t)
	f.addMembers()
	ctx := context.Background()
	s := func(v string) *string { return &v }
	reg, err := f.svc.UpdatePlatform(ctx, f.account, f.reg.ID, systemActor, lti.PlatformInput{TokenAudience: s("https://elsewhere.example/token")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Members(ctx, reg, f.plat.MembershipsURL("ctx"), lti.MembersQuery{})
	if codeOf(err) != lti.ErrNRPSToken.Code {
		t.Fatalf("a refused assertion: %v", err)
	}
	if cause := errors.Unwrap(err); cause == nil || !strings.Contains(cause.Error(), "invalid_client") || !strings.Contains(cause.Error(), "401") {
		t.Fatalf("the cause does not carry the platform's answer: %v", cause)
	}
	if f.plat.NRPSRequests() != 0 {
		t.Fatal("the memberships were asked for without a token")
	}
	// The token audience the platform wants, registered, works.
	reg, err = f.svc.UpdatePlatform(ctx, f.account, f.reg.ID, systemActor, lti.PlatformInput{TokenAudience: s(f.plat.TokenURL())})
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := f.svc.Members(ctx, reg, f.plat.MembershipsURL("ctx"), lti.MembersQuery{}); err != nil || len(ms) != 5 {
		t.Fatalf("with the right audience: %d members, %v", len(ms), err)
	}
}

// enter launches as the platform's instructor of the course "ctx" into the
// room the room side resolves it to, and returns what entered.
func (f *fixture) enter(t *testing.T) *lti.Entered {
	t.Helper()
	f.rooms.ResolveFunc = func(_ context.Context, _ string, l resource.Launch) (resource.Resolution, error) {
		return resource.Resolution{ExternalID: "room-" + l.ContextID, Fields: resource.Fields{Type: resource.Room, Title: "Course room"}, CollaboratorRole: resource.Owner}, nil
	}
	f.rooms.RosterFunc = func(context.Context, string, string, string, int, []resource.Person) ([]resource.Person, error) {
		return nil, nil
	}
	state, nonce := f.login(t)
	c := f.plat.Claims(ltitest.User{Sub: "t1", Email: "tia@uni.test", GivenName: "Tia", FamilyName: "Teach", Roles: []string{ltitest.RoleInstructor}},
		ltitest.Link{ID: "rl-1", ContextID: "ctx", ContextTitle: "Course"}, nonce)
	ctx := context.Background()
	l, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.plat.Sign(c, ltitest.SignOptions{}), State: state})
	if err != nil {
		t.Fatal(err)
	}
	in, err := f.svc.Enter(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func suggested(s *resource.Suggestions) string {
	var out []string
	for _, p := range s.People {
		who := p.Email + " " + p.FirstName + " " + p.LastName
		if p.User != nil {
			who += " (known)"
		}
		out = append(out, who)
	}
	return strings.Join(out, "; ")
}

// The invite dialog of the room page suggests the course's active members
// whose email or name starts with what was typed, email matches first,
// with the account's people; the roster is read once for several
// keystrokes, and again after RosterTTL.
func TestRosterSuggestions(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.serveToolKeys(t)
		f.addMembers()
		in := f.enter(t)
		ctx := context.Background()
		sid := in.Session.Session.ID

		got, err := f.svc.Suggest(ctx, sid, in.Resource, "Sa", 0)
		if err != nil {
			t.Fatal(err)
		}
		// sara is inactive; alex (Sasha) and bo (Salas) match by name.
		if want := "sam@uni.test Sam Ortiz; alex@uni.test Sasha Reed; bo@uni.test Bo Salas"; suggested(got) != want || got.RosterErr != nil {
			t.Fatalf("suggestions for Sa:\n got %s (%v)\nwant %s", suggested(got), got.RosterErr, want)
		}
		// The launcher is a user of the account now: known, and found by
		// the account's own search too, once.
		got, err = f.svc.Suggest(ctx, sid, in.Resource, "t", 0)
		if err != nil || suggested(got) != "tia@uni.test Tia Teach (known)" {
			t.Fatalf("suggestions for t: %s, %v", suggested(got), err)
		}
		if got, _ := f.svc.Suggest(ctx, sid, in.Resource, "s", 1); len(got.People) != 1 || got.People[0].Email != "sam@uni.test" {
			t.Fatalf("limit 1: %s", suggested(got))
		}
		if n := f.plat.NRPSRequests(); n != 1 {
			t.Fatalf("%d roster reads for three keystrokes, want 1", n)
		}
		f.clock.Advance(2*time.Minute + time.Second)
		if _, err := f.svc.Suggest(ctx, sid, in.Resource, "sa", 0); err != nil {
			t.Fatal(err)
		}
		if n := f.plat.NRPSRequests(); n != 2 {
			t.Fatalf("%d roster reads after the roster's two minutes, want 2", n)
		}
		// Another session (of no launch with a roster) sees no course members.
		if got, _ := f.svc.Suggest(ctx, "other-session", in.Resource, "sa", 0); len(got.People) != 0 {
			t.Fatalf("another session's suggestions: %s", suggested(got))
		}
		var rows int64
		db.R.Raw("SELECT COUNT(*) FROM lti_launch_contexts WHERE session_id = ? AND memberships_url = ?", sid, f.plat.MembershipsURL("ctx")).Scan(&rows)
		if rows != 1 {
			t.Fatalf("%d launch context rows for the session", rows)
		}
	})
}

// A roster the platform will not give leaves the account's people, and
// says why.
func TestRosterUnavailable(t *testing.T) {
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	f.addMembers()
	// The tool's keys are not where the platform reads them: every
	// assertion is refused.
	gone := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(gone.Close)
	f.plat.ToolJWKSURL = gone.URL
	in := f.enter(t)
	got, err := f.svc.Suggest(context.Background(), in.Session.Session.ID, in.Resource, "ti", 0)
	if err != nil {
		t.Fatal(err)
	}
	if codeOf(got.RosterErr) != lti.ErrNRPSToken.Code || suggested(got) != "tia@uni.test Tia Teach (known)" {
		t.Fatalf("suggestions %s, roster error %v", suggested(got), got.RosterErr)
	}
}
