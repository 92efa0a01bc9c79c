package event_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

type fixture struct {
	db     *store.DB
	svc    *event.Service
	caller event.Caller
	clock  *time.Time
	start  time.Time
	seq    atomic.Int64
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	b, err := account.EnsureFirst(context.Background(), db, "Acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	f := &fixture{db: db, clock: &now, start: now.Add(48 * time.Hour)}
	clock := func() time.Time { return *f.clock }
	sessions, err := session.New(context.Background(), db, session.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = &event.Service{DB: db, Now: clock, Sessions: sessions}
	f.caller = event.Caller{AccountID: b.Account.ID, Actor: audit.Actor{Kind: audit.ActorAPIKey, ID: "k"}}
	return f
}

func (f *fixture) event(t *testing.T, mod func(*event.EventInput)) *event.Event {
	t.Helper()
	in := event.EventInput{
		Name:     fmt.Sprintf("Summit %d", f.seq.Add(1)),
		StartsAt: f.start, EndsAt: f.start.Add(3 * time.Hour), TimeZone: "Europe/Paris",
	}
	if mod != nil {
		mod(&in)
	}
	ev, err := f.svc.CreateEvent(context.Background(), f.caller, in)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func code(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

func TestCreateEvent(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// The gateway migrates at every start: the byte-order search columns
		// must not make a second migration fail or change anything.
		if err := db.Migrate(schema.Models()...); err != nil {
			t.Fatalf("second migration: %v", err)
		}
		if db.Dialect == store.Postgres {
			var coll []string
			db.R.Raw("SELECT COALESCE(collation_name, '') FROM information_schema.columns WHERE table_name = 'attendees' AND column_name IN ('email', 'name_key', 'last_key')").Scan(&coll)
			if fmt.Sprint(coll) != "[C C C]" {
				t.Fatalf("search columns' collations after migrating twice: %v", coll)
			}
		}
		f := setup(t, db)
		ev := f.event(t, func(in *event.EventInput) { in.Name = "Product Launch 2030!" })
		if ev.Slug != "product-launch-2030" || ev.LoginMethod != event.LoginMagicLink || ev.Registration != event.RegistrationOpen ||
			!ev.AdditionalUsers || !ev.ConfirmEmail || ev.Closed {
			t.Fatalf("defaults: %+v", ev)
		}
		off := f.event(t, func(in *event.EventInput) { in.AdditionalUsers = ptr(false); in.Closed = true })
		got, err := event.GetEvent(ctx, db, f.caller.AccountID, off.ID)
		if err != nil || got.AdditionalUsers || !got.Closed {
			t.Fatalf("stored setting: %+v %v", got, err)
		}
		if _, err := f.svc.CreateEvent(ctx, f.caller, event.EventInput{Name: "Other", Slug: ev.Slug, StartsAt: f.start, EndsAt: f.start.Add(time.Hour), TimeZone: "UTC"}); code(err) != "slug_taken" {
			t.Fatalf("want slug_taken, got %v", err)
		}
		_, err = f.svc.CreateEvent(ctx, f.caller, event.EventInput{Name: " ", Slug: "A B", StartsAt: f.start, EndsAt: f.start, TimeZone: "Mars/Olympus", LoginMethod: "password", Registration: "maybe"})
		p, _ := problem.As(err)
		if p == nil || len(p.Details) != 6 {
			t.Fatalf("want 6 field errors, got %+v", err)
		}
		if bs, err := event.BySlug(ctx, db, ev.Slug); err != nil || bs.ID != ev.ID {
			t.Fatalf("by slug: %v", err)
		}
		if list, err := event.ListEvents(ctx, db, f.caller.AccountID); err != nil || len(list) != 2 {
			t.Fatalf("list: %d %v", len(list), err)
		}
		if _, err := event.GetEvent(ctx, db, "other-account", ev.ID); code(err) != "not_found" {
			t.Fatalf("other account sees the event: %v", err)
		}
	})
}

func TestInviteValidation(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		ev := f.event(t, nil)
		long := make([]rune, event.MaxBio+1)
		for i := range long {
			long[i] = 'é'
		}
		for _, tc := range []struct {
			name   string
			in     event.InviteInput
			fields []string
		}{
			{"nothing", event.InviteInput{}, []string{"email", "first_name", "last_name"}},
			{"bad email", event.InviteInput{Email: "x@", Profile: event.Profile{FirstName: "A", LastName: "B"}}, []string{"email"}},
			{"bio too long", event.InviteInput{Email: "s@x.test", Profile: event.Profile{FirstName: "A", LastName: "B", Speaker: true, Bio: string(long)}}, []string{"bio"}},
			{"speaker details without role", event.InviteInput{Email: "s@x.test", Profile: event.Profile{FirstName: "A", LastName: "B", Title: "CTO"}}, []string{"speaker"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Invite(ctx, f.caller, ev.ID, tc.in)
				p, _ := problem.As(err)
				if p == nil || len(p.Details) != len(tc.fields) {
					t.Fatalf("want %v, got %+v", tc.fields, err)
				}
				for i, fe := range p.Details {
					if fe.Field != tc.fields[i] {
						t.Fatalf("want %v, got %+v", tc.fields, p.Details)
					}
				}
			})
		}
		a, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: " Sam@Speaker.TEST", Profile: event.Profile{
			FirstName: "Sam", LastName: "Speaker", Speaker: true, Moderator: true, Title: "CTO", Company: "Acme", Bio: string(long[:event.MaxBio]), ImageRef: "img/1"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Email != "sam@speaker.test" || a.RegistrationType != event.RegInvited || fmt.Sprint(a.Roles()) != "[attendee speaker moderator]" {
			t.Fatalf("attendee %+v", a)
		}
		u, err := user.ByEmail(ctx, db, f.caller.AccountID, "sam@speaker.test")
		if err != nil || u.ID != a.UserID {
			t.Fatalf("user row: %v", err)
		}
		if _, err := f.svc.Invite(ctx, f.caller, ev.ID, event.InviteInput{Email: "sam@speaker.test", Profile: event.Profile{FirstName: "S", LastName: "S"}}); code(err) != "attendee_exists" {
			t.Fatalf("want attendee_exists, got %v", err)
		}
		var n int64
		db.R.Model(&audit.Entry{}).Where("action = ? AND target_id = ?", "attendee.invited", a.ID).Count(&n)
		if n != 1 {
			t.Fatalf("audit entries: %d", n)
		}
	})
}

func TestValidateImage(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 500, 500))
	var pb, jb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	png, jpeg := pb.Bytes(), jb.Bytes()
	webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), make([]byte, 32)...)
	big := append(append([]byte{}, png...), make([]byte, event.MaxImageBytes)...)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"png", png, "image/png"},
		{"jpeg", jpeg, "image/jpeg"},
		{"webp", webp, "image/webp"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), ""},
		{"text", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), ""},
		{"empty", nil, ""},
		{"damaged png", png[:12], ""},
		{"over 2 MB", big, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := event.ValidateImage(tc.b)
			if got != tc.want || (err == nil) != (tc.want != "") {
				t.Fatalf("got %q, %v", got, err)
			}
			if err != nil && code(err) != "invalid" {
				t.Fatalf("want an invalid-input error, got %v", err)
			}
		})
	}
}

// seed inserts an attendee of ev directly in a state, the way the status
// machine would have left it.
func (f *fixture) seed(t *testing.T, ev *event.Event, s event.State, chatTerms bool) *event.Attendee {
	t.Helper()
	email := fmt.Sprintf("p%d@x.test", f.seq.Add(1))
	var u *user.User
	err := f.db.Tx(context.Background(), func(tx *store.Tx) (err error) {
		u, err = user.Resolve(tx, user.Identity{AccountID: ev.AccountID, Email: email, FirstName: "P", LastName: "Q"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	now := *f.clock
	a := &event.Attendee{ID: id.New(), AccountID: ev.AccountID, EventID: ev.ID, UserID: u.ID, Email: event.SearchKey(email),
		FirstName: "P", LastName: "Q", NameKey: "p q", LastKey: "q", RegistrationType: event.RegInvited,
		Status: s.Status, Detail: s.Detail, CreatedAt: now, UpdatedAt: now}
	if chatTerms {
		a.ChatTermsAcceptedAt = &now
	}
	if err := f.db.W.Create(a).Error; err != nil {
		t.Fatal(err)
	}
	return a
}
