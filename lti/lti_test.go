package lti_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/lti/ltitest"
)

const toolURL = "https://tool.example.org"

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a tool on a fresh database with one account and a test
// platform registered with it.
type fixture struct {
	svc     *lti.Service
	db      *store.DB
	clock   *clock
	plat    *ltitest.Platform
	account string
	reg     *lti.Platform
	// rooms is the room side the tool asks; a test sets its funcs.
	rooms *resource.PlatformMock
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	sess, err := session.New(ctx, db, session.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	rooms := &resource.PlatformMock{}
	svc, err := lti.New(ctx, db, lti.Options{BaseURL: toolURL, Sessions: sess, Now: c.Now,
		Adapters: func() []string { return []string{"rooms"} }, Platform: rooms})
	if err != nil {
		t.Fatal(err)
	}
	a, err := account.Create(ctx, db, "Org")
	if err != nil {
		t.Fatal(err)
	}
	plat := ltitest.New(t, ltitest.Options{ClientID: "client-1", DeploymentID: "dep-1", ToolURL: toolURL, Now: c.Now})
	f := &fixture{svc: svc, db: db, clock: c, plat: plat, account: a.ID, rooms: rooms}
	f.reg = f.register(t, a.ID, plat)
	return f
}

func (f *fixture) register(t *testing.T, accountID string, p *ltitest.Platform) *lti.Platform {
	t.Helper()
	s := func(v string) *string { return &v }
	deps := []string{p.DeploymentID}
	reg, err := f.svc.CreatePlatform(context.Background(), accountID, systemActor, lti.PlatformInput{
		Name: s("LMS"), Issuer: s(p.Issuer), ClientID: s(p.ClientID), DeploymentIDs: &deps,
		AuthLoginURL: s(p.AuthURL()), TokenURL: s(p.TokenURL()), JWKSURL: s(p.JWKSURL()), Adapter: s("rooms")})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// login starts a login and returns its state and nonce.
func (f *fixture) login(t *testing.T) (state, nonce string) {
	t.Helper()
	lg, err := f.svc.Login(context.Background(), lti.LoginRequest{Issuer: f.plat.Issuer, LoginHint: "h", TargetLinkURI: toolURL + "/lti/launch", ClientID: "client-1"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(lg.Redirect)
	return lg.State, u.Query().Get("nonce")
}

func (f *fixture) token(nonce string) string {
	c := f.plat.Claims(ltitest.User{Sub: "s1", Email: "a@uni.test", Roles: []string{ltitest.RoleLearner}}, ltitest.Link{ID: "rl", ContextID: "ctx"}, nonce)
	return f.plat.Sign(c, ltitest.SignOptions{})
}

func models() []any { return schema.Models() }

func codeOf(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// Of two launches with the same state at the same time (a replay racing
// the real one, or two replicas), exactly one goes on: the state's row is
// consumed by one conditional DELETE. On both databases.
func TestStateConsumedOnce(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for round := 0; round < 5; round++ {
			state, nonce := f.login(t)
			tok := f.token(nonce)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = f.svc.Launch(context.Background(), lti.LaunchRequest{IDToken: tok, State: state})
				}()
			}
			close(start)
			wg.Wait()
			ok, lost := 0, 0
			for _, err := range errs {
				switch codeOf(err) {
				case "":
					ok++
				case lti.ErrStateUnknown.Code:
					lost++
				default:
					t.Fatalf("round %d: unexpected refusal %v", round, err)
				}
			}
			if ok != 1 || lost != 1 {
				t.Fatalf("round %d: %d launches went on and %d were refused; want exactly one of each (%v)", round, ok, lost, errs)
			}
			if _, err := f.svc.Launch(context.Background(), lti.LaunchRequest{IDToken: tok, State: state}); codeOf(err) != lti.ErrStateUnknown.Code {
				t.Fatalf("a third use: %v", err)
			}
		}
		var n int64
		db.R.Raw("SELECT COUNT(*) FROM lti_login_states").Scan(&n)
		if n != 0 {
			t.Fatalf("%d states left after every login was launched", n)
		}
	})
}

func TestStateExpires(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		state, nonce := f.login(t)
		f.clock.Advance(10*time.Minute + time.Second)
		tok := f.token(nonce)
		if _, err := f.svc.Launch(context.Background(), lti.LaunchRequest{IDToken: tok, State: state}); codeOf(err) != lti.ErrStateExpired.Code {
			t.Fatalf("a launch 10 minutes after its login: %v", err)
		}
		// An expired login that was never launched is swept by a later one.
		f.login(t)
		f.clock.Advance(11 * time.Minute)
		f.login(t)
		var n int64
		db.R.Raw("SELECT COUNT(*) FROM lti_login_states").Scan(&n)
		if n != 1 {
			t.Fatalf("%d states stored, want the one fresh login", n)
		}
	})
}

// The cookie binding: a browser holding this state's cookie passes; one
// holding other states' cookies but not this one is refused; a browser
// that keeps no cookies of the tool (third-party cookies blocked) passes
// on the state alone.
func TestStateCookie(t *testing.T) {
	f := newFixture(t, storetest.Open(t, store.SQLite, models()...))
	for _, tc := range []struct {
		name string
		req  func(state string) lti.LaunchRequest
		code string
	}{
		{"its cookie", func(s string) lti.LaunchRequest { return lti.LaunchRequest{StateCookie: s} }, ""},
		{"another state's cookie", func(s string) lti.LaunchRequest { return lti.LaunchRequest{StateCookie: s + "x"} }, lti.ErrStateMismatch.Code},
		{"other logins' cookies only", func(string) lti.LaunchRequest { return lti.LaunchRequest{OtherStateCookies: true} }, lti.ErrStateMismatch.Code},
		{"no cookies at all", func(string) lti.LaunchRequest { return lti.LaunchRequest{} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, nonce := f.login(t)
			req := tc.req(state)
			req.IDToken, req.State = f.token(nonce), state
			if _, err := f.svc.Launch(context.Background(), req); codeOf(err) != tc.code {
				t.Fatalf("got %v, want %q", err, tc.code)
			}
		})
	}
}

// A launch reads its registration at most every few seconds: a change
// made through this replica holds for the next launch, one made by
// another replica (here: in the database directly) within five seconds.
func TestLaunchSeesRegistrationChanges(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		launch := func() error {
			state, nonce := f.login(t)
			_, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.token(nonce), State: state})
			return err
		}
		if err := launch(); err != nil {
			t.Fatal(err)
		}
		// Another replica removes the launches' deployment.
		if err := db.W.Model(&lti.Platform{}).Where("id = ?", f.reg.ID).Update("deployment_ids", `["dep-other"]`).Error; err != nil {
			t.Fatal(err)
		}
		if err := launch(); err != nil {
			t.Fatalf("a launch within five seconds of the last read: %v", err)
		}
		f.clock.Advance(6 * time.Second)
		if err := launch(); codeOf(err) != "lti_deployment_unknown" {
			t.Fatalf("a launch after the registration lost its deployment: %v", err)
		}
		// Through this replica: at once.
		if _, err := f.svc.UpdatePlatform(ctx, f.account, f.reg.ID, audit.Actor{Kind: audit.ActorUser, ID: "admin"},
			lti.PlatformInput{DeploymentIDs: &[]string{"dep-1"}}); err != nil {
			t.Fatal(err)
		}
		if err := launch(); err != nil {
			t.Fatalf("a launch right after the registration got its deployment back: %v", err)
		}
	})
}

// A launch without the email and name claims (an LMS's privacy settings)
// takes them from the standard substitution variables in the custom
// parameters person_email_primary, person_name_given and
// person_name_family; a variable the platform did not substitute counts
// as absent.
func TestLaunchPersonFromCustomVariables(t *testing.T) {
	storetest.Each(t, models(), func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.rooms.ResolveFunc = func(_ context.Context, _ string, l resource.Launch) (resource.Resolution, error) {
			return resource.Resolution{ExternalID: "room-" + l.ContextID, Fields: resource.Fields{Type: resource.Room, Title: "Course room"}}, nil
		}
		ctx := context.Background()
		launch := func(custom map[string]any) (*lti.Entered, error) {
			state, nonce := f.login(t)
			c := f.plat.Claims(ltitest.User{Sub: "p1", Roles: []string{ltitest.RoleLearner}}, ltitest.Link{ID: "rl", ContextID: "ctx"}, nonce)
			delete(c, "email")
			delete(c, "given_name")
			delete(c, "family_name")
			delete(c, "name")
			c["https://purl.imsglobal.org/spec/lti/claim/custom"] = custom
			l, err := f.svc.Launch(ctx, lti.LaunchRequest{IDToken: f.plat.Sign(c, ltitest.SignOptions{}), State: state})
			if err != nil {
				return nil, err
			}
			return f.svc.Enter(ctx, l)
		}
		if _, err := launch(map[string]any{lti.CustomEmail: "$Person.email.primary"}); codeOf(err) != "lti_email_missing" {
			t.Fatalf("an unsubstituted email variable: %v", err)
		}
		in, err := launch(map[string]any{lti.CustomEmail: " Pia@Uni.test ", lti.CustomGivenName: "Pia", lti.CustomFamilyName: "Park"})
		if err != nil {
			t.Fatal(err)
		}
		if in.User.Email != "pia@uni.test" || in.User.FirstName != "Pia" || in.User.LastName != "Park" {
			t.Fatalf("the launcher from the custom variables: %+v", in.User)
		}
	})
}
